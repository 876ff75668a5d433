// Data parallelism without MPI (sim/data_parallel.hpp, sim/parallel/communicator.hpp): the fixed sum
// order, which shard counts a process count admits, slicing a batch into shards, and that the sharded
// step's gradient is the whole batch's (the same loss, the same gradient up to float rounding).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "elmsim/models/error.hpp"
#include "elmsim/models/network.hpp"
#include "elmsim/sim/data_parallel.hpp"
#include "elmsim/sim/parallel/communicator.hpp"
#include "tests/backend_helpers.hpp"

using namespace elm;

TEST_CASE("tree sum: a fixed order, left half (ceil n/2 leaves) plus right half", "[parallel]") {
    // Values where the order of the adds shows in the floats.
    const std::vector<float> a{1e8f}, b{1.0f}, c{-1e8f}, d{1.0f}, e{3.0f};
    float out = 0;
    sim::tree_sum<float>({a.data(), b.data(), c.data(), d.data()}, 1, &out);
    CHECK(out == (1e8f + 1.0f) + (-1e8f + 1.0f));
    CHECK(out != ((1e8f + 1.0f) + -1e8f) + 1.0f);  // the sequential order would give 1
    sim::tree_sum<float>({a.data(), b.data(), c.data()}, 1, &out);
    CHECK(out == (1e8f + 1.0f) + -1e8f);
    sim::tree_sum<float>({a.data(), b.data(), c.data(), d.data(), e.data()}, 1, &out);
    CHECK(out == ((1e8f + 1.0f) + -1e8f) + (1.0f + 3.0f));
    // Blocks that are subtrees sum alone and combine to the same floats (two processes of two leaves).
    float left = 0, right = 0, both = 0;
    sim::tree_sum<float>({a.data(), b.data()}, 1, &left);
    sim::tree_sum<float>({c.data(), d.data()}, 1, &right);
    sim::tree_sum<float>({&left, &right}, 1, &both);
    sim::tree_sum<float>({a.data(), b.data(), c.data(), d.data()}, 1, &out);
    CHECK(both == out);
    sim::tree_sum<float>({}, 1, &out);
    CHECK(out == 0.0f);
}

TEST_CASE("one process's sum over ranks is its own data", "[parallel]") {
    sim::LocalCommunicator comm;
    std::vector<float> v{1.5f, -2.0f, 3.25f};
    sim::RankSumBuffers buffers;
    sim::tree_sum_over_ranks(comm, v, buffers);
    CHECK(v == std::vector<float>{1.5f, -2.0f, 3.25f});
    CHECK_THROWS_AS(comm.exchange(1, v, v), std::logic_error);
}

TEST_CASE("one process's messages to itself arrive in order, and there is no other rank to send to", "[parallel]") {
    sim::LocalCommunicator comm;
    CHECK_FALSE(comm.poll().has_value());
    comm.send(0, "first");
    comm.send(0, std::string("with\0zero", 9));
    const auto a = comm.poll();
    const auto b = comm.poll();
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->from == 0);
    CHECK(a->text == "first");
    CHECK(b->text == std::string("with\0zero", 9));
    CHECK_FALSE(comm.poll().has_value());
    CHECK_THROWS_AS(comm.send(1, "x"), std::logic_error);
}

TEST_CASE("which process counts a shard count admits", "[parallel]") {
    CHECK(sim::blocks_are_subtrees(8, 4));
    CHECK(sim::blocks_are_subtrees(8, 2));
    CHECK(sim::blocks_are_subtrees(8, 1));
    CHECK(sim::blocks_are_subtrees(3, 1));
    CHECK(sim::blocks_are_subtrees(6, 3));   // 2 processes of 3 shards: the root's halves
    CHECK_FALSE(sim::blocks_are_subtrees(6, 2));  // 3 processes of 2: [2, 4) spans both halves
    CHECK_FALSE(sim::blocks_are_subtrees(12, 4));
    CHECK_FALSE(sim::blocks_are_subtrees(8, 3));

    const auto p = sim::plan_shards(0, 8, 2, 1);  // unset: one shard per process
    CHECK(p.shards == 2);
    CHECK(p.rows == 4);
    CHECK(p.first() == 1);
    CHECK(p.local() == 1);
    CHECK_FALSE(sim::plan_shards(0, 8, 1, 0).parallel());
    CHECK(sim::plan_shards(4, 8, 1, 0).parallel());
    const auto q = sim::plan_shards(8, 16, 2, 1);
    CHECK(q.first() == 4);
    CHECK(q.local() == 4);
    using Catch::Matchers::Contains;
    CHECK_THROWS_WITH(sim::plan_shards(3, 8, 1, 0), Contains("train.shards") && Contains("do not divide the batch of 8"));
    CHECK_THROWS_WITH(sim::plan_shards(0, 8, 3, 0), Contains("one per process"));
    CHECK_THROWS_WITH(sim::plan_shards(4, 8, 3, 0), Contains("process count must divide"));
    CHECK_THROWS_WITH(sim::plan_shards(6, 12, 3, 0), Contains("fixed sum order"));
    CHECK_THROWS_WITH(sim::plan_shards(-1, 8, 1, 0), Contains(">= 0"));
    CHECK_THROWS_AS(sim::plan_shards(16, 8, 1, 0), ParameterError);
}

TEST_CASE("a shard is the batch's rows: input, tokens, per-step targets, event gaps", "[parallel]") {
    models::Batch in;
    in.T = 2;
    in.B = 4;
    in.C = 3;
    for (int i = 0; i < 2 * 4 * 3; ++i) in.x.push_back(static_cast<float>(i));
    for (int i = 0; i < 8; ++i) {
        in.tokens.push_back(static_cast<std::uint8_t>(10 + i));
        in.targets.push_back(20 + i);
        in.gap_cells.push_back(30 + i);
    }
    in.resolution_ms = 0.5;
    in.continues = true;
    models::Batch out;
    sim::slice_batch_rows(in, 1, 3, true, out);
    CHECK(out.T == 2);
    CHECK(out.B == 2);
    CHECK(out.C == 3);
    CHECK(out.x == std::vector<float>{3, 4, 5, 6, 7, 8, 15, 16, 17, 18, 19, 20});
    CHECK(out.tokens == std::vector<std::uint8_t>{11, 12, 15, 16});
    CHECK(out.targets == std::vector<std::int32_t>{21, 22, 25, 26});
    CHECK(out.gap_cells == std::vector<std::int32_t>{31, 32, 35, 36});
    CHECK(out.resolution_ms == 0.5);
    CHECK(out.continues);
    // Rows 2 and 3 start updating at step 1: their shard begins there.
    in.gap_cells = {5, 5, 0, 0, 5, 5, 5, 5};
    sim::slice_batch_rows(in, 2, 4, true, out);
    CHECK(out.T == 1);
    CHECK(out.gap_cells == std::vector<std::int32_t>{5, 5});
    CHECK(out.x == std::vector<float>{18, 19, 20, 21, 22, 23});
    CHECK(out.targets == std::vector<std::int32_t>{26, 27});
    sim::slice_batch_rows(in, 0, 2, true, out);
    CHECK(out.T == 2);
    in.gap_cells.clear();
    in.targets.resize(4);
    sim::slice_batch_rows(in, 2, 4, false, out);
    CHECK(out.targets == std::vector<std::int32_t>{22, 23});
}

TEST_CASE("the sharded step gives the whole batch's loss and gradient", "[parallel]") {
    models::ModelConfig cfg;
    cfg.N = 12;
    cfg.C = 6;
    cfg.n_out = 5;
    cfg.d_m = 4;
    cfg.n_b = 2;
    cfg.d_h = 8;
    cfg.k_c = 8;
    cfg.seed = 4;
    const auto net = models::make_network<float>(cfg);
    const int T = 7, B = 8;
    models::Batch batch;
    batch.T = T;
    batch.B = B;
    batch.C = cfg.C;
    Rng rng(5, 1);
    for (int i = 0; i < T * B * cfg.C; ++i) batch.x.push_back(rng.uniform() < 0.3 ? 1.0f : 0.0f);
    for (int b = 0; b < B; ++b) batch.targets.push_back(static_cast<std::int32_t>(rng.below(cfg.n_out)));
    sim::RunOptions opt;

    auto whole = test::backend_for(net);
    whole->zero_gradients();
    const auto st_whole = whole->step(batch, opt, nullptr, true, nullptr);
    const auto g = whole->gradients();
    const std::vector<float> g_whole(g.begin(), g.end());

    auto sharded = test::backend_for(net);
    sim::LocalCommunicator comm;
    sim::DataParallelStep step(*sharded, comm, sim::plan_shards(4, B, 1, 0));
    const auto st = step.run(batch, opt, 1, false);
    CHECK(st.terms == st_whole.terms);
    CHECK(st.count == st_whole.count);
    CHECK(st.correct == st_whole.correct);
    CHECK(st.loss() == Approx(st_whole.loss()).epsilon(1e-12));
    const auto gs = sharded->gradients();
    double num = 0, den = 0;
    for (std::size_t i = 0; i < g_whole.size(); ++i) {
        num += (gs[i] - g_whole[i]) * (gs[i] - g_whole[i]);
        den += g_whole[i] * g_whole[i];
    }
    REQUIRE(den > 0);
    CHECK(std::sqrt(num / den) < 1e-5);  // the same sum in another order

    // On the event schedule: rows 4-7 start at step 3 (their shards leave out steps 0-2).
    batch.resolution_ms = 1.0;
    batch.gap_cells.assign(static_cast<std::size_t>(T) * B, 0);
    for (int t = 0; t < T; ++t)
        for (int b = 0; b < B; ++b)
            if (b < 4 || t >= 3) batch.gap_cells[static_cast<std::size_t>(t) * B + b] = 1 + (t + b) % 3;
    whole->zero_gradients();
    const auto ev_whole = whole->step(batch, opt, nullptr, true, nullptr);
    const std::vector<float> ge_whole(whole->gradients().begin(), whole->gradients().end());
    const auto ev = step.run(batch, opt, 1, false);
    CHECK(ev.loss() == Approx(ev_whole.loss()).epsilon(1e-6));
    CHECK(ev.loss() != Approx(st.loss()).epsilon(1e-6));  // the schedule mattered
    num = den = 0;
    for (std::size_t i = 0; i < ge_whole.size(); ++i) {
        num += (gs[i] - ge_whole[i]) * (gs[i] - ge_whole[i]);
        den += ge_whole[i] * ge_whole[i];
    }
    REQUIRE(den > 0);
    CHECK(std::sqrt(num / den) < 1e-5);
    batch.gap_cells.clear();

    batch.B = 6;  // a batch the plan does not cut
    batch.targets.resize(6);
    batch.x.resize(static_cast<std::size_t>(T) * 6 * cfg.C);
    CHECK_THROWS_AS(step.run(batch, opt, 1, false), InputError);
}
