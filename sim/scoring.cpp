#include "elmsim/sim/scoring.hpp"

#include <algorithm>
#include <stdexcept>

namespace elm::sim {

int argmax(const float* v, int n) { return static_cast<int>(std::max_element(v, v + n) - v); }

SampleScorer::SampleScorer(models::LossMode mode, int last_k, int n_out)
    : mode_(mode), keep_(mode == models::LossMode::mean_last_k ? std::max(1, last_k) : 1), n_out_(n_out),
      ring_(static_cast<std::size_t>(keep_) * n_out, 0.0f), rows_ordered_(ring_.size()) {
    if (mode == models::LossMode::next_byte)
        throw std::invalid_argument("SampleScorer: next_byte scores every update, not a sample");
}

void SampleScorer::reset() { pushed_ = 0; }

void SampleScorer::push(const float* logits) {
    const std::size_t slot = static_cast<std::size_t>(pushed_ % keep_) * n_out_;
    std::copy(logits, logits + n_out_, ring_.begin() + static_cast<std::ptrdiff_t>(slot));
    ++pushed_;
}

int SampleScorer::ordered_rows() const {
    if (pushed_ == 0) throw std::logic_error("SampleScorer: no update to score");
    const int rows = static_cast<int>(std::min<std::int64_t>(pushed_, keep_));
    const std::int64_t oldest = pushed_ - rows;
    for (int r = 0; r < rows; ++r) {
        const auto src = ring_.begin() + static_cast<std::ptrdiff_t>(((oldest + r) % keep_) * n_out_);
        std::copy(src, src + n_out_, rows_ordered_.begin() + static_cast<std::ptrdiff_t>(r) * n_out_);
    }
    return rows;
}

LossStats SampleScorer::score(std::int32_t target) const {
    const int rows = ordered_rows();
    return compute_loss<float>(mode_, rows_ordered_.data(), rows, 1, n_out_, &target, nullptr);
}

int SampleScorer::prediction() const {
    const int rows = ordered_rows();
    std::int32_t predicted = 0;
    const std::int32_t any_target = 0;
    compute_loss<float>(mode_, rows_ordered_.data(), rows, 1, n_out_, &any_target, nullptr, &predicted);
    return predicted;
}

}  // namespace elm::sim
