// ModelConfig: the structural hyper-parameters of an ELM Network (spec elm-network.md sections 2-4)
// and the checkpoint attributes of /model. Validation lives here so that every entry point (TOML
// config, checkpoint, tests) rejects impossible structures with the same messages.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>

namespace elm::models {

enum class OutputMode { analog, spike, lif };
enum class Phi { relu, silu };
// How analog neuron outputs drive their targets' branch traces (spec section 5, "Impulses and
// rates"): `rate` — a held rate, w y_prev g(dt) per update of length dt (the rule of this version,
// the same at every schedule); `per_update` — w y_prev at every update whatever its dt (the rule of
// models written before it: identical on the clock, but finer updates inject more drive per ms).
// Events (inputs, bytes, spike and LIF outputs) are impulses under both.
enum class DriveRule { rate, per_update };
// The gain of the memory drive dm (spec section 2, "Memory gain"): `lambda_decay` — 1 - kappa_l,
// kappa_l = exp(-dt lambda / tau_m), at every update (it saturates once dt lambda >> tau_m, so a unit
// faster than the update settles at a gain that depends on dt); `rate` — dm held as a rate over the
// update, normalised to the clock step like the drive's rate rule: identical on the clock, and a held dm
// brings every unit to the clock step's steady state on every schedule (the rule of new models).
enum class MemoryGain { lambda_decay, rate };
// How the MLP reads the memory (spec section 2, "Memory input"): `step_decay` — kappa_m(dt) m_{t-1}, the
// memory decayed over the update (a fine update hands the MLP a larger share of a fast unit than the
// clock step does); `clock_decay` — kappa_m(dt_c) m_{t-1}, one clock step's decay whatever the update's
// length: identical on the clock, and the same read of the same state on every schedule (the rule of
// new models).
enum class MemoryInput { step_decay, clock_decay };

inline constexpr std::array<std::pair<const char*, DriveRule>, 2> kDriveRuleNames{
    {{"rate", DriveRule::rate}, {"per_update", DriveRule::per_update}}};
inline constexpr std::array<std::pair<const char*, MemoryGain>, 2> kMemoryGainNames{
    {{"lambda_decay", MemoryGain::lambda_decay}, {"rate", MemoryGain::rate}}};
inline constexpr std::array<std::pair<const char*, MemoryInput>, 2> kMemoryInputNames{
    {{"step_decay", MemoryInput::step_decay}, {"clock_decay", MemoryInput::clock_decay}}};

std::string to_string(OutputMode m);
std::string to_string(Phi p);
std::string to_string(DriveRule d);
std::string to_string(MemoryGain g);
std::string to_string(MemoryInput m);
OutputMode output_mode_from_string(const std::string& s);  // throws InputError
Phi phi_from_string(const std::string& s);                  // throws InputError
DriveRule drive_rule_from_string(const std::string& s);     // "rate" | "per_update"; throws ParameterError
MemoryGain memory_gain_from_string(const std::string& s);   // "lambda_decay" | "rate"; throws ParameterError
MemoryInput memory_input_from_string(const std::string& s);  // "step_decay" | "clock_decay"; ParameterError

struct ModelConfig {
    int N = 64;              // neurons
    int C = 700;             // raw input channels of the task (256 for bytes)
    int n_out = 19;          // readout classes
    int d_m = 16;            // memory units per neuron
    int d_h = 32;            // MLP hidden width (spec default 2 d_m)
    int n_b = 4;             // dendritic branches
    int l = 1;               // MLP hidden layers
    int k_c = 32;            // synapses per neuron
    double input_share = 0.5;  // fraction of synapses drawn from input channels
    int C_e = 0;             // byte-embedding width (0 = one-hot channels)
    OutputMode output_mode = OutputMode::analog;
    Phi phi = Phi::relu;
    double dt_ms = 2.0;
    double lambda = 5.0;
    double tau_b_ms = 5.0;
    double tau_min_ms = 0.0;
    double tau_max_ms = 1000.0;
    double tau_init_min_ms = 1.0;
    double tau_init_max_ms = 150.0;
    double theta = 0.0;      // spike threshold ("spike" output mode)
    double beta = 10.0;      // surrogate sharpness
    double tau_v_ms = 5.0;   // LIF membrane time constant
    bool learn_tau_m = true;
    bool self_synapse = false;
    DriveRule drive = DriveRule::rate;
    MemoryGain memory_gain = MemoryGain::rate;  // files without the attribute: lambda_decay
    MemoryInput memory_input = MemoryInput::clock_decay;  // files without the attribute: step_decay
    std::uint64_t seed = 1;

    // Width of the model's input as the neurons see it: C_e with an embedding, else C.
    int input_width() const { return C_e > 0 ? C_e : C; }
    // Synapses drawn from input channels: round(k_c * input_share), half away from zero.
    int k_in() const;
    int k_rec() const { return k_c - k_in(); }
    int mlp_in() const { return n_b + d_m; }

    // Throws InputError naming the offending field when the structure is impossible.
    void validate() const;
    // validate()'s last check: at most kMaxParameters parameters, before anything is allocated.
    void check_size() const;
    static constexpr double kMaxParameters = 2147483648.0;  // 2^31 floats: 8 GiB of weights
};

}  // namespace elm::models
