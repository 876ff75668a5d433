// Text generation from a byte model as a library call (`elmsim generate`): the prompt is fed one
// byte per update (clock mode, dt of the model), then each next byte is drawn from
// softmax(logits / temperature) and fed back.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "elmsim/models/rng.hpp"

namespace elm::workflow {

struct GenerateRequest {
    std::string model_path;
    std::string prompt;
    std::int64_t length = 200;   // bytes to generate, 0 .. 1e9
    double temperature = 0.8;    // 0 = argmax
    std::uint64_t seed = 1;
    std::optional<std::int64_t> threads;
    std::string backend = "cpu";
};

// softmax(logits / temperature) sampled with rng; temperature 0 = argmax.
int sample_byte(const float* logits, int n, double temperature, Rng& rng);

// Generates request.length bytes, handed to `sink` in pieces of up to 64 KiB as they are made.
// ParameterError ("temperature", "length") or InputError (not a byte model) before any work.
void generate_text(const GenerateRequest& request, const std::function<void(std::string_view)>& sink);

}  // namespace elm::workflow
