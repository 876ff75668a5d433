// Analytic FLOP count of the ELM Network step (see flop_count.hpp for the convention and the parts).
#include "tools/bench/flop_count.hpp"

namespace elm::bench {

NeuronStepMacs neuron_step_macs(const models::ModelConfig& cfg) {
    NeuronStepMacs m;
    m.synapses = cfg.k_c;
    if (cfg.output_mode == models::OutputMode::lif) {
        m.memory = 2;  // kappa_v v (1 - s) + drive: the membrane is LIF's only state
        return m;
    }
    const std::int64_t dh = cfg.d_h, dm = cfg.d_m;
    m.branches = cfg.n_b;
    m.mlp = dh * (cfg.n_b + dm) + static_cast<std::int64_t>(cfg.l - 1) * dh * dh + dm * dh;
    m.memory = 2 * dm;
    m.unit_readout = dm;
    return m;
}

FlopCount count_flops(const models::ModelConfig& cfg, int T, int B, int logit_steps) {
    const NeuronStepMacs m = neuron_step_macs(cfg);
    // Doubles: the counts of the large configurations exceed 2^31 and are only ever divided by time.
    const double unit_steps = static_cast<double>(cfg.N) * B * T;
    const double readout_macs = static_cast<double>(cfg.n_out) * cfg.N * B * logit_steps;
    FlopCount f;
    f.forward = 2.0 * (static_cast<double>(m.total()) * unit_steps + readout_macs);
    f.backward = 2.0 * (static_cast<double>(2 * m.matmul() + m.elementwise()) * unit_steps + 2.0 * readout_macs);
    return f;
}

}  // namespace elm::bench
