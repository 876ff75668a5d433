#include "elmsim/sim/parallel/communicator.hpp"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"

namespace elm::sim {

namespace {

// Values [begin, begin + n) of the sum of leaves [lo, hi) into out, n <= kChunk: a chunk at a time,
// so the right halves live on the stack and a sum of any length allocates nothing.
constexpr std::size_t kChunk = 256;

template <class Real>
void subtree_sum(const std::vector<const Real*>& leaves, std::size_t lo, std::size_t hi, std::size_t begin, std::size_t n,
                 Real* out) {
    if (hi - lo == 1) {
        std::copy_n(leaves[lo] + begin, n, out);
        return;
    }
    const std::size_t mid = lo + (hi - lo + 1) / 2;
    subtree_sum(leaves, lo, mid, begin, n, out);
    Real right[kChunk];
    subtree_sum(leaves, mid, hi, begin, n, right);
    for (std::size_t i = 0; i < n; ++i) out[i] = out[i] + right[i];
}

bool covers(int lo, int hi, int q) {
    const int n = hi - lo;
    if (n == q) return lo % q == 0;
    if (n < q) return false;
    const int mid = lo + (n + 1) / 2;
    return covers(lo, mid, q) && covers(mid, hi, q);
}

// A launcher's variable as a number >= 0, or -1 when absent or not a number.
int env_int(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) return -1;
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    return (end && *end == '\0' && x >= 0 && x < (1L << 30)) ? static_cast<int>(x) : -1;
}

}  // namespace

template <class Real>
void tree_sum(const std::vector<const Real*>& leaves, std::size_t count, Real* out) {
    if (leaves.empty()) {
        for (std::size_t i = 0; i < count; ++i) out[i] = Real(0);
        return;
    }
    for (std::size_t begin = 0; begin < count; begin += kChunk)
        subtree_sum(leaves, 0, leaves.size(), begin, std::min(kChunk, count - begin), out + begin);
}

template void tree_sum<float>(const std::vector<const float*>&, std::size_t, float*);
template void tree_sum<double>(const std::vector<const double*>&, std::size_t, double*);

void tree_sum_over_ranks(Communicator& comm, std::vector<float>& data, RankSumBuffers& buffers) {
    const int R = comm.size(), r = comm.rank();
    if (R == 1) return;
    const std::size_t count = data.size();
    if ((R & (R - 1)) != 0) {
        std::vector<float>& all = buffers.pieces;
        all.resize(count * static_cast<std::size_t>(R));
        comm.all_gather(std::span<const float>(data), std::span<float>(all));
        std::vector<const float*> leaves;
        for (int k = 0; k < R; ++k) leaves.push_back(all.data() + static_cast<std::size_t>(k) * count);
        tree_sum(leaves, count, data.data());
        return;
    }
    // Padded to R equal pieces. Stage d = 1, 2, 4, ...: partners r and r ^ d hold the sums of two
    // neighbouring subtrees of d ranks over the same range; each keeps one half of it, the lower
    // subtree's sum plus the higher one's. After log2 R stages rank r holds one piece of the total:
    // piece number reverse_bits(r) (the first stage's bit chose the top half).
    const std::size_t piece = (count + static_cast<std::size_t>(R) - 1) / static_cast<std::size_t>(R);
    std::vector<float>& work = buffers.work;
    std::vector<float>& theirs = buffers.theirs;
    work.resize(piece * static_cast<std::size_t>(R));
    std::copy(data.begin(), data.end(), work.begin());
    std::fill(work.begin() + static_cast<std::ptrdiff_t>(count), work.end(), 0.0f);
    std::size_t lo = 0, hi = work.size();
    for (int d = 1; d < R; d <<= 1) {
        const std::size_t mid = lo + (hi - lo) / 2;
        const bool lower = (r & d) == 0;
        const std::size_t keep_lo = lower ? lo : mid, keep_hi = lower ? mid : hi;
        const std::size_t send_lo = lower ? mid : lo, send_hi = lower ? hi : mid;
        theirs.resize(keep_hi - keep_lo);
        comm.exchange(r ^ d, std::span<const float>(work.data() + send_lo, send_hi - send_lo), std::span<float>(theirs));
        for (std::size_t i = keep_lo; i < keep_hi; ++i)
            work[i] = lower ? work[i] + theirs[i - keep_lo] : theirs[i - keep_lo] + work[i];
        lo = keep_lo;
        hi = keep_hi;
    }
    std::vector<float>& pieces = buffers.pieces;
    pieces.resize(work.size());
    comm.all_gather(std::span<const float>(work.data() + lo, piece), std::span<float>(pieces));
    int bits = 0;
    while ((1 << bits) < R) ++bits;
    for (int k = 0; k < R; ++k) {
        int rev = 0;
        for (int b = 0; b < bits; ++b)
            if (k & (1 << b)) rev |= 1 << (bits - 1 - b);
        const std::size_t at = static_cast<std::size_t>(rev) * piece;
        for (std::size_t i = 0; i < piece && at + i < count; ++i) data[at + i] = pieces[static_cast<std::size_t>(k) * piece + i];
    }
}

bool blocks_are_subtrees(int n, int q) { return n > 0 && q > 0 && n % q == 0 && covers(0, n, q); }

void agree_or_throw(Communicator& comm, const std::string& error) {
    const int R = comm.size();
    if (R == 1) {
        if (!error.empty()) throw InputError(error);
        return;
    }
    const std::int64_t mine = static_cast<std::int64_t>(error.size()) + (error.empty() ? 0 : 1);
    std::vector<std::int64_t> lengths(static_cast<std::size_t>(R));
    comm.all_gather(std::span<const std::int64_t>(&mine, 1), lengths);
    int failed = -1;
    for (int r = 0; r < R && failed < 0; ++r)
        if (lengths[static_cast<std::size_t>(r)] > 0) failed = r;
    if (failed < 0) return;
    std::string message(static_cast<std::size_t>(lengths[static_cast<std::size_t>(failed)] - 1), '\0');
    if (comm.rank() == failed) message = error;
    if (!message.empty()) comm.broadcast(message.data(), message.size(), failed);
    if (comm.rank() != 0) throw QuietExit();
    throw InputError(failed == 0 ? message : fmt::format("rank {}: {}", failed, message));
}

int launcher_rank_count() {
    // Open MPI (mpirun), MPICH/Hydra and PMI-2 (mpiexec, srun --mpi=pmi2), PMIx (srun --mpi=pmix), and
    // Slurm's own count (srun without an MPI plugin still starts SLURM_NTASKS copies).
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
        if (const int n = env_int(name); n > 0) return n;
    if (std::getenv("SLURM_STEP_ID") && env_int("SLURM_STEP_NUM_TASKS") > 0) return env_int("SLURM_STEP_NUM_TASKS");
    return 1;
}

int launcher_rank() {
    for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"})
        if (const int r = env_int(name); r >= 0) return r;
    if (std::getenv("SLURM_STEP_ID") && env_int("SLURM_PROCID") >= 0) return env_int("SLURM_PROCID");
    return 0;
}

std::string refusal_without_mpi(int ranks) {
    if (ranks <= 1) return {};
    return fmt::format("started as {} processes, but this elmsim was built without MPI: each would train alone and "
                       "overwrite the others' outputs (rebuild with -DELM_MPI=ON, or start one process)",
                       ranks);
}

#if !defined(ELM_WITH_MPI)
std::unique_ptr<Communicator> world_communicator() {
    if (const std::string why = refusal_without_mpi(launcher_rank_count()); !why.empty()) throw InputError(why);
    return std::make_unique<LocalCommunicator>();
}
#endif

}  // namespace elm::sim
