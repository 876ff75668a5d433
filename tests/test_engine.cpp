// Engine invariants: bounded memory, thread-count independence, connectivity draw, parameter
// accounting against the real layout.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "elmsim/models/connectivity.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/models/param_count.hpp"
#include "elmsim/models/elm_math.hpp"
#include "elmsim/models/train_config.hpp"
#include "tests/backend_helpers.hpp"

using namespace elm;
using models::ModelConfig;

namespace {
ModelConfig engine_config() {
    ModelConfig cfg;
    cfg.N = 24;
    cfg.C = 40;
    cfg.n_out = 5;
    cfg.d_m = 6;
    cfg.d_h = 12;
    cfg.n_b = 4;
    cfg.k_c = 12;
    cfg.dt_ms = 2.0;
    cfg.seed = 3;
    return cfg;
}

models::Batch dense_batch(const ModelConfig& cfg, int T, int B, double scale, std::uint64_t seed) {
    Rng rng(seed, 1);
    models::Batch b;
    b.T = T;
    b.B = B;
    b.C = cfg.C;
    b.x.resize(static_cast<std::size_t>(T) * B * cfg.C);
    for (auto& v : b.x) v = static_cast<float>(rng.uniform(-scale, scale));
    b.targets.resize(B);
    for (auto& t : b.targets) t = static_cast<std::int32_t>(rng.below(cfg.n_out));
    return b;
}
}  // namespace

TEST_CASE("memory units stay inside 1.7159 (1 - kappa_l) / (1 - kappa_m) under huge input", "[engine]") {
    auto cfg = engine_config();
    auto net = models::make_network<float>(cfg);
    // Scale the MLP up so that dm saturates at +-1.7159.
    for (auto& p : net.params) p *= 20.0f;
    const auto backend = test::backend_for(net);
    const auto batch = dense_batch(cfg, 400, 2, 1e4, 5);
    sim::RunOptions opt;
    opt.keep_tape = true;
    backend->step(batch, opt, nullptr, false, nullptr);
    // The decays of the model's dt, in double from the float parameters.
    const float* raw = net.tensor(models::TensorId::tau_m_raw);
    std::vector<double> kappa_m(static_cast<std::size_t>(cfg.N) * cfg.d_m), kappa_l(kappa_m.size());
    for (std::size_t k = 0; k < kappa_m.size(); ++k) {
        const double tau = models::tau_from_raw<double>(raw[k], cfg.tau_min_ms, cfg.tau_max_ms);
        kappa_m[k] = models::decay(cfg.dt_ms, tau);
        kappa_l[k] = models::decay(cfg.dt_ms * cfg.lambda, tau);
    }
    const auto tape = backend->state_trace();
    double worst = 0;
    for (int s = 0; s <= tape.T; ++s)
        for (int i = 0; i < cfg.N; ++i)
            for (int b = 0; b < tape.B; ++b)
                for (int k = 0; k < cfg.d_m; ++k) {
                    const float m = tape.m[s * tape.m_stride + (static_cast<std::size_t>(i) * tape.B + b) * cfg.d_m + k];
                    REQUIRE(std::isfinite(m));
                    const std::size_t ik = static_cast<std::size_t>(i) * cfg.d_m + k;
                    const double bound = 1.7159 * (1.0 - kappa_l[ik]) / (1.0 - kappa_m[ik]);
                    worst = std::max(worst, std::abs(m) / bound);
                }
    CHECK(worst <= 1.0 + 1e-5);
    CHECK(worst > 0.5);  // the input really drove the memory towards its bound
    CHECK(1.7159 * cfg.lambda >= 1.7159 * (1.0 - kappa_l[0]) / (1.0 - kappa_m[0]));
}

TEST_CASE("one thread and two threads give bit-identical losses and gradients", "[engine][threads]") {
    auto cfg = engine_config();
    for (auto mode : {models::OutputMode::analog, models::OutputMode::spike, models::OutputMode::lif}) {
        cfg.output_mode = mode;
        auto net = models::make_network<float>(cfg);
        const auto batch = dense_batch(cfg, 30, 3, 2.0, 9);
        std::vector<std::vector<float>> grads;
        std::vector<double> losses;
        for (int threads : {1, 2}) {
            const auto backend = test::backend_for(net, threads);
            backend->zero_gradients();
            Rng rng(4, 4);
            sim::RunOptions opt;
            opt.dropout = 0.3;
            losses.push_back(backend->step(batch, opt, nullptr, true, &rng).loss());
            grads.emplace_back(backend->gradients().begin(), backend->gradients().end());
        }
        INFO("output mode " << models::to_string(mode));
        CHECK(losses[0] == losses[1]);
        CHECK(grads[0] == grads[1]);
        CHECK(std::any_of(grads[0].begin(), grads[0].end(), [](float g) { return g != 0.0f; }));
    }
}

TEST_CASE("connectivity draw: distinct inputs and neurons, no self-synapse, seeded", "[models]") {
    auto cfg = engine_config();
    const auto src = models::draw_connectivity(cfg);
    REQUIRE(src.size() == static_cast<std::size_t>(cfg.N) * cfg.k_c);
    for (int i = 0; i < cfg.N; ++i) {
        std::set<int> inputs, neurons;
        for (int k = 0; k < cfg.k_c; ++k) {
            const int s = src[static_cast<std::size_t>(i) * cfg.k_c + k];
            (s < cfg.C ? inputs : neurons).insert(s);
            CHECK(s != cfg.C + i);
        }
        CHECK(static_cast<int>(inputs.size()) == cfg.k_in());
        CHECK(static_cast<int>(neurons.size()) == cfg.k_rec());
    }
    CHECK(models::draw_connectivity(cfg) == src);
    auto other = cfg;
    other.seed = 4;
    CHECK(models::draw_connectivity(other) != src);
    CHECK_NOTHROW(models::validate_connectivity(cfg, src));
    auto bad = src;
    bad[0] = cfg.C + 0;  // neuron 0 reading itself
    CHECK_THROWS_WITH(models::validate_connectivity(cfg, bad), Catch::Contains("self-synapse"));
    const auto fo = models::build_fan_out(cfg, src);
    for (int s = 0; s < fo.num_sources(); ++s)
        for (int e = fo.start[s]; e < fo.start[s + 1]; ++e) CHECK(src[fo.synapse[e]] == s);
}

TEST_CASE("impossible structures are rejected with the offending field", "[models]") {
    auto cfg = engine_config();
    cfg.k_c = 10;  // not divisible by n_b = 4
    CHECK_THROWS_WITH(cfg.validate(), Catch::Contains("not divisible by model.n_b"));
    cfg = engine_config();
    cfg.N = 4;  // k_rec = 6 > N - 1 = 3
    CHECK_THROWS_WITH(cfg.validate(), Catch::Contains("recurrent sources"));
    cfg = engine_config();
    cfg.C = 3;  // k_in = 6 > C
    CHECK_THROWS_WITH(cfg.validate(), Catch::Contains("input channels"));
}

TEST_CASE("P from the formula equals the trainable scalars of the layout", "[models]") {
    for (int l : {1, 3})
        for (int C_e : {0, 8})
            for (bool learn : {true, false})
                for (auto mode : {models::OutputMode::analog, models::OutputMode::lif}) {
                    auto cfg = engine_config();
                    cfg.l = l;
                    cfg.learn_tau_m = learn;
                    cfg.output_mode = mode;
                    if (C_e) {
                        cfg.C = 256;
                        cfg.C_e = C_e;
                        cfg.n_out = 256;
                    }
                    const auto pc = models::count_params(cfg);
                    const models::ParamLayout layout(cfg);
                    INFO("l " << l << " C_e " << C_e << " learn_tau_m " << learn);
                    CHECK(static_cast<std::size_t>(pc.P) == layout.trainable_size());
                    if (mode == models::OutputMode::analog) {
                        const std::int64_t dm = cfg.d_m, dh = cfg.d_h, nb = cfg.n_b;
                        CHECK(pc.k_e == (nb + dm) * dh + dh + (l - 1) * (dh * dh + dh) + dh * dm + dm + dm + 1 +
                                            (learn ? dm : 0));
                    }
                }
}

TEST_CASE("optimizers: SGD is p -= lr g, Adam and Adamax move against the gradient", "[sim]") {
    auto cfg = engine_config();
    const auto net = models::make_network<float>(cfg);
    for (auto kind : {models::OptimizerKind::sgd, models::OptimizerKind::adam, models::OptimizerKind::adamax}) {
        models::TrainConfig tc;
        tc.optimizer = kind;
        const auto backend = test::backend_for(net);
        const std::vector<float> ones(net.params.size(), 1.0f);
        backend->write_params(ones);
        const auto g = backend->gradients();
        std::fill(g.begin(), g.end(), 0.5f);
        backend->update(tc, 0.1);
        std::vector<float> p(net.params.size());
        backend->read_params(p);
        if (kind == models::OptimizerKind::sgd) {
            CHECK(p[0] == Approx(1.0f - 0.1f * 0.5f));
        } else {
            // First bias-corrected step of Adam/Adamax moves by lr in the gradient's sign.
            CHECK(p[0] == Approx(0.9f).epsilon(1e-5));
        }
    }
    models::TrainConfig tc;
    tc.schedule = models::Schedule::cosine;
    tc.lr = 1.0;
    tc.lr_min = 0.1;
    tc.max_steps = 100;
    CHECK(models::learning_rate(tc, 0) == Approx(1.0));
    CHECK(models::learning_rate(tc, 50) == Approx(0.55));
    CHECK(models::learning_rate(tc, 100) == Approx(0.1));
}
