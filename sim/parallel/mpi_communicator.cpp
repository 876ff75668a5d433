// The Communicator of an MPI job (built with ELM_MPI): MPI_COMM_WORLD. The only file that includes
// mpi.h. MPI is initialised when the first world communicator is made and finalised when the process
// exits: after main() has printed a failure, since MPI_Finalize waits for every rank, and the launcher
// ends the whole job as soon as one rank exits with an error.
#if defined(ELM_WITH_MPI)
#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <list>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/sim/parallel/communicator.hpp"

namespace elm::sim {

namespace {

void check(int rc, const char* what) {
    if (rc != MPI_SUCCESS) {
        char text[MPI_MAX_ERROR_STRING];
        int len = 0;
        MPI_Error_string(rc, text, &len);
        throw std::runtime_error(fmt::format("MPI: {} failed: {}", what, std::string(text, static_cast<std::size_t>(len))));
    }
}

class MpiCommunicator final : public Communicator {
public:
    MpiCommunicator() {
        int initialized = 0;
        MPI_Initialized(&initialized);
        if (!initialized) {
            int provided = 0;
            check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
            std::atexit([] {
                int finalized = 0;
                MPI_Finalized(&finalized);
                if (!finalized) MPI_Finalize();
            });
        }
        // Errors come back as return codes (turned into exceptions here), not as an abort.
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
    }
    ~MpiCommunicator() override {
        // Messages still in flight are delivered before their buffers go (small ones have left already).
        for (auto& p : pending_) MPI_Wait(&p.request, MPI_STATUS_IGNORE);
    }
    int rank() const override { return rank_; }
    int size() const override { return size_; }
    std::string describe() const override { return fmt::format("MPI: {} ranks", size_); }
    void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
    void broadcast(void* data, std::size_t bytes, int root) override {
        auto* p = static_cast<char*>(data);
        // MPI counts are int: large buffers go in pieces.
        constexpr std::size_t kPiece = std::size_t{1} << 30;
        for (std::size_t off = 0; off < bytes; off += kPiece) {
            const int n = static_cast<int>(std::min(kPiece, bytes - off));
            check(MPI_Bcast(p + off, n, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
        }
    }
    void all_gather(std::span<const float> mine, std::span<float> all) override { gather(mine, all, MPI_FLOAT); }
    void all_gather(std::span<const double> mine, std::span<double> all) override { gather(mine, all, MPI_DOUBLE); }
    void all_gather(std::span<const std::int64_t> mine, std::span<std::int64_t> all) override {
        gather(mine, all, MPI_INT64_T);
    }

    void exchange(int partner, std::span<const float> send, std::span<float> recv) override {
        if (send.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) ||
            recv.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
            throw std::logic_error("exchange: over 2^31 values");
        check(MPI_Sendrecv(send.data(), static_cast<int>(send.size()), MPI_FLOAT, partner, 0, recv.data(),
                           static_cast<int>(recv.size()), MPI_FLOAT, partner, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
              "MPI_Sendrecv");
    }

    void send(int to, std::string text) override {
        if (to < 0 || to >= size_) throw std::logic_error("send: no such rank");
        if (text.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
            throw std::logic_error("send: a message over 2 GiB");
        reap_sends();
        pending_.push_back(Pending{std::move(text), MPI_REQUEST_NULL});
        Pending& p = pending_.back();
        check(MPI_Isend(p.text.data(), static_cast<int>(p.text.size()), MPI_BYTE, to, kMessageTag, MPI_COMM_WORLD, &p.request),
              "MPI_Isend");
    }
    std::optional<Message> poll() override {
        reap_sends();
        int arrived = 0;
        MPI_Status status;
        check(MPI_Iprobe(MPI_ANY_SOURCE, kMessageTag, MPI_COMM_WORLD, &arrived, &status), "MPI_Iprobe");
        if (!arrived) return std::nullopt;
        int bytes = 0;
        check(MPI_Get_count(&status, MPI_BYTE, &bytes), "MPI_Get_count");
        Message m{status.MPI_SOURCE, std::string(static_cast<std::size_t>(bytes), '\0')};
        check(MPI_Recv(m.text.data(), bytes, MPI_BYTE, status.MPI_SOURCE, kMessageTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
              "MPI_Recv");
        return m;
    }

private:
    // Messages have their own tag: exchange() uses 0, collectives their own context.
    static constexpr int kMessageTag = 7;
    struct Pending {
        std::string text;  // kept alive until the send completes
        MPI_Request request;
    };

    void reap_sends() {
        for (auto it = pending_.begin(); it != pending_.end();) {
            int done = 0;
            check(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE), "MPI_Test");
            it = done ? pending_.erase(it) : std::next(it);
        }
    }

    template <class T>
    void gather(std::span<const T> mine, std::span<T> all, MPI_Datatype type) {
        if (all.size() != mine.size() * static_cast<std::size_t>(size_))
            throw std::logic_error("all_gather: the output does not hold every rank's values");
        if (mine.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
            throw std::logic_error("all_gather: over 2^31 values per rank");
        const int n = static_cast<int>(mine.size());
        check(MPI_Allgather(mine.data(), n, type, all.data(), n, type, MPI_COMM_WORLD), "MPI_Allgather");
    }

    int rank_ = 0, size_ = 1;
    std::list<Pending> pending_;  // a list: a send's buffer and request never move
};

}  // namespace

std::unique_ptr<Communicator> world_communicator() {
    if (launcher_rank_count() <= 1 && !std::getenv("OMPI_COMM_WORLD_SIZE")) return std::make_unique<LocalCommunicator>();
    return std::make_unique<MpiCommunicator>();
}

}  // namespace elm::sim
#endif
