// libFuzzer target: one request line of `elmsim serve` (sim/serve/protocol.hpp). Every input is
// parsed or refused with a ProtocolError; nothing else may happen.
#include <cstdint>
#include <string_view>

#include "elmsim/sim/serve/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    elm::serve::ProtocolLimits limits;
    limits.channels = 700;
    limits.neurons = 64;
    try {
        elm::serve::parse_request(std::string_view(reinterpret_cast<const char*>(data), size), limits);
    } catch (const elm::serve::ProtocolError&) {
    }
    return 0;
}
