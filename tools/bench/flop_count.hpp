// Analytic floating-point work of one training step and one inference pass of an ELM Network
// (spec sections 2, 3, 7), for the training benchmark (`elmsim bench`): achieved GFLOP/s
// is this count divided by measured time, so it must depend only on the configuration.
//
// Convention: one multiply-add (MAC) = 2 FLOPs; a lone multiply or add counted as one MAC too, so a
// part's FLOPs are 2 x its MACs. Nonlinearities (phi, tanh, exp of the decays), the loss and the
// optimizer update (O(P) per step against O(T N B k_e) for the rest) are not counted.
//
// Per neuron, sample and step the forward does:
//   synapses      k_c                                   gather w . z into the branches      (matmul)
//   branches      n_b                                   kappa_b b_{t-1} + drive            (elementwise)
//   mlp           d_h (n_b + d_m) + (l-1) d_h^2 + d_m d_h  W1 u, hidden layers, W2 h          (matmul)
//   memory        2 d_m                                 kappa_m m_{t-1}, + (1 - kappa_l) dm (elementwise)
//   unit_readout  d_m                                   v = wy . m                         (matmul)
// LIF neurons (section 6) have only synapses (k_c) and a 2-MAC membrane update (elementwise).
// The network readout W_o y costs n_out N per sample on each step whose logits are computed.
// Backward: every matmul-like product is differentiated twice (input and weight gradients), so it
// costs 2x its forward MACs; elementwise recurrences cost their forward count once more.
// Spiking networks scatter only from active sources, so for them the synapse count is an upper bound.
#pragma once

#include <cstdint>

#include "elmsim/models/model_config.hpp"

namespace elm::bench {

// Forward multiply-adds of one neuron for one sample and one step, by part.
struct NeuronStepMacs {
    std::int64_t synapses = 0;
    std::int64_t branches = 0;
    std::int64_t mlp = 0;
    std::int64_t memory = 0;
    std::int64_t unit_readout = 0;

    std::int64_t matmul() const { return synapses + mlp + unit_readout; }
    std::int64_t elementwise() const { return branches + memory; }
    std::int64_t total() const { return matmul() + elementwise(); }
};

NeuronStepMacs neuron_step_macs(const models::ModelConfig& cfg);

// FLOPs of one pass over T steps of a batch of B samples whose logits are computed on the last
// `logit_steps` steps (1 for the "last" loss).
struct FlopCount {
    double forward = 0;   // neurons + network readout
    double backward = 0;  // BPTT through the same
    double train() const { return forward + backward; }  // one training step without the optimizer
    double inference() const { return forward; }
};

FlopCount count_flops(const models::ModelConfig& cfg, int T, int B, int logit_steps);

}  // namespace elm::bench
