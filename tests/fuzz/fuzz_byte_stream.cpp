// libFuzzer target: a byte stream file (io::ByteStream) split and read back whole.
#include <vector>

#include "elmsim/io/byte_stream.hpp"
#include "elmsim/models/error.hpp"
#include "tests/fuzz/fuzz_input_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const elm::io::ByteStream s(elm::fuzz::write_input(data, size));
        for (const auto split : {elm::io::Split::train, elm::io::Split::valid, elm::io::Split::test}) {
            std::vector<std::uint8_t> buf(static_cast<std::size_t>(s.size(split)));
            if (!buf.empty()) s.read(split, 0, s.size(split), buf.data());
            if (size && !buf.empty() && buf[0] != data[s.begin(split)]) __builtin_trap();  // what was written
        }
    } catch (const elm::InputError&) {
    }
    return 0;
}
