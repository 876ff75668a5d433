#include "elmsim/models/network.hpp"

#include <algorithm>
#include <cmath>

#include "elmsim/models/rng.hpp"

namespace elm::models {

double initial_tau_m(const ModelConfig& cfg, int k) {
    double tau = cfg.tau_init_min_ms;
    if (cfg.d_m > 1) {
        const double a = std::log(cfg.tau_init_min_ms), b = std::log(cfg.tau_init_max_ms);
        tau = std::exp(a + (b - a) * k / (cfg.d_m - 1));
    }
    constexpr double kInside = 1e-6;
    tau = std::clamp(tau, cfg.tau_min_ms + kInside, cfg.tau_max_ms - kInside);
    return tau;
}

template <class Real>
Network<Real> make_network(const ModelConfig& cfg) {
    Network<Real> net(cfg);
    net.src = draw_connectivity(cfg);
    Rng rng(cfg.seed, /*stream=*/2);
    auto uniform = [&](TensorId id, double fan_in) {
        const auto& s = net.layout[id];
        const double bound = 1.0 / std::sqrt(fan_in);
        Real* p = net.tensor(id);
        for (std::size_t k = 0; k < s.size; ++k) p[k] = static_cast<Real>(rng.uniform(-bound, bound));
    };
    uniform(TensorId::w_syn, cfg.k_c);
    if (cfg.output_mode != OutputMode::lif) {
        Real* p = net.tensor(TensorId::tau_m_raw);
        for (int i = 0; i < cfg.N; ++i)
            for (int k = 0; k < cfg.d_m; ++k) {
                const double q = (initial_tau_m(cfg, k) - cfg.tau_min_ms) / (cfg.tau_max_ms - cfg.tau_min_ms);
                p[static_cast<std::size_t>(i) * cfg.d_m + k] = static_cast<Real>(std::log(q / (1.0 - q)));
            }
        uniform(TensorId::W1, cfg.mlp_in());
        uniform(TensorId::b1, cfg.mlp_in());
        if (cfg.l > 1) {
            uniform(TensorId::Wh, cfg.d_h);
            uniform(TensorId::bh, cfg.d_h);
        }
        uniform(TensorId::W2, cfg.d_h);
        uniform(TensorId::b2, cfg.d_h);
        uniform(TensorId::wy, cfg.d_m);
        // c = 0 (spec section 3): the buffer is already zero.
    }
    uniform(TensorId::W_o, cfg.N);
    uniform(TensorId::b_o, cfg.N);
    if (cfg.C_e > 0) {
        Real* e = net.tensor(TensorId::embedding);
        for (std::size_t k = 0; k < net.layout[TensorId::embedding].size; ++k) e[k] = static_cast<Real>(rng.normal());
    }
    return net;
}

template Network<float> make_network<float>(const ModelConfig&);
template Network<double> make_network<double>(const ModelConfig&);

}  // namespace elm::models
