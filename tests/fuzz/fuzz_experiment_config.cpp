// libFuzzer target: an experiment config (TOML, io::parse_experiment_config). Parsed or refused with
// an InputError (ParameterError included).
#include <string>

#include "elmsim/io/experiment_config.hpp"
#include "elmsim/models/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        elm::io::parse_experiment_config(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    } catch (const elm::InputError&) {
    }
    return 0;
}
