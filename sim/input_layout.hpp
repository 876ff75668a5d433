// The model input of a batch in the two layouts that meet at the backend interface: the batch's own
// [T][B][C] (models/batch.hpp, batch dumps) and the engines' [T][C][B] (each step's input by channel).
#pragma once

#include <cstddef>
#include <vector>

namespace elm::sim {

// [T][B][C] from [T][C][B].
template <class Real>
std::vector<Real> batch_major_input(const std::vector<Real>& xt, int T, int B, int C) {
    std::vector<Real> x(xt.size());
    const std::size_t step = static_cast<std::size_t>(B) * C;
    for (int t = 0; t < T; ++t)
        for (int b = 0; b < B; ++b)
            for (int c = 0; c < C; ++c)
                x[t * step + static_cast<std::size_t>(b) * C + c] = xt[t * step + static_cast<std::size_t>(c) * B + b];
    return x;
}

}  // namespace elm::sim
