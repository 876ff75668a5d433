// libFuzzer target: an SHD-format spike file (io::read_spike_dataset), whose spike arrays live in the
// HDF5 global heap (io/vlen_guard.hpp). Read or refused with an InputError.
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/error.hpp"
#include "tests/fuzz/fuzz_input_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const std::string& path = elm::fuzz::write_input(data, size);
        if (elm::fuzz::read_in_isolation(path)) return 0;
        elm::io::read_spike_dataset(path);
    } catch (const elm::InputError&) {
    }
    return 0;
}
