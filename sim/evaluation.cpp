#include "elmsim/sim/evaluation.hpp"

#include <vector>

namespace elm::sim {

namespace {

// Batch i on process i mod R; every batch's statistics gathered and added in batch order.
EvalResult evaluate_shared(Backend& backend, models::BatchSource& source, const RunOptions& opt, Communicator& comm) {
    const int R = comm.size(), rank = comm.rank();
    std::vector<double> mine;  // 4 values per batch of this process, in its batch order
    std::int64_t batches = 0;
    run_agreed(comm, [&] {
        source.rewind_eval();
        models::Batch batch;
        for (; source.next_eval(batch); ++batches) {
            if (batches % R != rank) continue;
            const LossStats st = backend.step(batch, opt, nullptr, false, nullptr);
            mine.insert(mine.end(), {st.loss_sum, st.terms, static_cast<double>(st.correct), static_cast<double>(st.count)});
        }
    });
    const std::int64_t per_rank = (batches + R - 1) / R;
    mine.resize(static_cast<std::size_t>(per_rank) * 4, 0.0);
    std::vector<double> all(mine.size() * static_cast<std::size_t>(R));
    comm.all_gather(std::span<const double>(mine), std::span<double>(all));
    EvalResult r;
    for (std::int64_t i = 0; i < batches; ++i) {
        const double* in = all.data() + (static_cast<std::size_t>(i % R) * static_cast<std::size_t>(per_rank) +
                                         static_cast<std::size_t>(i / R)) * 4;
        r.stats.add(LossStats{in[0], in[1], static_cast<std::int64_t>(in[2]), static_cast<std::int64_t>(in[3])});
    }
    return r;
}

}  // namespace

EvalResult evaluate(Backend& backend, models::BatchSource& source, const RunOptions& opt, Communicator* comm) {
    const bool text = opt.loss == models::LossMode::next_byte;
    if (comm && comm->size() > 1 && !text) return evaluate_shared(backend, source, opt, *comm);
    EvalResult r;
    r.text = text;
    source.rewind_eval();
    const auto carry = backend.make_carry();
    models::Batch batch;
    while (source.next_eval(batch)) {
        if (!batch.continues) carry->clear();
        r.stats.add(backend.step(batch, opt, r.text ? carry.get() : nullptr, false, nullptr));
    }
    return r;
}

}  // namespace elm::sim
