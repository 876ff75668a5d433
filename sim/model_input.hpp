// ModelInput: input impulses on a task's RAW channels (700 spike channels, 256 byte values) turned
// into the model's input row — counts per channel, which with a byte embedding (C_e > 0) become
// sum_c count_c E[c] (for one byte exactly its embedding row, as the trainer feeds it). Written into
// one column of a [C_model][stride] block, so the Simulator (one stream, stride 1) and the
// StreamBatcher (one row of many sessions, stride B) build the same floats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "elmsim/sim/backend.hpp"

namespace elm::sim {

class ModelInput {
public:
    // The backend must outlive this; its embedding rows are re-read when its parameters change.
    explicit ModelInput(Backend& backend);

    int raw_channels() const { return C_raw_; }
    int width() const { return C_model_; }  // the model's input width (C_e with an embedding)

    // InputError naming `time_ms` for a channel outside [0, raw_channels()).
    void check(const std::int32_t* channels, std::size_t n, double time_ms) const;
    // x[j * stride] for j < width() := the model input of the impulses (channels[k], counts[k]) added
    // to it (x must hold zeros where the impulses land, as clear() leaves it).
    void add(const std::int32_t* channels, const float* counts, std::size_t n, float* x, std::size_t stride);
    // Back to zero where add() wrote (an update costs its impulses, not C; with an embedding the whole
    // column).
    void clear(const std::int32_t* channels, std::size_t n, float* x, std::size_t stride) const;

private:
    void refresh_embedding();

    Backend& backend_;
    int C_raw_, C_model_;
    std::vector<float> embedding_;         // [256][C_e] host copy of the byte embedding (C_e > 0)
    std::uint64_t embedding_version_ = 0;  // the backend's params_version() of that copy
};

}  // namespace elm::sim
