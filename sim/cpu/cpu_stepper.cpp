#include "elmsim/sim/cpu/cpu_stepper.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "elmsim/sim/cpu/readout.hpp"

namespace elm::sim::cpu {

namespace {

// Rows [0, n) of every neuron's block of rows (w floats each): at i rows_from w in the source, at
// i rows_to w in the destination.
void copy_row_blocks(const std::vector<float>& from, int rows_from, std::vector<float>& to, int rows_to, int n,
                     std::size_t w, int N) {
    if (from.empty()) return;
    for (std::size_t i = 0; i < static_cast<std::size_t>(N); ++i)
        std::copy_n(from.begin() + static_cast<std::ptrdiff_t>(i * rows_from * w), n * w,
                    to.begin() + static_cast<std::ptrdiff_t>(i * rows_to * w));
}

void check_rows(const models::ModelConfig& cfg, const NetworkState<float>& s, int B) {
    const SlotSizes z = slot_sizes(cfg, s.B);
    if (s.B < 1 || s.B > B || s.b.size() != z.b || s.m.size() != z.m || s.v.size() != z.y || s.y.size() != z.y)
        throw std::invalid_argument(fmt::format("Stepper: a state of {} rows for a stepper of {}, or of the wrong size", s.B, B));
}

}  // namespace

CpuStepper::CpuStepper(const models::Network<float>& net, Executor& ex, int B, const std::uint64_t* params_version)
    : net_(net), ex_(ex), B_(B), params_version_(params_version), seen_version_(*params_version) {
    if (B < 1) throw std::invalid_argument(fmt::format("CpuStepper: {} streams, expected >= 1", B));
    const auto& cfg = net.cfg;
    const bool lif = cfg.output_mode == models::OutputMode::lif;
    const std::size_t slot = static_cast<std::size_t>(cfg.N) * B;
    ws_.resize(cfg);
    a_.assign(lif ? 0 : slot * cfg.l * cfg.d_h, 0.0f);
    dm_.assign(lif ? 0 : slot * cfg.d_m, 0.0f);
    logits_.assign(static_cast<std::size_t>(B) * cfg.n_out, 0.0f);
    const std::size_t entry_bytes =
        sizeof(StepDecays<float>) + (lif ? 0 : 4 * sizeof(float) * static_cast<std::size_t>(cfg.N) * cfg.d_m);
    cache_capacity_ = std::clamp<std::size_t>(kDecayCacheBytes / entry_bytes, kDecayCacheMin, kDecayCacheMax);
    reset();
}

void CpuStepper::reset() {
    prev_.reset(net_.cfg, B_);
    next_.reset(net_.cfg, B_);
    readout();  // the readout of the zero state (b_o): what a prompt-less generator samples from
}

const StepDecays<float>& CpuStepper::decays_for(double dt_ms) {
    auto& slot = cache_[dt_ms];
    if (!slot) {
        slot = std::make_unique<StepDecays<float>>();
        compute_decays(net_, dt_ms, *slot);
        ++decay_computations_;
    }
    return *slot;
}

void CpuStepper::readout() {
    // The trainer's own readout on one step, so the floats agree with evaluation.
    readout_forward(net_, ws_, prev_.y.data(), 1, B_, logits_.data(), ex_);
}

void CpuStepper::advance(double dt_ms, const float* x) {
    dt_rows_.assign(static_cast<std::size_t>(B_), dt_ms);
    advance_rows(dt_rows_.data(), B_, x);
}

void CpuStepper::advance_rows(const double* dt_ms, int active, const float* x) {
    if (active < 0 || active > B_)
        throw std::invalid_argument(fmt::format("Stepper: {} updating rows of {}", active, B_));
    for (int b = 0; b < active; ++b)
        if (!(dt_ms[b] > 0.0) || !std::isfinite(dt_ms[b]))
            throw std::invalid_argument(fmt::format("Stepper: an update of dt = {} ms, expected > 0", dt_ms[b]));
    if (*params_version_ != seen_version_) {  // the parameters changed: re-derive what depends on them
        cache_.clear();
        ws_.prepared = false;
        seen_version_ = *params_version_;
    }
    // Emptied only when full, and never within an update (its rows point into it): at most
    // cache_capacity_ + B entries.
    if (cache_.size() >= cache_capacity_) cache_.clear();
    rows_.assign(static_cast<std::size_t>(B_), nullptr);
    for (int b = 0; b < active; ++b)  // rows with the dt of the row before share its lookup
        rows_[b] = b > 0 && dt_ms[b] == dt_ms[b - 1] ? rows_[b - 1] : &decays_for(dt_ms[b]);
    const StepTiming<float> timing = make_step_timing<float>(rows_.data(), active);
    const StepSlots<float> slots{prev_.b.data(), prev_.m.data(), prev_.v.data(), prev_.y.data(),  // read
                                 next_.b.data(), next_.m.data(), next_.v.data(), next_.y.data(),  // written
                                 a_.data(),      dm_.data()};
    network_step_forward(net_, timing, x, B_, slots, ws_, ex_);
    std::swap(prev_, next_);  // swaps the vectors' buffers: no copy, no allocation
    readout();
}

void CpuStepper::write_rows(const NetworkState<float>& s) {
    const auto& cfg = net_.cfg;
    check_rows(cfg, s, B_);
    copy_row_blocks(s.b, s.B, prev_.b, B_, s.B, cfg.n_b, cfg.N);
    copy_row_blocks(s.m, s.B, prev_.m, B_, s.B, cfg.d_m, cfg.N);
    copy_row_blocks(s.v, s.B, prev_.v, B_, s.B, 1, cfg.N);
    copy_row_blocks(s.y, s.B, prev_.y, B_, s.B, 1, cfg.N);
}

void CpuStepper::read_rows(NetworkState<float>& s) const {
    const auto& cfg = net_.cfg;
    check_rows(cfg, s, B_);
    copy_row_blocks(prev_.b, B_, s.b, s.B, s.B, cfg.n_b, cfg.N);
    copy_row_blocks(prev_.m, B_, s.m, s.B, s.B, cfg.d_m, cfg.N);
    copy_row_blocks(prev_.v, B_, s.v, s.B, s.B, 1, cfg.N);
    copy_row_blocks(prev_.y, B_, s.y, s.B, s.B, 1, cfg.N);
}

StepperView CpuStepper::view() const {
    StepperView v;
    v.B = B_;
    v.y = prev_.y.data();
    v.v = prev_.v.data();
    v.m = prev_.m.empty() ? nullptr : prev_.m.data();
    v.b = prev_.b.empty() ? nullptr : prev_.b.data();
    v.logits = logits_.data();
    return v;
}

}  // namespace elm::sim::cpu
