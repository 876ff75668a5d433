// libFuzzer target: a sweep config (TOML, io::parse_sweep_config; its base experiment is looked up
// relative to /nonexistent, so only the sweep file itself is parsed). Parsed or refused.
#include <string>

#include "elmsim/io/sweep_config.hpp"
#include "elmsim/models/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        elm::io::parse_sweep_config(std::string(reinterpret_cast<const char*>(data), size), "fuzz", "/nonexistent");
    } catch (const elm::InputError&) {
    }
    return 0;
}
