// libFuzzer target: an SHD-format spike file (io::read_spike_dataset), whose spike arrays live in the
// HDF5 global heap (io/vlen_guard.hpp). Read or refused with an InputError.
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/error.hpp"
#include "tests/fuzz/fuzz_input_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        elm::io::read_spike_dataset(elm::fuzz::write_input(data, size));
    } catch (const elm::InputError&) {
    }
    return 0;
}
