// Communicator: the processes of one job (one `mpirun`/`srun` launch) as the trainer sees them. The
// trainer's layer reaches other processes only through this interface; the single-process
// implementation (LocalCommunicator) needs no MPI, and sim/parallel/mpi_communicator.cpp is the one
// file that knows MPI (built with the CMake option ELM_MPI).
//
// Every collective is called by every rank, in the same order, with the same sizes. Messages (send /
// poll) are point to point, for a coordinator and its workers: no rank waits for them.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <span>
#include <string>
#include <vector>

#include "elmsim/models/error.hpp"

namespace elm::sim {

class Communicator {
public:
    virtual ~Communicator() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    // "1 process", "MPI: 4 ranks" (logs).
    virtual std::string describe() const = 0;

    virtual void barrier() = 0;
    // `bytes` bytes at `data` from rank `root` to every rank.
    virtual void broadcast(void* data, std::size_t bytes, int root) = 0;
    // Every rank's `mine` (the same length on every rank) into `all`, in rank order:
    // all.size() == size() * mine.size().
    virtual void all_gather(std::span<const float> mine, std::span<float> all) = 0;
    virtual void all_gather(std::span<const double> mine, std::span<double> all) = 0;
    virtual void all_gather(std::span<const std::int64_t> mine, std::span<std::int64_t> all) = 0;
    // Sends `send` to rank `partner` and receives as many values from it into `recv` (the partner
    // calls it with this rank as its partner).
    virtual void exchange(int partner, std::span<const float> send, std::span<float> recv) = 0;

    // A message (bytes) to rank `to`: returns at once, the text copied. Messages from one rank to
    // another arrive in the order they were sent.
    struct Message {
        int from = 0;
        std::string text;
    };
    virtual void send(int to, std::string text) = 0;
    // The next message that has arrived for this rank, from any rank; nullopt when none has (never waits).
    virtual std::optional<Message> poll() = 0;
};

class LocalCommunicator final : public Communicator {
public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    std::string describe() const override { return "1 process"; }
    void barrier() override {}
    void broadcast(void*, std::size_t, int) override {}
    void all_gather(std::span<const float> mine, std::span<float> all) override { copy(mine, all); }
    void all_gather(std::span<const double> mine, std::span<double> all) override { copy(mine, all); }
    void all_gather(std::span<const std::int64_t> mine, std::span<std::int64_t> all) override { copy(mine, all); }
    void exchange(int, std::span<const float>, std::span<float>) override {
        throw std::logic_error("exchange: a single process has no partner");
    }
    void send(int to, std::string text) override {
        if (to != 0) throw std::logic_error("send: a single process has only rank 0");
        inbox_.push_back(Message{0, std::move(text)});
    }
    std::optional<Message> poll() override {
        if (inbox_.empty()) return std::nullopt;
        Message m = std::move(inbox_.front());
        inbox_.pop_front();
        return m;
    }

private:
    std::deque<Message> inbox_;

    template <class T>
    static void copy(std::span<const T> mine, std::span<T> all) {
        for (std::size_t i = 0; i < mine.size() && i < all.size(); ++i) all[i] = mine[i];
    }
};

// Sums of buffers in one fixed order: the balanced binary tree over the leaves 0..n-1 (a node's sum is
// its left half's sum plus its right half's, the left half holding ceil(n/2) leaves), so the floats
// depend only on n and the leaves, never on which process held which leaf.
template <class Real>
void tree_sum(const std::vector<const Real*>& leaves, std::size_t count, Real* out);

// Each rank's `data` (the same length on every rank) replaced by the sum over ranks in the tree order
// of tree_sum (leaves = ranks), on every rank. With a power-of-two rank count: reduce-scatter by
// recursive halving (neighbours first, so each step adds a lower subtree to the higher one, as the
// tree does) and an all-gather of the pieces: about 8 bytes per value per rank whatever the count.
// Otherwise every rank gathers every rank's data (4 R bytes per value) and sums locally.
// `buffers` are kept between calls by a caller that sums every step: fresh memory on each call costs
// more than the exchange (page faults, the transport registering new buffers).
struct RankSumBuffers {
    std::vector<float> work, theirs, pieces;
};
void tree_sum_over_ranks(Communicator& comm, std::vector<float>& data, RankSumBuffers& buffers);

// Whether the leaves [r q, (r + 1) q) of the tree over n leaves are each one node of it (r = 0 ..
// n/q - 1): then a process can sum its block alone and the blocks' sums combine to the same floats.
bool blocks_are_subtrees(int n, int q);

// Every rank's outcome of a stretch of local work, agreed so that no rank waits in a collective for
// one that failed: returns normally when every rank's `error` is empty; otherwise every rank throws
// the error of the lowest failing rank — rank 0 as elm::InputError (the one line the user sees), the
// others as elm::QuietExit (they exit 2 without printing).
void agree_or_throw(Communicator& comm, const std::string& error);

// Runs `work` and agrees on its outcome with every other process (agree_or_throw): a failure on any
// process ends all of them alike before any waits in the next collective. One process: just `work`.
template <class F>
void run_agreed(Communicator& comm, F&& work) {
    if (comm.size() == 1) {
        work();
        return;
    }
    std::string error;
    try {
        work();
    } catch (const InputError& e) {
        error = e.what();
    } catch (const std::bad_alloc&) {
        error = "out of memory (reduce batch size, window or model size)";
    } catch (const std::exception& e) {
        error = std::string("internal error: ") + e.what();
    }
    agree_or_throw(comm, error);
}

// The communicator of this process's job: MPI's world when this process was started by an MPI
// launcher (mpirun, mpiexec, srun), else a LocalCommunicator. A build without MPI started with more
// than one rank is an InputError (R copies would overwrite each other's outputs).
std::unique_ptr<Communicator> world_communicator();

// The rank count the launcher announced in the environment (1 when none), and this process's rank
// in it (0 when none).
int launcher_rank_count();
int launcher_rank();

// Why a build without MPI cannot be `ranks` processes (empty when it can: one).
std::string refusal_without_mpi(int ranks);

}  // namespace elm::sim
