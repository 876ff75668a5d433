// libFuzzer target: a trace file (io::read_trace). Read or refused with an InputError.
#include "elmsim/io/trace_reader.hpp"
#include "elmsim/models/error.hpp"
#include "tests/fuzz/fuzz_input_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const std::string& path = elm::fuzz::write_input(data, size);
        if (elm::fuzz::read_in_isolation(path)) return 0;
        elm::io::read_trace(path);
    } catch (const elm::InputError&) {
    }
    return 0;
}
