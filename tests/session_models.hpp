// The small networks the streaming tests run (Session, the server's sessions, the server): a few
// neurons on a few channels with short timescales, so that sparse events visibly move every neuron.
#pragma once

#include "elmsim/models/model_config.hpp"

namespace elm::test {

inline models::ModelConfig session_config(models::OutputMode mode) {
    models::ModelConfig cfg;
    cfg.N = 10;
    cfg.C = 30;
    cfg.n_out = 4;
    cfg.d_m = 3;
    cfg.d_h = 6;
    cfg.n_b = 2;
    cfg.k_c = 6;
    cfg.dt_ms = 2.0;
    cfg.tau_init_min_ms = 2.0;
    cfg.tau_init_max_ms = 40.0;
    cfg.output_mode = mode;
    cfg.theta = 0.02;
    cfg.seed = 21;
    return cfg;
}

}  // namespace elm::test
