#include "elmsim/io/object_header.hpp"

#include <cstring>
#include <set>
#include <vector>

#include <fmt/format.h>

namespace elm::io {
namespace {

constexpr unsigned kAttribute = 0x000C;
constexpr unsigned kContinuation = 0x0010;
constexpr unsigned kAttributeInfo = 0x0015;
constexpr unsigned kSharedFlag = 0x02;
constexpr std::size_t kMaxChunks = 1024;
constexpr std::uint64_t kMaxChunkBytes = std::uint64_t{1} << 26;

std::uint64_t align8(std::uint64_t n) { return (n + 7) / 8 * 8; }

struct Chunk {
    std::uint64_t at = 0, size = 0;  // where its messages lie
};

class HeaderWalk {
public:
    HeaderWalk(const RawFile& f, std::size_t addr, std::size_t length, const std::string& name)
        : f_(f), addr_(addr), length_(length), name_(name) {}

    AttributeBytes run(std::uint64_t header_at) {
        unsigned char prefix[16];
        if (!f_.read(header_at, 5, prefix)) return damaged(fmt::format("an object header at {} lies outside the file", header_at));
        std::vector<Chunk> todo;
        if (std::memcmp(prefix, "OHDR", 4) == 0) {
            if (prefix[4] != 2) return damaged(fmt::format("an object header of version {}", prefix[4]));
            v2_ = true;
            unsigned char flags = 0;
            if (!f_.read(header_at + 5, 1, &flags)) return damaged("a truncated object header");
            crt_order_ = (flags & 0x04) != 0;
            std::uint64_t pos = header_at + 6 + ((flags & 0x20) ? 16 : 0) + ((flags & 0x10) ? 4 : 0);
            const std::size_t width = std::size_t{1} << (flags & 3);
            unsigned char w[8];
            if (!f_.read(pos, width, w)) return damaged("a truncated object header");
            todo.push_back({pos + width, little_endian(w, width)});
        } else {
            if (prefix[0] != 1) return damaged(fmt::format("an object header of version {}", prefix[0]));
            if (!f_.read(header_at, 16, prefix)) return damaged("a truncated object header");
            todo.push_back({header_at + 16, little_endian(prefix + 8, 4)});
        }
        std::set<std::uint64_t> seen;
        while (!todo.empty() && result_.found != AttributeBytes::Found::yes && result_.damage.empty()) {
            const Chunk c = todo.back();
            todo.pop_back();
            if (!seen.insert(c.at).second || seen.size() > kMaxChunks)
                return damaged(fmt::format("object header continuations loop at {}", c.at));
            walk_chunk(c, todo);
        }
        if (result_.damage.empty() && result_.found == AttributeBytes::Found::no && elsewhere_)
            result_.found = AttributeBytes::Found::elsewhere;
        return result_;
    }

private:
    AttributeBytes damaged(std::string what) {
        result_.damage = std::move(what);
        result_.found = AttributeBytes::Found::no;
        return result_;
    }

    // The messages of one chunk; continuations go onto `todo`.
    void walk_chunk(const Chunk& c, std::vector<Chunk>& todo) {
        if (c.size > kMaxChunkBytes) return void(damaged(fmt::format("an object header chunk of {} bytes", c.size)));
        std::vector<unsigned char> b(static_cast<std::size_t>(c.size));
        if (!f_.read(c.at, b.size(), b.data()))
            return void(damaged(fmt::format("an object header chunk at {} lies outside the file", c.at)));
        const std::size_t head = v2_ ? (crt_order_ ? 6 : 4) : 8;
        std::size_t off = 0;
        while (off + head <= b.size()) {
            const unsigned char* m = b.data() + off;
            const unsigned type = v2_ ? m[0] : static_cast<unsigned>(little_endian(m, 2));
            const std::size_t size = static_cast<std::size_t>(little_endian(m + (v2_ ? 1 : 2), 2));
            const unsigned flags = v2_ ? m[3] : m[4];
            if (size > b.size() - off - head)
                return void(damaged(fmt::format("an object header message of {} bytes overruns its chunk at {}", size, c.at)));
            const unsigned char* data = m + head;
            if (type == kContinuation) {
                if (size < addr_ + length_) return void(damaged("a short object header continuation"));
                Chunk next{little_endian(data, addr_), little_endian(data + addr_, length_)};
                if (v2_) {  // "OCHK", the messages, a checksum
                    unsigned char sig[4];
                    if (next.size < 8 || !f_.read(next.at, 4, sig) || std::memcmp(sig, "OCHK", 4) != 0)
                        return void(damaged(fmt::format("no object header continuation at {}", next.at)));
                    next.at += 4;
                    next.size -= 8;
                }
                todo.push_back(next);
            } else if (type == kAttributeInfo) {
                elsewhere_ = elsewhere_ || has_dense_storage(data, size);
            } else if (type == kAttribute && (flags & kSharedFlag)) {
                elsewhere_ = true;
            } else if (type == kAttribute && match(data, size, c.at + off + head)) {
                return;
            }
            off += head + size;
        }
    }

    // Whether an attribute info message names a fractal heap of attributes (its address is not the
    // undefined one, all bits set). One it cannot tell about counts as dense.
    bool has_dense_storage(const unsigned char* data, std::size_t size) const {
        if (size < 2) return true;
        const std::size_t heap = 2 + ((data[1] & 0x01) ? 2 : 0);
        if (heap + addr_ > size) return true;
        const std::uint64_t undefined = addr_ == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * addr_)) - 1;
        return little_endian(data + heap, addr_) != undefined;
    }

    // Whether the attribute message at `data` is `name_`; when it is, result_ says where its value is.
    bool match(const unsigned char* data, std::size_t size, std::uint64_t data_at) {
        if (size < 8) return false;
        const unsigned version = data[0];
        if (version < 1 || version > 3) return false;
        const std::uint64_t name_size = little_endian(data + 2, 2);
        const std::uint64_t type_size = little_endian(data + 4, 2);
        const std::uint64_t space_size = little_endian(data + 6, 2);
        const std::uint64_t fixed = version == 3 ? 9 : 8;
        if (name_size != name_.size() + 1 || fixed + name_size > size) return false;
        if (std::memcmp(data + fixed, name_.data(), name_.size()) != 0) return false;
        const std::uint64_t value = version == 1 ? fixed + align8(name_size) + align8(type_size) + align8(space_size)
                                                 : fixed + name_size + type_size + space_size;
        if (value > size) {
            damaged(fmt::format("attribute '{}' is longer than its message", name_));
            return true;
        }
        result_.found = AttributeBytes::Found::yes;
        result_.at = data_at + value;
        result_.size = size - value;
        return true;
    }

    const RawFile& f_;
    std::size_t addr_, length_;
    const std::string& name_;
    bool v2_ = false, crt_order_ = false, elsewhere_ = false;
    AttributeBytes result_;
};

}  // namespace

AttributeBytes find_attribute_value(const RawFile& f, std::uint64_t header_at, std::size_t addr_size,
                                    std::size_t length_size, const std::string& name) {
    if (addr_size < 1 || addr_size > 8 || length_size < 1 || length_size > 8) {
        AttributeBytes r;
        r.damage = "offsets or lengths of an unsupported size";
        return r;
    }
    return HeaderWalk(f, addr_size, length_size, name).run(header_at);
}

}  // namespace elm::io
