#include "elmsim/sim/loss.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace elm::sim {

using models::LossMode;

int loss_steps(LossMode mode, int T, int k) {
    switch (mode) {
        case LossMode::last: return 1;
        case LossMode::mean_last_k: return std::min(T, k);
        case LossMode::next_byte: return T;
    }
    return 1;
}

namespace {
// log-softmax of one row into lp (stable: subtract the max); returns nothing.
template <class Real>
void log_softmax(const Real* z, int n, double* lp) {
    double mx = z[0];
    for (int o = 1; o < n; ++o) mx = std::max(mx, static_cast<double>(z[o]));
    double s = 0;
    for (int o = 0; o < n; ++o) s += std::exp(static_cast<double>(z[o]) - mx);
    const double lse = mx + std::log(s);
    for (int o = 0; o < n; ++o) lp[o] = static_cast<double>(z[o]) - lse;
}

int argmax(const double* v, int n) { return static_cast<int>(std::max_element(v, v + n) - v); }
}  // namespace

template <class Real>
LossStats compute_loss(LossMode mode, const Real* logits, int steps, int B, int n_out, const std::int32_t* targets,
                       Real* g_logits, std::int32_t* predictions) {
    LossStats st;
    std::vector<double> lp(n_out), acc(n_out);
    // Every (step, sample) term of the loss has the same weight: 1 / (number of terms averaged).
    const double weight = 1.0 / (static_cast<double>(B) * steps);
    for (int b = 0; b < B; ++b) {
        std::fill(acc.begin(), acc.end(), 0.0);
        double sample_total = 0;  // this sample's cross-entropies
        for (int r = 0; r < steps; ++r) {
            const std::size_t row = (static_cast<std::size_t>(r) * B + b) * n_out;
            const int target = mode == LossMode::next_byte ? targets[static_cast<std::size_t>(r) * B + b] : targets[b];
            log_softmax(logits + row, n_out, lp.data());
            sample_total -= lp[target];
            if (g_logits)
                for (int o = 0; o < n_out; ++o)
                    g_logits[row + o] = static_cast<Real>(weight * (std::exp(lp[o]) - (o == target ? 1.0 : 0.0)));
            if (mode == LossMode::next_byte) {
                const int predicted = argmax(lp.data(), n_out);
                if (predictions) predictions[static_cast<std::size_t>(r) * B + b] = predicted;
                st.correct += predicted == target;
                ++st.count;
            } else {
                for (int o = 0; o < n_out; ++o) acc[o] += lp[o];
            }
        }
        if (mode == LossMode::next_byte) {  // one term per predicted byte
            st.loss_sum += sample_total;
            st.terms += steps;
        } else {  // one term per sample: the mean over its loss steps
            const int predicted = argmax(acc.data(), n_out);
            if (predictions) predictions[b] = predicted;
            st.correct += predicted == targets[b];
            ++st.count;
            st.loss_sum += sample_total / steps;
            st.terms += 1;
        }
    }
    return st;
}

template LossStats compute_loss<float>(LossMode, const float*, int, int, int, const std::int32_t*, float*, std::int32_t*);
template LossStats compute_loss<double>(LossMode, const double*, int, int, int, const std::int32_t*, double*,
                                        std::int32_t*);

}  // namespace elm::sim
