#include "elmsim/io/chunk_guard.hpp"

#include <vector>

#include <fmt/format.h>

#include "elmsim/io/hdf5_file.hpp"
#include "elmsim/models/error.hpp"

namespace elm::io {

namespace {

constexpr hsize_t kMaxChunkBytes = (hsize_t{1} << 32) - 1;  // HDF5's limit on one chunk

[[noreturn]] void damaged(const std::string& where, const std::string& what) {
    throw InputError(fmt::format("{}: the chunk index is damaged ({}): the file is corrupted", where, what));
}

// The most bytes a chunk of `raw` bytes can occupy after shuffle, deflate and Fletcher32: zlib's
// compressBound (raw + raw/4096 + raw/16384 + raw/2^25 + 13) with room to spare, plus the checksum.
hsize_t max_stored_bytes(hsize_t raw) { return raw + raw / 1024 + 64; }

}  // namespace

void check_chunk_sizes(hid_t ds, const std::string& where) {
    silence_hdf5_errors();
    H5Handle dcpl(H5Dget_create_plist(ds), H5Pclose);
    if (!dcpl.valid() || H5Pget_layout(dcpl.id()) != H5D_CHUNKED) return;
    H5Handle space(H5Dget_space(ds), H5Sclose);
    H5Handle type(H5Dget_type(ds), H5Tclose);
    const int rank = space.valid() ? H5Sget_simple_extent_ndims(space.id()) : -1;
    if (rank < 0 || !type.valid()) damaged(where, "no readable shape or type");
    if (rank == 0) return;
    std::vector<hsize_t> extent(static_cast<std::size_t>(rank)), chunk(static_cast<std::size_t>(rank));
    if (H5Sget_simple_extent_dims(space.id(), extent.data(), nullptr) < 0 ||
        H5Pget_chunk(dcpl.id(), rank, chunk.data()) != rank)
        damaged(where, "the chunk shape does not match the dataset's rank");
    hsize_t raw = H5Tget_size(type.id());
    hsize_t chunks = 1;
    for (int d = 0; d < rank; ++d) {
        const hsize_t c = chunk[static_cast<std::size_t>(d)];
        if (c == 0 || raw > kMaxChunkBytes / c) damaged(where, "a chunk shape over HDF5's 4 GiB per chunk");
        raw *= c;
        const hsize_t n = (extent[static_cast<std::size_t>(d)] + c - 1) / c;
        if (n == 0) return;  // an empty dataset reads no chunk
        chunks *= n;         // cannot overflow: the extent's element count already fits in hsize_t
    }
    const hsize_t limit = max_stored_bytes(raw);
    // Visit the chunk grid in row-major order: exactly the chunks a full read touches.
    std::vector<hsize_t> offset(static_cast<std::size_t>(rank), 0);
    for (hsize_t i = 0; i < chunks; ++i) {
        hsize_t nbytes = 0;
        // A chunk never written (fill value) has no storage; an index HDF5 cannot search is left to the
        // read, which reports it.
        if (H5Dget_chunk_storage_size(ds, offset.data(), &nbytes) >= 0 && nbytes > limit)
            damaged(where, fmt::format("a chunk of {} bytes claims {} bytes of storage", raw, nbytes));
        for (int d = rank - 1; d >= 0; --d) {
            const auto k = static_cast<std::size_t>(d);
            offset[k] += chunk[k];
            if (offset[k] < extent[k]) break;
            offset[k] = 0;
        }
    }
}

}  // namespace elm::io
