// The table of cases every backend is checked on (tests/test_backend_parity.cpp), in the manner of
// ggml's test-backend-ops: one list of small networks and batches covering analog / spike / LIF
// outputs, ReLU / SiLU, 1-3 hidden layers, every loss mode, a byte embedding, a carried state, fixed
// timescales, both memory gains, input dropout and recomputation, on the clock or on each sample's
// own event schedule (variable dt per update and row, padding at the start). The parity test runs each case on every
// registered backend against the float64 CPU reference, and by finite differences on the reference.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "elmsim/models/batch.hpp"
#include "elmsim/models/event_batch.hpp"
#include "elmsim/models/event_schedule.hpp"
#include "elmsim/models/model_config.hpp"
#include "elmsim/models/rng.hpp"
#include "elmsim/models/train_config.hpp"

namespace elm::test {

struct BackendCase {
    std::string name;
    models::ModelConfig cfg;
    models::LossMode loss = models::LossMode::last;
    int last_k = 1;
    int T = 10;
    int B = 3;
    double input_scale = 1.0;  // LIF needs stronger input to reach its threshold of 1
    bool carried = false;      // start from a non-zero state (truncated BPTT) and read the final one
    double dropout = 0.0;      // input dropout, masks drawn from the same seeded RNG on both sides
    int recompute_every = 0;   // the backend recomputes stretches; the reference keeps the full tape
    // Learning on the event schedule (0 = the clock): each row its own random events over event_ms,
    // merged on this resolution, ticks at most max_dt_ms apart.
    double resolution_ms = 0.0, max_dt_ms = 0.0, event_ms = 0.0;
    // Rows on different time bases (train.time = "any"): row b's schedule on the grid of
    // row_resolutions_ms[b % size], each a whole multiple of resolution_ms (the batch's finest grid).
    std::vector<double> row_resolutions_ms = {};
};

inline models::ModelConfig case_base() {
    models::ModelConfig c;
    c.N = 7;
    c.C = 16;
    c.n_out = 5;
    c.d_m = 4;
    c.d_h = 7;
    c.n_b = 2;
    c.k_c = 6;
    c.dt_ms = 2.0;
    c.tau_init_min_ms = 2.0;
    c.tau_init_max_ms = 60.0;
    c.tau_max_ms = 200.0;
    c.seed = 17;
    return c;
}

inline std::vector<BackendCase> backend_cases() {
    using models::LossMode;
    using models::OutputMode;
    using models::Phi;
    std::vector<BackendCase> out;
    auto add = [&](BackendCase k) { out.push_back(std::move(k)); };
    {
        BackendCase k{"analog relu l=1 last", case_base()};
        add(k);
    }
    {
        BackendCase k{"analog silu l=2 mean_last_k", case_base(), LossMode::mean_last_k, 4};
        k.cfg.phi = Phi::silu;
        k.cfg.l = 2;
        add(k);
    }
    {
        BackendCase k{"analog silu l=3 carried state, fixed tau_m", case_base()};
        k.cfg.phi = Phi::silu;
        k.cfg.l = 3;
        k.cfg.learn_tau_m = false;
        k.carried = true;
        add(k);
    }
    {
        BackendCase k{"analog relu l=2 dropout, recompute every 3", case_base(), LossMode::mean_last_k, 3};
        k.cfg.l = 2;
        k.cfg.n_b = 3;
        k.dropout = 0.3;
        k.recompute_every = 3;
        add(k);
    }
    {
        BackendCase k{"spike silu mean_last_k carried", case_base(), LossMode::mean_last_k, 5};
        k.cfg.output_mode = OutputMode::spike;
        k.cfg.phi = Phi::silu;
        k.cfg.theta = 0.03;
        k.carried = true;
        add(k);
    }
    {
        BackendCase k{"spike relu l=2 last", case_base()};
        k.cfg.output_mode = OutputMode::spike;
        k.cfg.l = 2;
        k.cfg.theta = 0.02;
        add(k);
    }
    {
        BackendCase k{"lif last", case_base()};
        k.cfg.output_mode = OutputMode::lif;
        k.cfg.tau_v_ms = 8.0;
        k.T = 14;
        k.input_scale = 4.0;
        add(k);
    }
    {
        BackendCase k{"lif mean_last_k carried", case_base(), LossMode::mean_last_k, 6};
        k.cfg.output_mode = OutputMode::lif;
        k.cfg.tau_v_ms = 6.0;
        k.T = 14;
        k.input_scale = 4.0;
        k.carried = true;
        add(k);
    }
    {
        BackendCase k{"event schedule: analog silu l=2 mean_last_k, rate rule", case_base(), LossMode::mean_last_k, 3};
        k.cfg.phi = Phi::silu;
        k.cfg.l = 2;
        k.resolution_ms = 0.5;
        k.max_dt_ms = 3.0;
        k.event_ms = 16.0;
        add(k);
    }
    {
        BackendCase k{"event schedule: analog relu carried, recompute every 4, the memory rules of older models",
                      case_base()};
        k.cfg.memory_gain = models::MemoryGain::lambda_decay;
        k.cfg.memory_input = models::MemoryInput::step_decay;
        k.carried = true;
        k.recompute_every = 4;
        k.resolution_ms = 1.0;
        k.max_dt_ms = 4.0;
        k.event_ms = 24.0;
        add(k);
    }
    {
        BackendCase k{"event schedule: spike silu last, memory gain lambda_decay, memory input step_decay", case_base()};
        k.cfg.memory_gain = models::MemoryGain::lambda_decay;
        k.cfg.memory_input = models::MemoryInput::step_decay;
        k.cfg.output_mode = OutputMode::spike;
        k.cfg.phi = Phi::silu;
        k.cfg.theta = 0.03;
        k.resolution_ms = 0.5;
        k.max_dt_ms = 2.0;
        k.event_ms = 14.0;
        add(k);
    }
    {
        BackendCase k{"event schedule: rows on 0.5, 1 and 2 ms grids, analog relu mean_last_k", case_base(),
                      LossMode::mean_last_k, 3};
        k.B = 4;
        k.resolution_ms = 0.5;
        k.row_resolutions_ms = {0.5, 1.0, 2.0};
        k.max_dt_ms = 2.0;
        k.event_ms = 16.0;
        add(k);
    }
    {
        BackendCase k{"event schedule: rows on 0.25 and 1 ms grids, memory gain rate, fast units", case_base(),
                      LossMode::mean_last_k, 3};
        k.cfg.memory_gain = models::MemoryGain::rate;
        k.cfg.phi = Phi::silu;
        k.cfg.tau_init_min_ms = 0.5;  // units faster than an update: where the two gains differ most
        k.cfg.tau_init_max_ms = 20.0;
        k.resolution_ms = 0.25;
        k.row_resolutions_ms = {0.25, 1.0};
        k.max_dt_ms = 2.0;
        k.event_ms = 10.0;
        add(k);
    }
    {
        BackendCase k{"event schedule: memory gain rate, memory input step_decay, fast units on 0.5 ms", case_base()};
        k.cfg.memory_input = models::MemoryInput::step_decay;
        k.cfg.tau_init_min_ms = 0.5;
        k.cfg.tau_init_max_ms = 20.0;
        k.resolution_ms = 0.5;
        k.max_dt_ms = 2.0;
        k.event_ms = 10.0;
        add(k);
    }
    {
        BackendCase k{"event schedule: memory gain rate, spike relu carried, long ticks", case_base()};
        k.cfg.memory_gain = models::MemoryGain::rate;
        k.cfg.output_mode = OutputMode::spike;
        k.cfg.theta = 0.02;
        k.cfg.tau_init_min_ms = 1.0;
        k.carried = true;
        k.resolution_ms = 0.5;
        k.max_dt_ms = 6.0;
        k.event_ms = 24.0;
        add(k);
    }
    {
        BackendCase k{"event schedule: lif mean_last_k", case_base(), LossMode::mean_last_k, 3};
        k.cfg.output_mode = OutputMode::lif;
        k.cfg.tau_v_ms = 8.0;
        k.input_scale = 4.0;
        k.resolution_ms = 1.0;
        k.max_dt_ms = 5.0;
        k.event_ms = 30.0;
        add(k);
    }
    {
        BackendCase k{"bytes embedding silu next_byte carried", case_base(), LossMode::next_byte};
        k.cfg.C = 256;
        k.cfg.n_out = 256;
        k.cfg.C_e = 5;
        k.cfg.phi = Phi::silu;
        k.cfg.dt_ms = 1.0;
        k.cfg.tau_init_max_ms = 1000.0;
        k.cfg.tau_max_ms = 1000.0;
        k.carried = true;
        add(k);
    }
    {
        BackendCase k{"bytes one-hot relu l=2 next_byte", case_base(), LossMode::next_byte};
        k.cfg.C = 256;
        k.cfg.n_out = 256;
        k.cfg.l = 2;
        k.cfg.dt_ms = 1.0;
        k.T = 8;
        add(k);
    }
    return out;
}

// A batch on the event schedule: every row its own random events (some rows sparse, some busy, so
// the schedules differ in length and the batch is padded).
inline models::Batch case_event_batch(const BackendCase& k, std::uint64_t seed) {
    const models::ModelConfig& cfg = k.cfg;
    Rng rng(seed, 29);
    std::vector<models::EventSchedule> schedules(static_cast<std::size_t>(k.B));
    std::vector<std::int64_t> cells_per_gap;
    for (int b = 0; b < k.B; ++b) {
        const double r = k.row_resolutions_ms.empty() ? k.resolution_ms
                                                      : k.row_resolutions_ms[static_cast<std::size_t>(b) %
                                                                             k.row_resolutions_ms.size()];
        const models::EventGrid grid = models::make_event_grid(r, k.max_dt_ms);
        cells_per_gap.push_back(std::llround(r / k.resolution_ms));
        const int n = static_cast<int>(rng.below(static_cast<std::uint64_t>(6 + 12 * b)));
        std::vector<double> t;
        std::vector<std::int32_t> c;
        for (int e = 0; e < n; ++e) {
            t.push_back(rng.uniform(0.0, k.event_ms));
            c.push_back(static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(cfg.C))));
        }
        models::EventScheduleBuilder builder(grid, k.event_ms);
        builder.next_slice(t.data(), c.data(), t.size(), true, schedules[static_cast<std::size_t>(b)]);
    }
    std::vector<const models::EventSchedule*> pointers;
    for (const auto& s : schedules) pointers.push_back(&s);
    models::Batch batch;
    models::fill_event_batch(pointers, cfg.C, k.resolution_ms, batch, cells_per_gap);
    for (auto& v : batch.x) v *= static_cast<float>(k.input_scale);
    batch.targets.resize(static_cast<std::size_t>(k.B));
    for (auto& t : batch.targets) t = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(cfg.n_out)));
    return batch;
}

// A batch of the case: sparse event counts (or random bytes) and random targets, from `seed`.
inline models::Batch case_batch(const BackendCase& k, std::uint64_t seed) {
    if (k.resolution_ms > 0.0) return case_event_batch(k, seed);
    const models::ModelConfig& cfg = k.cfg;
    Rng rng(seed, 23);
    models::Batch batch;
    batch.T = k.T;
    batch.B = k.B;
    batch.C = cfg.C;
    if (cfg.C == 256) {
        batch.tokens.resize(static_cast<std::size_t>(k.T) * k.B);
        for (auto& t : batch.tokens) t = static_cast<std::uint8_t>(rng.below(256));
        if (cfg.C_e == 0) {  // one-hot channels
            batch.x.assign(static_cast<std::size_t>(k.T) * k.B * 256, 0.0f);
            for (std::size_t tb = 0; tb < batch.tokens.size(); ++tb) batch.x[tb * 256 + batch.tokens[tb]] = 1.0f;
        }
    } else {
        batch.x.resize(static_cast<std::size_t>(k.T) * k.B * cfg.C);
        for (auto& v : batch.x)
            v = rng.uniform() < 0.25 ? static_cast<float>(k.input_scale * static_cast<double>(1 + rng.below(2))) : 0.0f;
    }
    const std::size_t targets =
        k.loss == models::LossMode::next_byte ? static_cast<std::size_t>(k.T) * k.B : static_cast<std::size_t>(k.B);
    batch.targets.resize(targets);
    for (auto& t : batch.targets) t = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(cfg.n_out)));
    return batch;
}

}  // namespace elm::test
