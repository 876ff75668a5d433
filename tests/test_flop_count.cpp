// Analytic FLOP count of the training benchmark (tools/bench/flop_count.hpp), checked against numbers
// worked out by hand for tiny configurations. No timing here: benchmarks are programs, not tests.
#include <catch2/catch.hpp>

#include "elmsim/models/model_config.hpp"
#include "tools/bench/flop_count.hpp"

namespace {

elm::models::ModelConfig tiny() {
    elm::models::ModelConfig c;
    c.N = 3;
    c.C = 10;
    c.n_out = 5;
    c.d_m = 2;
    c.d_h = 4;
    c.n_b = 2;
    c.l = 1;
    c.k_c = 4;
    return c;
}

}  // namespace

TEST_CASE("neuron_step_macs counts each part of the ELM step", "[flops]") {
    const auto m = elm::bench::neuron_step_macs(tiny());
    CHECK(m.synapses == 4);       // k_c
    CHECK(m.branches == 2);       // n_b
    CHECK(m.mlp == 4 * 4 + 2 * 4);  // W1: d_h x (n_b + d_m) = 4 x 4; W2: d_m x d_h = 2 x 4
    CHECK(m.memory == 4);         // 2 d_m
    CHECK(m.unit_readout == 2);   // d_m
    CHECK(m.matmul() == 30);
    CHECK(m.elementwise() == 6);
    CHECK(m.total() == 36);
}

TEST_CASE("count_flops: forward, backward and readout by hand", "[flops]") {
    // T = 7, B = 2, logits on the last step only.
    // forward  = 2 (36 MACs x N B T = 3 x 2 x 7 = 42) + 2 (n_out N B = 5 x 3 x 2) = 3024 + 60 = 3084
    // backward = 2 ((2 x 30 + 6) x 42) + 4 (30) = 5544 + 120 = 5664
    const auto f = elm::bench::count_flops(tiny(), 7, 2, 1);
    CHECK(f.forward == 3084.0);
    CHECK(f.backward == 5664.0);
    CHECK(f.train() == 8748.0);
    CHECK(f.inference() == 3084.0);
    // Logits on every step: the readout part scales with the number of logit steps.
    const auto all = elm::bench::count_flops(tiny(), 7, 2, 7);
    CHECK(all.forward == 3024.0 + 7 * 60.0);
    CHECK(all.backward == 5544.0 + 7 * 120.0);
}

TEST_CASE("count_flops: hidden layers add d_h^2 per extra layer", "[flops]") {
    auto c = tiny();
    c.l = 3;  // two extra hidden layers of 4 x 4
    const auto m = elm::bench::neuron_step_macs(c);
    CHECK(m.mlp == 24 + 2 * 16);
    const auto f = elm::bench::count_flops(c, 1, 1, 1);
    // MACs per unit step 36 + 32 = 68 (matmul 62, elementwise 6); N B T = 3; readout 5 x 3 = 15 MACs
    CHECK(f.forward == 2.0 * (68 * 3 + 15));
    CHECK(f.backward == 2.0 * ((2 * 62 + 6) * 3 + 2 * 15));
}

TEST_CASE("count_flops: LIF neurons have synapses and a membrane only", "[flops]") {
    auto c = tiny();
    c.output_mode = elm::models::OutputMode::lif;
    const auto m = elm::bench::neuron_step_macs(c);
    CHECK(m.synapses == 4);
    CHECK(m.mlp == 0);
    CHECK(m.memory == 2);
    CHECK(m.total() == 6);
    const auto f = elm::bench::count_flops(c, 2, 1, 1);
    CHECK(f.forward == 2.0 * (6 * 6 + 15));        // N B T = 3 x 1 x 2 = 6; readout 5 x 3
    CHECK(f.backward == 2.0 * ((2 * 4 + 2) * 6 + 30));
}

TEST_CASE("count_flops: the benchmark's small configuration", "[flops]") {
    // small: N 64, d_m 16, d_h 32, n_b 4, k_c 32, B 16, T 500, n_out 20
    elm::models::ModelConfig c;
    c.N = 64;
    c.C = 700;
    c.n_out = 20;
    c.d_m = 16;
    c.d_h = 32;
    c.n_b = 4;
    c.k_c = 32;
    const auto m = elm::bench::neuron_step_macs(c);
    CHECK(m.total() == 32 + 4 + (32 * 20 + 16 * 32) + 32 + 16);  // 1236
    const auto f = elm::bench::count_flops(c, 500, 16, 1);
    CHECK(f.forward == 2.0 * (1236.0 * 64 * 16 * 500 + 20 * 64 * 16));
}
