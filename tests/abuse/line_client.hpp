// A JSON-lines TCP client for the abuse suite (tests/abuse/elm_abuse.cpp): plain POSIX sockets, non
// blocking, and every wait bounded by a deadline, so that whatever the server does (hang, flood,
// vanish) the suite's threads return in time. Boost.Asio's blocking calls have no timeout, which is
// why the tests' asio client (tests/test_server.cpp) is not used here.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace elm::abuse {

using Clock = std::chrono::steady_clock;

// The earlier of now + seconds and `limit`.
Clock::time_point within(double seconds, Clock::time_point limit);
double seconds_since(Clock::time_point t0);
double ms_since(Clock::time_point t0);

class LineClient {
public:
    enum class Read { line, closed, timeout };

    LineClient() = default;
    ~LineClient();
    LineClient(LineClient&& o) noexcept;
    LineClient& operator=(LineClient&& o) noexcept;
    LineClient(const LineClient&) = delete;
    LineClient& operator=(const LineClient&) = delete;

    // Connects to 127.0.0.1:port by the deadline; false (and why, in error()) otherwise.
    bool connect(int port, Clock::time_point deadline);
    // Starts a connection without waiting for it (the kernel completes it from the listen backlog).
    bool connect_nowait(int port);
    bool is_open() const { return fd_ >= 0; }
    int fd() const { return fd_; }
    const std::string& error() const { return error_; }

    // All of `data` by the deadline; false when the peer is gone or time ran out.
    bool send_all(std::string_view data, Clock::time_point deadline);
    bool send_line(std::string_view line, Clock::time_point deadline);
    // What one non-blocking send takes now (0 when the socket is full, -1 when the peer is gone).
    long send_some(std::string_view data);
    // The next line without its newline. Lines over max_bytes end the read as `closed`.
    Read read_line(std::string& out, Clock::time_point deadline, std::size_t max_bytes = std::size_t{64} << 20);
    // Whether the server has closed the connection by the deadline (discarding what it sends).
    bool wait_closed(Clock::time_point deadline);
    void close();

private:
    int fd_ = -1;
    std::string buf_;
    std::string error_;
};

}  // namespace elm::abuse
