// Recomputation (checkpointing every K steps) must give exactly the gradients of the full tape —
// the carried gradients flow through the stretches in the same order — while storing less.
#include <catch2/catch.hpp>

#include <algorithm>
#include <tuple>

#include "elmsim/models/network.hpp"
#include "tests/backend_helpers.hpp"

using namespace elm;

namespace {
models::Batch token_batch(int T, int B, std::uint64_t seed) {
    Rng rng(seed, 2);
    models::Batch b;
    b.T = T;
    b.B = B;
    b.C = 256;
    b.tokens.resize(static_cast<std::size_t>(T) * B);
    for (auto& t : b.tokens) t = static_cast<std::uint8_t>(rng.below(256));
    b.targets.resize(static_cast<std::size_t>(T) * B);
    for (auto& t : b.targets) t = static_cast<std::int32_t>(rng.below(256));
    return b;
}
}  // namespace

TEST_CASE("recomputation gives bit-identical gradients with less activation memory", "[engine][recompute]") {
    models::ModelConfig cfg;
    cfg.N = 12;
    cfg.C = 256;
    cfg.C_e = 6;
    cfg.n_out = 256;
    cfg.d_m = 5;
    cfg.d_h = 9;
    cfg.n_b = 2;
    cfg.k_c = 8;
    cfg.l = 2;
    cfg.dt_ms = 1.0;
    cfg.tau_init_max_ms = 1000.0;
    const auto net = models::make_network<float>(cfg);
    const auto batch = token_batch(37, 3, 8);
    sim::RunOptions opt;
    opt.loss = models::LossMode::next_byte;
    opt.dropout = 0.2;

    auto run = [&](int K, std::size_t* bytes) {
        const auto backend = test::backend_for(net, 2);
        backend->zero_gradients();
        sim::NetworkState<float> start;
        start.reset(cfg, batch.B);
        start.m.assign(start.m.size(), 0.25f);
        const auto carry = backend->make_carry();
        carry->write(start);
        Rng rng(1, 1);
        opt.recompute_every = K;
        const double loss = backend->step(batch, opt, carry.get(), true, &rng).loss();
        *bytes = backend->activation_bytes();
        const std::vector<float> g(backend->gradients().begin(), backend->gradients().end());
        return std::make_tuple(loss, g, carry->read().m);
    };
    std::size_t full_bytes = 0;
    const auto [loss0, g0, m0] = run(0, &full_bytes);
    for (int K : {1, 4, 6, 36, 37}) {
        std::size_t bytes = 0;
        const auto [loss, g, m] = run(K, &bytes);
        INFO("K = " << K);
        CHECK(loss == loss0);
        CHECK(g == g0);
        CHECK(m == m0);  // the carried state after the window is the same
        if (K > 1 && K < 37) CHECK(bytes < full_bytes);
    }
    std::size_t bytes6 = 0;
    run(6, &bytes6);
    CHECK(bytes6 * 3 < full_bytes);
}

TEST_CASE("inference without a tape gives the taped forward's logits, loss and carried state bit for bit",
          "[engine][recompute]") {
    for (auto mode : {models::OutputMode::analog, models::OutputMode::spike, models::OutputMode::lif}) {
        models::ModelConfig cfg;
        cfg.N = 16;
        cfg.C = 256;
        cfg.C_e = 6;
        cfg.n_out = 256;
        cfg.d_m = 7;  // not a multiple of the vector width: the tanh tail is exercised
        cfg.d_h = 10;
        cfg.n_b = 2;
        cfg.k_c = 8;
        cfg.dt_ms = 1.0;
        cfg.output_mode = mode;
        cfg.theta = 0.05;
        auto net = models::make_network<float>(cfg);
        for (auto& p : net.params) p *= 1.5f;  // livelier dynamics, so spiking nets fire
        const auto batch = token_batch(29, 3, 12);
        for (const bool all_logits : {false, true}) {
            for (const auto loss : {models::LossMode::next_byte, models::LossMode::last}) {
                sim::RunOptions opt;
                opt.loss = loss;
                opt.all_logits = all_logits;
                models::Batch b = batch;
                if (loss == models::LossMode::last) b.targets.resize(b.B);
                auto run = [&](bool keep_tape, std::size_t* bytes) {
                    const auto backend = test::backend_for(net, 2);
                    sim::NetworkState<float> start;
                    start.reset(cfg, b.B);
                    start.m.assign(start.m.size(), 0.1f);
                    const auto carry = backend->make_carry();
                    carry->write(start);
                    opt.keep_tape = keep_tape;
                    const double l = backend->step(b, opt, carry.get(), false, nullptr).loss();
                    *bytes = backend->activation_bytes();
                    const std::vector<float> logits(backend->logits().begin(), backend->logits().end());
                    const auto end = carry->read();
                    return std::make_tuple(l, logits, end.y, end.m, end.b, end.v);
                };
                std::size_t taped_bytes = 0, untaped_bytes = 0;
                const auto taped = run(true, &taped_bytes);
                const auto untaped = run(false, &untaped_bytes);
                INFO("mode " << static_cast<int>(mode) << ", all_logits " << all_logits);
                CHECK(taped == untaped);
                // LIF tapes hold little per step (b, v, y), so the y record of all_logits is a big share.
                CHECK(untaped_bytes * (mode == models::OutputMode::lif ? 1 : 4) < taped_bytes);
                if (mode != models::OutputMode::analog) {
                    const auto& y = std::get<2>(untaped);
                    CHECK(std::count(y.begin(), y.end(), 1.0f) + std::count(y.begin(), y.end(), 0.0f) ==
                          static_cast<std::ptrdiff_t>(y.size()));
                }
            }
        }
    }
}
