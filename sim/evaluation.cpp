#include "elmsim/sim/evaluation.hpp"

namespace elm::sim {

EvalResult evaluate(Backend& backend, models::BatchSource& source, const RunOptions& opt) {
    EvalResult r;
    r.text = opt.loss == models::LossMode::next_byte;
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
