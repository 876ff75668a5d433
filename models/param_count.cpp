#include "elmsim/models/param_count.hpp"

namespace elm::models {

ParamCount count_params(const ModelConfig& cfg) {
    ParamCount p;
    const std::int64_t dm = cfg.d_m, dh = cfg.d_h, nb = cfg.n_b, l = cfg.l;
    if (cfg.output_mode != OutputMode::lif) {
        p.mlp = (nb + dm) * dh + dh + (l - 1) * (dh * dh + dh) + dh * dm + dm;
        p.output = dm + 1;
        p.tau = cfg.learn_tau_m ? dm : 0;
    }
    p.k_e = p.mlp + p.output + p.tau;
    p.k_c = cfg.k_c;
    p.readout = static_cast<std::int64_t>(cfg.n_out) * (cfg.N + 1);
    p.embedding = 256 * static_cast<std::int64_t>(cfg.C_e);
    p.P = static_cast<std::int64_t>(cfg.N) * (p.k_c + p.k_e) + p.readout + p.embedding;
    return p;
}

}  // namespace elm::models
