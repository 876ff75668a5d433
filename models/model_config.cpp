#include "elmsim/models/model_config.hpp"

#include <cmath>

#include <fmt/format.h>

#include "elmsim/models/enum_names.hpp"
#include "elmsim/models/error.hpp"

namespace elm::models {

std::string to_string(OutputMode m) {
    switch (m) {
        case OutputMode::analog: return "analog";
        case OutputMode::spike: return "spike";
        case OutputMode::lif: return "lif";
    }
    return "analog";
}

std::string to_string(Phi p) { return p == Phi::relu ? "relu" : "silu"; }

std::string to_string(DriveRule d) { return name_in(kDriveRuleNames, d); }
DriveRule drive_rule_from_string(const std::string& s) { return value_in(kDriveRuleNames, s, "drive"); }

std::string to_string(MemoryGain g) { return name_in(kMemoryGainNames, g); }
MemoryGain memory_gain_from_string(const std::string& s) { return value_in(kMemoryGainNames, s, "memory_gain"); }

std::string to_string(MemoryInput m) { return name_in(kMemoryInputNames, m); }
MemoryInput memory_input_from_string(const std::string& s) { return value_in(kMemoryInputNames, s, "memory_input"); }

OutputMode output_mode_from_string(const std::string& s) {
    if (s == "analog") return OutputMode::analog;
    if (s == "spike") return OutputMode::spike;
    if (s == "lif") return OutputMode::lif;
    throw InputError(fmt::format("output_mode: expected \"analog\", \"spike\" or \"lif\", got \"{}\"", s));
}

Phi phi_from_string(const std::string& s) {
    if (s == "relu") return Phi::relu;
    if (s == "silu") return Phi::silu;
    throw InputError(fmt::format("phi: expected \"relu\" or \"silu\", got \"{}\"", s));
}

int ModelConfig::k_in() const { return static_cast<int>(std::round(k_c * input_share)); }

namespace {
void require(bool ok, const std::string& msg) {
    if (!ok) throw InputError(msg);
}
bool finite_positive(double v) { return std::isfinite(v) && v > 0.0; }
}  // namespace

void ModelConfig::validate() const {
    require(N >= 1, fmt::format("model.N must be >= 1, got {}", N));
    require(C >= 1, fmt::format("model.C (input channels) must be >= 1, got {}", C));
    require(n_out >= 1, fmt::format("model.n_out must be >= 1, got {}", n_out));
    require(k_c >= 1, fmt::format("model.k_c must be >= 1, got {}", k_c));
    require(C_e >= 0, fmt::format("model.C_e must be >= 0, got {}", C_e));
    require(C_e == 0 || C == 256, fmt::format("model.C_e > 0 needs a byte task (C = 256), got C = {}", C));
    require(std::isfinite(input_share) && input_share >= 0.0 && input_share <= 1.0,
            fmt::format("model.input_share must be in [0, 1], got {}", input_share));
    require(finite_positive(dt_ms), fmt::format("dt_ms must be > 0, got {}", dt_ms));
    require(finite_positive(tau_v_ms), fmt::format("model.tau_v_ms must be > 0, got {}", tau_v_ms));
    require(std::isfinite(theta), "model.theta must be finite");
    require(finite_positive(beta), fmt::format("model.beta must be > 0, got {}", beta));
    const int kin = k_in();
    const int krec = k_rec();
    const int max_rec = self_synapse ? N : N - 1;
    require(kin <= input_width(),
            fmt::format("model.k_c = {} with input_share = {} asks for {} distinct input channels, but only {} exist",
                        k_c, input_share, kin, input_width()));
    require(krec <= max_rec,
            fmt::format("model.k_c = {} with input_share = {} asks for {} distinct recurrent sources, but only {} "
                        "other neurons exist (N = {})",
                        k_c, input_share, krec, max_rec, N));
    if (output_mode == OutputMode::lif) return check_size();  // the LIF unit has no branches, MLP or memory
    require(d_m >= 1, fmt::format("model.d_m must be >= 1, got {}", d_m));
    require(d_h >= 1, fmt::format("model.d_h must be >= 1, got {}", d_h));
    require(l >= 1, fmt::format("model.l (hidden layers) must be >= 1, got {}", l));
    require(n_b >= 1, fmt::format("model.n_b must be >= 1, got {}", n_b));
    require(k_c % n_b == 0, fmt::format("model.k_c = {} is not divisible by model.n_b = {}", k_c, n_b));
    require(finite_positive(lambda), fmt::format("model.lambda must be > 0, got {}", lambda));
    require(finite_positive(tau_b_ms), fmt::format("model.tau_b_ms must be > 0, got {}", tau_b_ms));
    require(std::isfinite(tau_min_ms) && tau_min_ms >= 0.0,
            fmt::format("model.tau_min_ms must be >= 0, got {}", tau_min_ms));
    require(std::isfinite(tau_max_ms) && tau_max_ms > tau_min_ms,
            fmt::format("model.tau_max_ms must be > tau_min_ms = {}, got {}", tau_min_ms, tau_max_ms));
    require(finite_positive(tau_init_min_ms) && tau_init_max_ms >= tau_init_min_ms,
            fmt::format("model.tau_init_min_ms/tau_init_max_ms must satisfy 0 < min <= max, got {} and {}",
                        tau_init_min_ms, tau_init_max_ms));
    check_size();
}

void ModelConfig::check_size() const {
    // In floating point, so that no product of absurd sizes can overflow before it is compared.
    const bool lif = output_mode == OutputMode::lif;
    const double dm = d_m, dh = d_h, nb = n_b, layers = l;
    const double per_neuron =
        k_c + (lif ? 4.0 : (nb + dm) * dh + dh + (layers - 1.0) * (dh * dh + dh) + dh * dm + 3.0 * dm + 1.0);
    const double total = static_cast<double>(N) * per_neuron + static_cast<double>(n_out) * (N + 1.0) + 256.0 * C_e;
    require(total <= kMaxParameters,
            fmt::format("the model would hold {:.3g} parameters, more than the {:.3g} elmsim allows (their gradients "
                        "and optimizer moments take four times that memory): reduce N, d_m, d_h, l or k_c",
                        total, kMaxParameters));
}

}  // namespace elm::models
