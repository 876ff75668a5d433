// The "cuda" backend against the "cpu" backend ([gpu]: needs a CUDA device; without one every case
// says so in a warning and passes without checking — tools/gpu_check.sh runs them on a GPU machine).
// The float64 reference checks of tests/test_backend_parity.cpp run the cuda backend too; here the two
// float32 backends meet directly:
//  - every backend case: loss, logits, states and every gradient tensor;
//  - optimizer steps (SGD, Adam with clipping, Adamax) from the same gradients;
//  - determinism: the same run twice on the device gives the same bits;
//  - streaming (Stepper) on the clock and with per-row dt, and the decay cache;
//  - end to end: train on the GPU, resume on the GPU bit for bit, evaluate the GPU's checkpoint on the
//    CPU and the CPU's on the GPU, simulate on both;
//  - [ulp]: the differences per tensor in ulps, printed as a table (tools/gpu_check.sh shows it, and
//    runs it under compute-sanitizer as the short representative workload);
//  - the kernel launches of a training step, an inference step and a streaming update (the formula
//    of docs/benchmarks.md).
// Tolerances and why: both backends run the same ELM_HD formulas in the same summation order (fmaf
// where the CPU's AVX2 GEMMs fuse), but exp is the platform's (glibc's on the host, CUDA's expf on the
// device: decays, sigmoid, SiLU) — within a few ulp — and the gradient norm is a tree sum on the device
// (sequential on the CPU). So on a GPU the floats agree to rounding, not bit for bit: the bounds are those
// of the parity test (float32 against float64), which leave room for that. In the host emulation
// (preset gpu-emulation), where exp is the host's, forward and gradients must be identical bits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
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
#if defined(ELM_GPU_BACKEND)
#include "elmsim/gpu/launch_counts.hpp"
#endif

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

namespace {

// Distance in units in the last place: how many floats lie between a and b (0 when equal, +0 == -0).
std::int64_t ulp_distance(float a, float b) {
    if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<std::int64_t>::max();
    const auto ordered = [](float x) {
        std::int32_t i;
        std::memcpy(&i, &x, sizeof i);
        return i < 0 ? -static_cast<std::int64_t>(i & 0x7fffffff) : static_cast<std::int64_t>(i);
    };
    return std::abs(ordered(a) - ordered(b));
}

// The spacing of floats at x: a difference in these units at a tensor's largest magnitude is the
// relative error of rel_err() above times about 2^23.
double ulp_at(double x) {
    const float f = static_cast<float>(std::abs(x));
    return static_cast<double>(std::nextafter(f, std::numeric_limits<float>::infinity()) - f);
}

// The rows of the ulp table: per tensor, over every case, the largest and the median distance of
// single values in ulps (large for values near 0, where a tiny absolute difference is many ulps), and
// the largest difference in ulps of the tensor's largest value, with its bound — the relative
// tolerance of this file in the same unit, so the check is the one of the other tests.
class UlpTable {
public:

    void add(const std::string& row, const std::string& case_name, const std::vector<float>& cpu,
             const std::vector<float>& gpu, double rel_tol, double extra_ulps = 0.0) {
        REQUIRE(cpu.size() == gpu.size());
        if (cpu.empty()) return;
        Row& r = rows_[row];
        if (r.order == 0) r.order = ++count_;
        double scale = 0, diff = 0;
        std::int64_t max_ulp = 0;
        for (std::size_t k = 0; k < cpu.size(); ++k) {
            const std::int64_t u = ulp_distance(cpu[k], gpu[k]);
            r.ulps.push_back(u);
            max_ulp = std::max(max_ulp, u);
            scale = std::max({scale, std::abs(static_cast<double>(cpu[k])), std::abs(static_cast<double>(gpu[k]))});
            diff = std::max(diff, std::abs(static_cast<double>(cpu[k]) - gpu[k]));
        }
        const double unit = ulp_at(scale) > 0 ? ulp_at(scale) : 1.0;
        const double of_scale = diff / unit, bound = rel_tol * scale / unit + extra_ulps;
        INFO(row << " in case " << case_name << ": " << of_scale << " ulps of the tensor's largest value " << scale
                 << ", bound " << bound << "; largest single-value distance " << max_ulp << " ulps");
        CHECK(of_scale <= bound);
        r.max_ulp = std::max(r.max_ulp, max_ulp);
        if (r.worst_case.empty() || of_scale / std::max(bound, 1e-300) > r.worst_ratio) {
            r.worst_ratio = of_scale / std::max(bound, 1e-300);
            r.of_scale = of_scale;
            r.bound = bound;
            r.worst_case = case_name;
        }
    }

    void print(const std::string& title) {
        fmt::print("\n{}\n", title);
        fmt::print("| {:<34} | {:>7} | {:>10} | {:>6} | {:>10} | {:>8} | {} |\n", "tensor", "values", "max ulp", "median",
                   "max/scale", "bound", "worst case");
        fmt::print("|{:-<36}|{:->9}|{:->12}|{:->8}|{:->12}|{:->10}|{:-<30}|\n", "", "", "", "", "", "", "");
        std::vector<std::pair<int, std::string>> order;
        for (const auto& [name, r] : rows_) order.emplace_back(r.order, name);
        std::sort(order.begin(), order.end());
        for (const auto& [o, name] : order) {
            Row& r = rows_[name];
            std::nth_element(r.ulps.begin(), r.ulps.begin() + static_cast<std::ptrdiff_t>(r.ulps.size() / 2), r.ulps.end());
            fmt::print("| {:<34} | {:>7} | {:>10} | {:>6} | {:>10.1f} | {:>8.1f} | {} |\n", name, r.ulps.size(), r.max_ulp,
                       r.ulps[r.ulps.size() / 2], r.of_scale, r.bound, r.worst_case);
        }
        std::fflush(stdout);
    }

private:
    struct Row {
        int order = 0;
        std::vector<std::int64_t> ulps;
        std::int64_t max_ulp = 0;
        double of_scale = 0, bound = 0, worst_ratio = 0;
        std::string worst_case;
    };
    int count_ = 0;
    std::map<std::string, Row> rows_;
};

// The case table plus one case of the benchmark's shape class: rows past one block of 128 threads,
// wider neurons, recomputation.
std::vector<BackendCase> ulp_cases() {
    auto cases = test::backend_cases();
    BackendCase k{"spike silu N=32 B=130, recompute every 4", test::case_base()};
    k.cfg.N = 32;
    k.cfg.d_m = 8;
    k.cfg.d_h = 16;
    k.cfg.n_b = 4;
    k.cfg.k_c = 16;
    k.cfg.output_mode = models::OutputMode::spike;
    k.cfg.phi = models::Phi::silu;
    k.cfg.theta = 0.03;
    k.T = 12;
    k.B = 130;
    k.recompute_every = 4;
    cases.push_back(k);
    return cases;
}

}  // namespace

// CPU against GPU in ulps, per tensor: outputs of a training step (loss, logits, states), its
// gradients, the parameters after one SGD step from them, an inference step's logits at every step and
// a Stepper's outputs over 20 updates. SGD, not Adam: Adam's first step is lr * sign(g), which turns a
// rounding difference in a gradient near 0 into a whole step; SGD carries a gradient's difference into
// the parameter times lr, so its bound is the gradient's times lr plus one rounding of the update.
TEST_CASE("cuda: ulp differences from the cpu backend per tensor (training step, inference, streaming)",
          "[gpu][ulp]") {
    if (!have_gpu()) return;
    constexpr double kLr = 1e-2;
    UlpTable table;
    bool exact = false;
    int index = 0;
    const auto cases = ulp_cases();
    for (const BackendCase& k : cases) {
        INFO("case " << k.name);
        const auto net = moved_network(k.cfg, 4000 + static_cast<std::uint64_t>(index++));
        const auto cpu = test::backend_for(net, 1, "cpu");
        const auto gpu = test::backend_for(net, 1, "cuda");
        exact = emulated(*gpu);
        const models::Batch batch = test::case_batch(k, 5);
        const double g_tol = k.cfg.phi == models::Phi::relu ? kGradRelTolRelu : kGradRelTolSmooth;

        // Inference: no tape, the logits of every step.
        sim::RunOptions infer = options_of(k);
        infer.keep_tape = false;
        infer.all_logits = true;
        infer.dropout = 0.0;
        for (sim::Backend* b : {cpu.get(), gpu.get()}) b->step(batch, infer, nullptr, false, nullptr);
        table.add("inference logits (every step)", k.name, vec(cpu->logits()), vec(gpu->logits()), kLogitRelTol);

        // One training step and one SGD update.
        const sim::RunOptions opt = options_of(k);
        std::vector<float> loss[2];
        int side = 0;
        models::TrainConfig sgd;
        sgd.optimizer = models::OptimizerKind::sgd;
        for (sim::Backend* b : {cpu.get(), gpu.get()}) {
            Rng rng(77, 1);
            b->zero_gradients();
            loss[side++] = {static_cast<float>(b->step(batch, opt, nullptr, true, &rng).loss())};
        }
        table.add("loss", k.name, loss[0], loss[1], kLossRelTol);
        table.add("logits (training step)", k.name, vec(cpu->logits()), vec(gpu->logits()), kLogitRelTol);
        if (k.recompute_every == 0)
            table.add("states y (training tape)", k.name, cpu->state_trace().y, gpu->state_trace().y, kStateRelTol);
        const auto gc = vec(cpu->gradients()), gg = vec(gpu->gradients());
        for (sim::Backend* b : {cpu.get(), gpu.get()}) b->update(sgd, kLr);
        const auto pc = params_of(*cpu), pg = params_of(*gpu);
        for (const auto* spec : net.layout.tensors()) {
            const auto slice = [&](const std::vector<float>& v) {
                return std::vector<float>(v.begin() + static_cast<std::ptrdiff_t>(spec->offset),
                                          v.begin() + static_cast<std::ptrdiff_t>(spec->offset + spec->size));
            };
            const auto sgc = slice(gc), sgg = slice(gg), spc = slice(pc), spg = slice(pg);
            table.add("grad " + spec->name, k.name, sgc, sgg, g_tol);
            double g_scale = 0, p_scale = 0;
            for (std::size_t j = 0; j < sgc.size(); ++j) {
                g_scale = std::max(g_scale, std::abs(static_cast<double>(sgc[j])));
                p_scale = std::max(p_scale, std::abs(static_cast<double>(spc[j])));
            }
            const double unit = ulp_at(p_scale) > 0 ? ulp_at(p_scale) : 1.0;
            table.add("param " + spec->name + " after SGD", k.name, spc, spg, 0.0, 2.0 + kLr * g_tol * g_scale / unit);
        }

        // Streaming: 20 updates of 4 streams, clock and per-row dt alternating.
        if (k.cfg.C_e > 0) continue;  // steppers take the model input; embedding rows are the caller's
        const int B = 4, C = k.cfg.input_width();
        const auto n = static_cast<std::size_t>(k.cfg.N) * B, nl = static_cast<std::size_t>(B) * k.cfg.n_out;
        const auto sc = cpu->make_stepper(B), sg = gpu->make_stepper(B);
        Rng rng(3, 3);
        std::vector<float> x(static_cast<std::size_t>(C) * B), lc, lg, vc, vg;
        std::vector<double> dt(static_cast<std::size_t>(B));
        for (int u = 0; u < 20; ++u) {
            for (auto& v : x) v = rng.uniform() < 0.3 ? static_cast<float>(k.input_scale) : 0.0f;
            for (int b = 0; b < B; ++b) dt[b] = u % 2 ? 0.5 * (1 + (u + b) % 5) : k.cfg.dt_ms;
            sc->advance_rows(dt.data(), u % 2 ? B - 1 : B, x.data());
            sg->advance_rows(dt.data(), u % 2 ? B - 1 : B, x.data());
            lc.insert(lc.end(), sc->view().logits, sc->view().logits + nl);
            lg.insert(lg.end(), sg->view().logits, sg->view().logits + nl);
        }
        vc.assign(sc->view().v, sc->view().v + n);
        vg.assign(sg->view().v, sg->view().v + n);
        table.add("stepper logits (20 updates)", k.name, lc, lg, kLogitRelTol);
        table.add("stepper v after 20 updates", k.name, vc, vg, kStateRelTol);
    }
    table.print(fmt::format("cuda against cpu, {} cases ({}): ulps = floats between the two values (median over "
                            "every value); max/scale = the largest difference in ulps of the tensor's largest value; "
                            "bound = this file's tolerance in that unit",
                            cases.size(),
                            exact ? "host emulation: the host's exp on both sides; the first test requires 0 ulps"
                                  : "device"));
}

#if defined(ELM_GPU_BACKEND)
namespace {

// Kernel launches of one training step (zero_gradients, step with gradients, update with Adam or
// Adamax) of T updates, recomputation every K (docs/benchmarks.md gives the same formula):
//   1 model input + [1 memory-unit decays: ELM neurons] + T forward + 1 readout + 2 readout backward
//   + [T recomputed forward: 0 < K < T] + T backward steps + T recurrent gathers
//   + [T input gathers + 1 embedding backward: a byte embedding] + 2 gradient norm + 1 optimizer update.
std::uint64_t training_launches(const models::ModelConfig& cfg, int T, int K) {
    const bool elm = cfg.output_mode != models::OutputMode::lif, embedding = cfg.C_e > 0;
    const std::uint64_t t = static_cast<std::uint64_t>(T);
    return 1 + (elm ? 1 : 0) + t + 1 + 2 + (K > 0 && K < T ? t : 0) + 2 * t + (embedding ? t + 1 : 0) + 3;
}
// An inference step (no gradients, no tape): 1 model input + [1 decays] + T forward + 1 readout.
std::uint64_t inference_launches(const models::ModelConfig& cfg, int T) {
    return 1 + (cfg.output_mode != models::OutputMode::lif ? 1 : 0) + static_cast<std::uint64_t>(T) + 1;
}

}  // namespace

TEST_CASE("cuda: kernel launches per training step, inference step and streaming update follow the formula",
          "[gpu]") {
    if (!have_gpu()) return;
    models::TrainConfig adamax;
    adamax.optimizer = models::OptimizerKind::adamax;
    auto cases = test::backend_cases();
    BackendCase bench{"analog relu, T = 500, recompute every 50 (bench-gpu's step)", test::case_base()};
    bench.T = 500;
    bench.B = 2;
    bench.recompute_every = 50;
    cases.push_back(bench);
    for (const BackendCase& k : cases) {
        INFO("case " << k.name);
        const auto gpu = test::backend_for(models::make_network<float>(k.cfg), 1, "cuda");
        const models::Batch batch = test::case_batch(k, 1);
        sim::RunOptions opt = options_of(k);
        opt.keep_tape = false;
        Rng rng(77, 1);
        auto before = gpu::launch_counts();
        gpu->zero_gradients();
        gpu->step(batch, opt, nullptr, true, &rng);
        gpu->update(adamax, 1e-3);
        const auto train = gpu::launch_counts() - before;
        CHECK(train.kernels == training_launches(k.cfg, batch.T, k.recompute_every));
        CHECK(train.host_syncs == 2);  // the logits for the loss, the gradient norm for clipping
        if (k.name == bench.name) CHECK(train.kernels == 2008);  // the number docs/benchmarks.md quotes
        opt.dropout = 0.0;
        before = gpu::launch_counts();
        gpu->step(batch, opt, nullptr, false, nullptr);
        CHECK((gpu::launch_counts() - before).kernels == inference_launches(k.cfg, batch.T));
        if (k.cfg.C_e > 0 || k.T > 100) continue;
        // Streaming: 1 forward + 1 readout per update, + 1 decays launch (ELM) for each new dt.
        const auto stepper = gpu->make_stepper(2);
        const std::vector<float> x(static_cast<std::size_t>(k.cfg.input_width()) * 2, 0.0f);
        const std::uint64_t decays = k.cfg.output_mode != models::OutputMode::lif ? 1 : 0;
        for (int u = 0; u < 3; ++u) {
            before = gpu::launch_counts();
            stepper->advance(k.cfg.dt_ms, x.data());
            CHECK((gpu::launch_counts() - before).kernels == 2 + (u == 0 ? decays : 0));
        }
    }
}
#endif
