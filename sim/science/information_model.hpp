// The closed forms of spec science.md, exactly as written there (they are a contract for files and
// tests):
//   information model (section 3)
//     s(k_e, k_c) = s0 k_e^alpha k_c^beta                      per-neuron signal-to-noise ratio
//     I_1 = 1/2 log2(1 + s)                                     bits per neuron (saturates: log in s)
//     N_eff = N / (1 + N / N0)                                  independent neurons (saturates at N0)
//     I = N_eff I_1,   L = L_inf + (L_0 - L_inf) exp(-I / kappa)
//   scaling law of the Pareto front (section 2):  L*(P) = L_inf + A P^(-gamma)
//   additive power law (section 3, the model's rival):  L = L_inf + A N^(-a) + B k_e^(-b) + C k_c^(-c)
#pragma once

#include <cmath>

namespace elm::science {

// Version of science.md sections 2-4 that the fits and fit.json implement.
inline constexpr int kScienceSpecVersion = 1;

struct InformationModel {
    double s0 = 1.0, alpha = 0.5, beta = 0.5, N0 = 100.0, kappa = 10.0, L_inf = 0.0;
    double L_0 = 1.0;  // the loss of a network that knows nothing: fixed by the metric, not fitted

    double snr(double k_e, double k_c) const { return s0 * std::pow(k_e, alpha) * std::pow(k_c, beta); }
    double bits_per_neuron(double k_e, double k_c) const { return 0.5 * std::log1p(snr(k_e, k_c)) / std::log(2.0); }
    double effective_neurons(double N) const { return N / (1.0 + N / N0); }
    double information(double N, double k_e, double k_c) const {
        return effective_neurons(N) * bits_per_neuron(k_e, k_c);
    }
    double loss(double N, double k_e, double k_c) const {
        return L_inf + (L_0 - L_inf) * std::exp(-information(N, k_e, k_c) / kappa);
    }
};

struct ScalingLaw {
    double L_inf = 0.0, A = 1.0, gamma = 0.5;
    double loss(double P) const { return L_inf + A * std::pow(P, -gamma); }
};

struct AdditivePowerLaw {
    double L_inf = 0.0, A = 1.0, a = 0.5, B = 1.0, b = 0.5, C = 1.0, c = 0.5;
    double loss(double N, double k_e, double k_c) const {
        return L_inf + A * std::pow(N, -a) + B * std::pow(k_e, -b) + C * std::pow(k_c, -c);
    }
};

}  // namespace elm::science
