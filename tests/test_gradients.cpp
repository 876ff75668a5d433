// Finite-difference gradient checks in float64 (spec section 7): every parameter tensor, every loss
// mode, ReLU and SiLU, more than one hidden layer, the byte embedding, and a non-zero carried state.
// They run the CPU backend's float64 reference engine (sim::cpu::Learner<double>): float64 exists only
// there, for exactly these checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "elmsim/models/network.hpp"
#include "elmsim/sim/cpu/learner.hpp"

using namespace elm;
using models::ModelConfig;
using models::TensorId;

namespace {

models::Batch random_batch(const ModelConfig& cfg, int T, int B, models::LossMode mode, std::uint64_t seed) {
    Rng rng(seed, 7);
    models::Batch batch;
    batch.T = T;
    batch.B = B;
    batch.C = cfg.C;
    if (cfg.C_e > 0) {
        batch.tokens.resize(static_cast<std::size_t>(T) * B);
        for (auto& t : batch.tokens) t = static_cast<std::uint8_t>(rng.below(256));
    } else {
        batch.x.resize(static_cast<std::size_t>(T) * B * cfg.C);
        // Sparse event counts, as binned spikes are.
        for (auto& v : batch.x) v = rng.uniform() < 0.2 ? static_cast<float>(1 + rng.below(2)) : 0.0f;
    }
    const std::size_t nt = mode == models::LossMode::next_byte ? static_cast<std::size_t>(T) * B : B;
    batch.targets.resize(nt);
    for (auto& t : batch.targets) t = static_cast<std::int32_t>(rng.below(cfg.n_out));
    return batch;
}

// Loss as a function of the parameters (fresh state each time, optionally a non-zero start state).
double loss_of(sim::cpu::Learner<double>& learner, const models::Batch& batch, const sim::RunOptions& opt,
               const sim::NetworkState<double>* start) {
    sim::NetworkState<double> carry;
    if (start) carry = *start;
    return learner.run(batch, opt, start ? &carry : nullptr, nullptr, nullptr).loss();
}

void check_gradients(ModelConfig cfg, models::LossMode mode, int T, bool nonzero_start, bool soft_spikes = false) {
    auto net = models::make_network<double>(cfg);
    // Make b_o and c non-trivial and move tau_m away from its initial values.
    Rng rng(99, 3);
    for (auto& p : net.params) p += 0.05 * (rng.uniform() - 0.5);
    sim::cpu::Executor ex(1);
    sim::cpu::Learner<double> learner(net, ex);
    const int B = 2;
    const auto batch = random_batch(cfg, T, B, mode, 11);
    sim::RunOptions opt;
    opt.loss = mode;
    opt.last_k = 3;
    opt.soft_spikes = soft_spikes;
    sim::NetworkState<double> start;
    if (nonzero_start) {
        start.reset(cfg, B);
        for (auto* v : {&start.b, &start.m, &start.v, &start.y})
            for (auto& s : *v) s = rng.uniform(-0.5, 0.5);
    }
    const sim::NetworkState<double>* sp = nonzero_start ? &start : nullptr;

    std::vector<double> grads(net.params.size(), 0.0);
    sim::NetworkState<double> carry;
    if (sp) carry = start;
    learner.run(batch, opt, sp ? &carry : nullptr, grads.data(), nullptr);

    for (const auto* spec : net.layout.tensors()) {
        if (!spec->trainable) continue;
        // Up to 24 entries spread over the tensor.
        const std::size_t stride = std::max<std::size_t>(1, spec->size / 24);
        for (std::size_t k = 0; k < spec->size; k += stride) {
            const std::size_t idx = spec->offset + k;
            const double old = net.params[idx];
            const double h = 1e-6 * std::max(1.0, std::abs(old));
            net.params[idx] = old + h;
            const double lp = loss_of(learner, batch, opt, sp);
            net.params[idx] = old - h;
            const double lm = loss_of(learner, batch, opt, sp);
            net.params[idx] = old;
            const double fd = (lp - lm) / (2 * h);
            const double an = grads[idx];
            INFO("tensor " << spec->name << "[" << k << "] analytic " << an << " finite-difference " << fd);
            // Central differences in float64 with h = 1e-6 are accurate to ~1e-8 absolute here.
            CHECK(std::abs(an - fd) <= 1e-6 + 1e-5 * std::abs(fd));
        }
    }
}

ModelConfig small_config() {
    ModelConfig cfg;
    cfg.N = 6;
    cfg.C = 10;
    cfg.n_out = 4;
    cfg.d_m = 3;
    cfg.d_h = 5;
    cfg.n_b = 2;
    cfg.k_c = 6;
    cfg.dt_ms = 4.0;
    cfg.tau_init_min_ms = 2.0;
    cfg.tau_init_max_ms = 40.0;
    cfg.tau_max_ms = 100.0;
    cfg.seed = 5;
    return cfg;
}

}  // namespace

TEST_CASE("gradients match finite differences: last-step loss, ReLU", "[grad]") {
    check_gradients(small_config(), models::LossMode::last, 7, false);
}

TEST_CASE("gradients match finite differences: mean of last K, SiLU, two hidden layers", "[grad]") {
    auto cfg = small_config();
    cfg.phi = models::Phi::silu;
    cfg.l = 2;
    check_gradients(cfg, models::LossMode::mean_last_k, 7, false);
}

TEST_CASE("gradients match finite differences: carried state, three layers", "[grad]") {
    auto cfg = small_config();
    cfg.phi = models::Phi::silu;
    cfg.l = 3;
    check_gradients(cfg, models::LossMode::last, 5, true);
}

TEST_CASE("gradients match finite differences: next-byte loss with embedding", "[grad]") {
    auto cfg = small_config();
    cfg.C = 256;
    cfg.C_e = 3;
    cfg.n_out = 256;
    cfg.phi = models::Phi::silu;
    check_gradients(cfg, models::LossMode::next_byte, 6, true);
}

TEST_CASE("gradients match finite differences: next-byte loss, one-hot bytes, fixed tau_m", "[grad]") {
    auto cfg = small_config();
    cfg.C = 256;
    cfg.n_out = 256;
    cfg.learn_tau_m = false;
    check_gradients(cfg, models::LossMode::next_byte, 6, false);
}

// Spiking paths: the forward uses soft_spike, whose derivative is exactly the surrogate
// 1 / (1 + beta |v - theta|)^2, so finite differences check the surrogate backward of spec section 2/6.
TEST_CASE("gradients match finite differences: spike output through the surrogate", "[grad][spike]") {
    auto cfg = small_config();
    cfg.output_mode = models::OutputMode::spike;
    cfg.phi = models::Phi::silu;
    cfg.theta = 0.05;
    check_gradients(cfg, models::LossMode::mean_last_k, 7, true, true);
}

TEST_CASE("gradients match finite differences: LIF baseline through the surrogate, reset in the graph", "[grad][lif]") {
    auto cfg = small_config();
    cfg.output_mode = models::OutputMode::lif;
    cfg.tau_v_ms = 8.0;
    check_gradients(cfg, models::LossMode::last, 8, true, true);
    check_gradients(cfg, models::LossMode::mean_last_k, 8, false, true);
}
