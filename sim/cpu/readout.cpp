#include "elmsim/sim/cpu/readout.hpp"

#include <algorithm>

#include "elmsim/sim/cpu/small_gemm.hpp"

namespace elm::sim::cpu {

using models::TensorId;

namespace {
// Columns of n_out per forward task: a few packed panels, so that one step still splits over threads.
constexpr int kForwardColumns = 4 * kGemmPanel;
// Rows per task of the gradient products, and depth of one pass of the W_o gradient (the (step,
// sample) rows a pass streams while its block of W_o's gradient stays in registers and L1).
constexpr int kOutputRowsPerTask = 16;
constexpr int kSampleRowsPerTask = 32;
constexpr int kDepthBlock = 256;
}  // namespace

template <class Real>
void readout_forward(const models::Network<Real>& net, ForwardWorkspace<Real>& ws, const Real* y, int steps, int B,
                     Real* logits, Executor& ex) {
    if (!ws.prepared) ws.prepare(net);
    const int N = net.cfg.N, n_out = net.cfg.n_out;
    const Real* bo = net.tensor(TensorId::b_o);
    const std::size_t slot = static_cast<std::size_t>(N) * B;
    const int chunks = (n_out + kForwardColumns - 1) / kForwardColumns;
    ex.parallel_for(steps * chunks, [&](int begin, int end) {
        for (int task = begin; task < end; ++task) {
            const int r = task / chunks, o0 = (task % chunks) * kForwardColumns;
            const int width = std::min(kForwardColumns, n_out - o0);
            Real* out = logits + static_cast<std::size_t>(r) * B * n_out;
            for (int b = 0; b < B; ++b) std::copy(bo + o0, bo + o0 + width, out + static_cast<std::size_t>(b) * n_out + o0);
            // logits_r[b][o] += sum_i y_r[i][b] W_o^T[i][o]: y_r is [N][B], the transposed operand.
            gemm_tn_acc_unfused_packed(B, width, N, y + r * slot, B, ws.Wot.data() + static_cast<std::size_t>(o0) * N,
                               out + o0, n_out);
        }
    });
}

template <class Real>
void readout_backward(const models::Network<Real>& net, const Real* y, int steps, int B, const Real* g_logits,
                      Real* grads, Real* g_y, std::vector<Real>& scratch, Executor& ex) {
    const int N = net.cfg.N, n_out = net.cfg.n_out, rows = steps * B;
    const Real* Wo = net.tensor(TensorId::W_o);
    Real* gWo = grads + net.layout[TensorId::W_o].offset;
    Real* gbo = grads + net.layout[TensorId::b_o].offset;
    const std::size_t slot = static_cast<std::size_t>(N) * B;
    scratch.resize(static_cast<std::size_t>(rows) * N);
    Real* by_row = scratch.data();  // [steps B][N]: y by (step, sample) row, then dL/dy by row

    ex.parallel_for(steps, [&](int begin, int end) {
        for (int r = begin; r < end; ++r)
            for (int i = 0; i < N; ++i)
                for (int b = 0; b < B; ++b)
                    by_row[(static_cast<std::size_t>(r) * B + b) * N + i] = y[r * slot + static_cast<std::size_t>(i) * B + b];
    });
    // Parameter gradients: grad W_o[o][i] += sum over rows k of g[k][o] y[k][i], k ascending, in passes
    // of kDepthBlock rows; b_o likewise. One task per block of output rows.
    const int row_tasks = (n_out + kOutputRowsPerTask - 1) / kOutputRowsPerTask;
    ex.parallel_for(row_tasks, [&](int begin, int end) {
        for (int task = begin; task < end; ++task) {
            const int o0 = task * kOutputRowsPerTask, height = std::min(kOutputRowsPerTask, n_out - o0);
            for (int k0 = 0; k0 < rows; k0 += kDepthBlock) {
                const int depth = std::min(kDepthBlock, rows - k0);
                gemm_tn_acc(height, N, depth, g_logits + static_cast<std::size_t>(k0) * n_out + o0, n_out,
                            by_row + static_cast<std::size_t>(k0) * N, N, gWo + static_cast<std::size_t>(o0) * N, N);
            }
            for (int o = o0; o < o0 + height; ++o)
                for (int k = 0; k < rows; ++k) gbo[o] += g_logits[static_cast<std::size_t>(k) * n_out + o];
        }
    });
    // dL/dy by row: [rows][N] = g [rows][n_out] W_o [n_out][N], each element over o ascending from 0;
    // then back to the [steps][N][B] layout.
    std::fill(by_row, by_row + static_cast<std::size_t>(rows) * N, Real(0));
    const int sample_tasks = (rows + kSampleRowsPerTask - 1) / kSampleRowsPerTask;
    ex.parallel_for(sample_tasks, [&](int begin, int end) {
        for (int task = begin; task < end; ++task) {
            const int k0 = task * kSampleRowsPerTask, height = std::min(kSampleRowsPerTask, rows - k0);
            gemm_nn_acc(height, N, n_out, g_logits + static_cast<std::size_t>(k0) * n_out, n_out, Wo, N,
                        by_row + static_cast<std::size_t>(k0) * N, N);
        }
    });
    ex.parallel_for(steps, [&](int begin, int end) {
        for (int r = begin; r < end; ++r)
            for (int i = 0; i < N; ++i)
                for (int b = 0; b < B; ++b)
                    g_y[r * slot + static_cast<std::size_t>(i) * B + b] = by_row[(static_cast<std::size_t>(r) * B + b) * N + i];
    });
}

#define ELM_INSTANTIATE(Real)                                                                                      \
    template void readout_forward<Real>(const models::Network<Real>&, ForwardWorkspace<Real>&, const Real*, int, int, \
                                        Real*, Executor&);                                                         \
    template void readout_backward<Real>(const models::Network<Real>&, const Real*, int, int, const Real*, Real*,   \
                                         Real*, std::vector<Real>&, Executor&);
ELM_INSTANTIATE(float)
ELM_INSTANTIATE(double)
#undef ELM_INSTANTIATE

}  // namespace elm::sim::cpu
