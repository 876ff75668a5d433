// The "cuda" backend against the "cpu" backend ([gpu]: needs a CUDA device; without one every case
// says so in a warning and passes without checking — tools/gpu_check.sh runs them on a GPU machine).
// The float64 reference checks of tests/test_backend_parity.cpp run the cuda backend too; here the two
// float32 backends meet directly:
//  - every backend case: loss, logits, states and every gradient tensor;
//  - optimizer steps (SGD, Adam with clipping, Adamax) from the same gradients;
//  - determinism: the same run twice on the device gives the same bits;
//  - streaming (Stepper) on the clock and with per-row dt, and the decay cache;
//  - end to end: train on the GPU, resume on the GPU bit for bit, evaluate the GPU's checkpoint on the
//    CPU and the CPU's on the GPU, simulate on both.
// Tolerances and why: both backends run the same ELM_HD formulas in the same summation order (fmaf
// where the CPU's AVX2 GEMMs fuse), but exp is the platform's (glibc's on the host, CUDA's expf on the
// device: decays, sigmoid, SiLU) — within a few ulp — and the gradient norm is a tree sum on the device
// (sequential on the CPU). So on a GPU the floats agree to rounding, not bit for bit: the bounds are those
// of the parity test (float32 against float64), which leave room for that. In the host emulation
// (preset gpu-emulation), where exp is the host's, forward and gradients must be identical bits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "elmsim/io/checkpoint.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/sim/registry/backend_registry.hpp"
#include "elmsim/sim/session.hpp"
#include "elmsim/sim/stream_batcher.hpp"
#include "tests/backend_cases.hpp"
#include "tests/backend_helpers.hpp"
#include "tests/cli_runner.hpp"
#include "tests/cli_training.hpp"

using namespace elm;
using test::BackendCase;

namespace {

constexpr double kLossRelTol = 1e-6;
constexpr double kLogitRelTol = 2e-6;
constexpr double kStateRelTol = 2e-6;
constexpr double kGradRelTolSmooth = 2e-5;
constexpr double kGradRelTolRelu = 2e-4;
// Parameters after a few optimizer steps: Adam's step is lr-sized whatever the gradient, so a gradient
// entry near 0 can take a step of either sign; relative to the tensor's largest change.
constexpr double kParamRelTol = 1e-4;

bool have_gpu() {
    std::string why;
    if (sim::backend_available("cuda", &why)) return true;
    WARN("skipped, no GPU here: " << why);
    return false;
}

// The host emulation of the backend (ELM_CUDA=EMULATE) runs the kernels with the host's exp: there the
// two backends must agree bit for bit, which checks that every kernel sums in the CPU engine's order.
bool emulated(const sim::Backend& b) { return b.describe().find("host emulation") != std::string::npos; }

double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    double err = 0, scale = 0;
    for (std::size_t k = 0; k < a.size(); ++k) {
        err = std::max(err, std::abs(static_cast<double>(a[k]) - b[k]));
        scale = std::max({scale, std::abs(static_cast<double>(a[k])), std::abs(static_cast<double>(b[k]))});
    }
    return scale > 0 ? err / scale : err;
}

template <class Span>
std::vector<float> vec(const Span& s) {
    return std::vector<float>(s.begin(), s.end());
}

std::vector<float> params_of(const sim::Backend& b) {
    std::vector<float> p(b.layout().total_size());
    b.read_params(p);
    return p;
}

models::Network<float> moved_network(const models::ModelConfig& cfg, std::uint64_t seed) {
    auto net = models::make_network<float>(cfg);
    Rng rng(seed, 5);
    for (auto& p : net.params) p += static_cast<float>(0.1 * (rng.uniform() - 0.5));
    return net;
}

sim::RunOptions options_of(const BackendCase& k) {
    sim::RunOptions o;
    o.loss = k.loss;
    o.last_k = k.last_k;
    o.dropout = k.dropout;
    o.recompute_every = k.recompute_every;
    o.keep_tape = true;
    return o;
}

}  // namespace

TEST_CASE("cuda: every backend case gives the cpu backend's loss, logits, states and gradients", "[gpu]") {
    if (!have_gpu()) return;
    int index = 0;
    for (const BackendCase& k : test::backend_cases()) {
        INFO("case " << k.name);
        const auto net = moved_network(k.cfg, 1000 + static_cast<std::uint64_t>(index++));
        const auto cpu = test::backend_for(net, 1, "cpu");
        const auto gpu = test::backend_for(net, 1, "cuda");
        const models::Batch batch = test::case_batch(k, 1);
        const sim::RunOptions opt = options_of(k);
        double loss[2];
        int side = 0;
        for (sim::Backend* b : {cpu.get(), gpu.get()}) {
            Rng rng(77, 1);
            b->zero_gradients();
            loss[side++] = b->step(batch, opt, nullptr, true, &rng).loss();
        }
        CHECK(std::abs(loss[0] - loss[1]) <= kLossRelTol * std::abs(loss[0]));
        CHECK(rel_err(vec(cpu->logits()), vec(gpu->logits())) <= kLogitRelTol);
        if (k.recompute_every == 0) CHECK(rel_err(cpu->state_trace().y, gpu->state_trace().y) <= kStateRelTol);
        CHECK(cpu->model_input() == gpu->model_input());  // the same input and dropout mask, exactly
        const auto gc = vec(cpu->gradients()), gg = vec(gpu->gradients());
        if (emulated(*gpu)) {  // the host's exp on both sides: the same floats, bit for bit
            CHECK(loss[0] == loss[1]);
            CHECK(vec(cpu->logits()) == vec(gpu->logits()));
            CHECK(gc == gg);
        }
        const double tol = k.cfg.phi == models::Phi::relu ? kGradRelTolRelu : kGradRelTolSmooth;
        for (const auto* spec : net.layout.tensors()) {
            const auto slice = [&](const std::vector<float>& g) {
                return std::vector<float>(g.begin() + static_cast<std::ptrdiff_t>(spec->offset),
                                          g.begin() + static_cast<std::ptrdiff_t>(spec->offset + spec->size));
            };
            INFO("gradient of " << spec->name);
            CHECK(rel_err(slice(gc), slice(gg)) <= tol);
        }
    }
}

TEST_CASE("cuda: optimizer steps follow the cpu backend (SGD, Adam with clipping, Adamax)", "[gpu]") {
    if (!have_gpu()) return;
    const auto cases = test::backend_cases();
    const BackendCase& k = cases.front();
    for (const auto kind : {models::OptimizerKind::sgd, models::OptimizerKind::adam, models::OptimizerKind::adamax}) {
        models::TrainConfig tc;
        tc.optimizer = kind;
        tc.clip_norm = 0.05;  // small enough to clip
        INFO("optimizer " << static_cast<int>(kind));
        const auto net = moved_network(k.cfg, 3);
        const auto cpu = test::backend_for(net, 1, "cpu");
        const auto gpu = test::backend_for(net, 1, "cuda");
        const auto before = params_of(*cpu);
        double norms[2][3];
        int side = 0;
        for (sim::Backend* b : {cpu.get(), gpu.get()}) {
            for (int s = 0; s < 3; ++s) {
                b->zero_gradients();
                b->step(test::case_batch(k, 10 + static_cast<std::uint64_t>(s)), options_of(k), nullptr, true, nullptr);
                norms[side][s] = b->update(tc, 1e-2);
            }
            ++side;
        }
        for (int s = 0; s < 3; ++s) CHECK(norms[1][s] == Approx(norms[0][s]).epsilon(1e-5));
        std::vector<float> dc = params_of(*cpu), dg = params_of(*gpu);
        for (std::size_t j = 0; j < dc.size(); ++j) {
            dc[j] -= before[j];
            dg[j] -= before[j];
        }
        CHECK(rel_err(dc, dg) <= kParamRelTol);
        const auto oc = cpu->optimizer_state(), og = gpu->optimizer_state();
        CHECK(oc.t == og.t);
        CHECK(oc.m1.size() == og.m1.size());
    }
}

TEST_CASE("cuda: the same run twice on the device is the same bits (deterministic reductions)", "[gpu]") {
    if (!have_gpu()) return;
    for (const BackendCase& k : test::backend_cases()) {
        INFO("case " << k.name);
        models::TrainConfig tc;
        tc.optimizer = models::OptimizerKind::adam;
        tc.clip_norm = 1.0;
        std::vector<float> params[2], grads[2];
        for (int run = 0; run < 2; ++run) {
            const auto gpu = test::backend_for(moved_network(k.cfg, 9), 1, "cuda");
            for (int s = 0; s < 2; ++s) {
                Rng rng(77, 1);
                gpu->zero_gradients();
                gpu->step(test::case_batch(k, 20 + static_cast<std::uint64_t>(s)), options_of(k), nullptr, true, &rng);
                grads[run] = vec(gpu->gradients());
                gpu->update(tc, 1e-2);
            }
            params[run] = params_of(*gpu);
        }
        CHECK(grads[0] == grads[1]);
        CHECK(params[0] == params[1]);
    }
}

TEST_CASE("cuda: streaming updates follow the cpu stepper, on the clock and with per-row dt", "[gpu]") {
    if (!have_gpu()) return;
    for (const BackendCase& k : test::backend_cases()) {
        if (k.cfg.C_e > 0) continue;  // steppers take the model input itself; embedding rows are the caller's
        INFO("case " << k.name);
        const auto net = moved_network(k.cfg, 5);
        const auto cpu = test::backend_for(net, 1, "cpu");
        const auto gpu = test::backend_for(net, 1, "cuda");
        const int B = 4, C = k.cfg.input_width(), N = k.cfg.N;
        const auto sc = cpu->make_stepper(B), sg = gpu->make_stepper(B);
        CHECK(rel_err(std::vector<float>(sc->view().logits, sc->view().logits + B * k.cfg.n_out),
                      std::vector<float>(sg->view().logits, sg->view().logits + B * k.cfg.n_out)) == 0.0);
        Rng rng(3, 3);
        std::vector<float> x(static_cast<std::size_t>(C) * B);
        std::vector<double> dt(static_cast<std::size_t>(B));
        for (int u = 0; u < 30; ++u) {
            for (auto& v : x) v = rng.uniform() < 0.3 ? static_cast<float>(k.input_scale) : 0.0f;
            const bool event = u % 2 == 1;
            for (int b = 0; b < B; ++b) dt[b] = event ? 0.5 * (1 + (u + b) % 5) : k.cfg.dt_ms;
            const int active = event ? B - u % 2 : B;
            sc->advance_rows(dt.data(), active, x.data());
            sg->advance_rows(dt.data(), active, x.data());
            const auto vc = sc->view(), vg = sg->view();
            const auto n = static_cast<std::size_t>(N) * B;
            CHECK(rel_err(std::vector<float>(vc.v, vc.v + n), std::vector<float>(vg.v, vg.v + n)) <= kStateRelTol);
            CHECK(rel_err(std::vector<float>(vc.logits, vc.logits + B * k.cfg.n_out),
                          std::vector<float>(vg.logits, vg.logits + B * k.cfg.n_out)) <= kLogitRelTol);
        }
        CHECK(sg->decay_computations() == sc->decay_computations());
    }
}

TEST_CASE("cuda: micro-batched sessions on the GPU follow the cpu's, rows written and read between batches", "[gpu]") {
    if (!have_gpu()) return;
    for (const BackendCase& k : test::backend_cases()) {
        INFO("case " << k.name);
        const auto net = moved_network(k.cfg, 5);
        const auto cpu = test::backend_for(net, 1, "cpu");
        const auto gpu = test::backend_for(net, 1, "cuda");
        sim::StreamBatcher on_cpu(*cpu, 4), on_gpu(*gpu, 4);
        const int raw = k.cfg.C_e > 0 ? 256 : k.cfg.C, n_out = k.cfg.n_out;
        std::vector<std::unique_ptr<sim::Session>> sc, sg;
        for (int i = 0; i < 6; ++i) {  // more sessions than rows: batches of 4 and 2
            sim::SessionOptions o;
            o.event_mode = i % 2 == 1;
            o.resolution_ms = 0.5;
            sc.push_back(std::make_unique<sim::Session>(on_cpu, o));
            sg.push_back(std::make_unique<sim::Session>(on_gpu, o));
        }
        std::vector<sim::Session*> pc, pg;
        for (int i = 0; i < 6; ++i) {
            pc.push_back(sc[i].get());
            pg.push_back(sg[i].get());
        }
        Rng rng(7, 3);
        for (int piece = 1; piece <= 4; ++piece) {
            for (int i = 0; i < 6; ++i) {
                std::vector<double> t;
                std::vector<std::int32_t> ch;
                for (int e = 0; e < 3 * (i + 1); ++e) t.push_back(sc[i]->time_ms() + rng.uniform(0.0, 4.0));
                std::sort(t.begin(), t.end());
                for (std::size_t e = 0; e < t.size(); ++e) ch.push_back(static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(raw))));
                for (auto* s : {sc[i].get(), sg[i].get()}) {
                    s->push_events(t, ch);
                    s->advance_to(piece * 5.0);
                }
            }
            on_cpu.run(pc);
            on_gpu.run(pg);
            for (int i = 0; i < 6; ++i) {
                INFO("session " << i << " piece " << piece);
                REQUIRE(sg[i]->updates() == sc[i]->updates());
                const std::vector<float> lc(sc[i]->logits(), sc[i]->logits() + n_out),
                    lg(sg[i]->logits(), sg[i]->logits() + n_out);
                if (emulated(*gpu))
                    CHECK(lg == lc);
                else
                    CHECK(rel_err(lc, lg) <= kLogitRelTol * 10);  // drift over 20 updates of rounding
            }
        }
    }
}

TEST_CASE("cuda: train on the GPU, resume on the GPU bit for bit, checkpoints move between GPU and CPU", "[gpu][cli]") {
    if (!have_gpu()) return;
    const auto dir = test::spike_dir("cuda_cli");
    const std::string d = dir.string();
    const auto ok = [](const test::CliResult& r) {
        test::require_ok(r);
        return r;
    };
    test::write_text(dir / "c.toml", test::spike_config(dir, 0.1));
    ok(test::run_elmsim(fmt::format("train --config {0}/c.toml --backend cuda --max-steps 6 --quiet --out {0}/full.h5", d)));
    ok(test::run_elmsim(fmt::format("train --config {0}/c.toml --backend cuda --max-steps 3 --quiet --out {0}/a.h5", d)));
    ok(test::run_elmsim(
        fmt::format("train --config {0}/c.toml --backend cuda --resume {0}/a.h5 --max-steps 3 --quiet --out {0}/b.h5", d)));
    test::check_same_params(d + "/full.h5", d + "/b.h5");
    const auto full = io::load_checkpoint(d + "/full.h5");
    // The GPU's checkpoint on the CPU and the CPU's on the GPU: the same predictions.
    ok(test::run_elmsim(fmt::format("train --config {0}/c.toml --max-steps 6 --quiet --threads 1 --out {0}/cpu.h5", d)));
    for (const char* model : {"full.h5", "cpu.h5"}) {
        const auto on_cpu = ok(test::run_elmsim(fmt::format("eval --model {0}/{1} --data {0}/test.h5 --backend cpu", d, model)));
        const auto on_gpu = ok(test::run_elmsim(fmt::format("eval --model {0}/{1} --data {0}/test.h5 --backend cuda", d, model)));
        INFO(model << "\ncpu: " << on_cpu.output << "\ncuda: " << on_gpu.output);
        const auto accuracy = [](const std::string& out) { return out.substr(out.find("accuracy")); };
        CHECK(accuracy(on_cpu.output) == accuracy(on_gpu.output));
    }
    // The two backends train to the same parameters within rounding.
    const auto cpu = io::load_checkpoint(d + "/cpu.h5");
    CHECK(rel_err(cpu.net.params, full.net.params) <= 1e-3);
}
