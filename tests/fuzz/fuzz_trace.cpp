// libFuzzer target: a trace file (io::read_trace). Read or refused with an InputError.
#include "elmsim/io/trace_reader.hpp"
#include "elmsim/models/error.hpp"
#include "tests/fuzz/fuzz_input_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        elm::io::read_trace(elm::fuzz::write_input(data, size));
    } catch (const elm::InputError&) {
    }
    return 0;
}
