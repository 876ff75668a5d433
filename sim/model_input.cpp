#include "elmsim/sim/model_input.hpp"

#include <fmt/format.h>

#include "elmsim/models/error.hpp"

namespace elm::sim {

ModelInput::ModelInput(Backend& backend)
    : backend_(backend), C_raw_(backend.config().C_e > 0 ? 256 : backend.config().C),
      C_model_(backend.config().input_width()) {
    if (backend.config().C_e > 0) refresh_embedding();
}

void ModelInput::refresh_embedding() {
    std::vector<float> params(backend_.layout().total_size());
    backend_.read_params(params);
    const auto& spec = backend_.layout()[models::TensorId::embedding];
    embedding_.assign(params.begin() + static_cast<std::ptrdiff_t>(spec.offset),
                      params.begin() + static_cast<std::ptrdiff_t>(spec.offset + spec.size));
    embedding_version_ = backend_.params_version();
}

void ModelInput::check(const std::int32_t* channels, std::size_t n, double time_ms) const {
    for (std::size_t k = 0; k < n; ++k)
        if (channels[k] < 0 || channels[k] >= C_raw_)
            throw InputError(fmt::format("input event on channel {} at {} ms: the model reads channels 0..{}",
                                         channels[k], time_ms, C_raw_ - 1));
}

void ModelInput::add(const std::int32_t* channels, const float* counts, std::size_t n, float* x, std::size_t stride) {
    if (embedding_.empty()) {
        for (std::size_t k = 0; k < n; ++k) x[static_cast<std::size_t>(channels[k]) * stride] += counts[k];
        return;
    }
    if (backend_.params_version() != embedding_version_) refresh_embedding();
    // sum_c count_c E[c]: for a single byte exactly its embedding row (0 + 1 * e = e).
    for (std::size_t k = 0; k < n; ++k) {
        const float* row = embedding_.data() + static_cast<std::size_t>(channels[k]) * C_model_;
        const float c = counts[k];
        for (int j = 0; j < C_model_; ++j) x[static_cast<std::size_t>(j) * stride] += c * row[j];
    }
}

void ModelInput::clear(const std::int32_t* channels, std::size_t n, float* x, std::size_t stride) const {
    if (embedding_.empty()) {
        for (std::size_t k = 0; k < n; ++k) x[static_cast<std::size_t>(channels[k]) * stride] = 0.0f;
        return;
    }
    for (int j = 0; j < C_model_; ++j) x[static_cast<std::size_t>(j) * stride] = 0.0f;
}

}  // namespace elm::sim
