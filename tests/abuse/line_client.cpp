// The abuse suite's line client (line_client.hpp): non-blocking sockets, poll() with deadlines.
#include "tests/abuse/line_client.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace elm::abuse {

Clock::time_point within(double seconds, Clock::time_point limit) {
    const auto t = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    return std::min(t, limit);
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
double ms_since(Clock::time_point t0) { return 1000.0 * seconds_since(t0); }

namespace {

// Milliseconds left to the deadline for poll() (0 when it has passed).
int poll_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left + 1, 0, 1000000));
}

// One poll for `events`, retried on EINTR; true when ready.
bool wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        const int r = ::poll(&p, 1, poll_ms(deadline));
        if (r > 0) return true;
        if (r == 0) return false;
        if (errno != EINTR) return false;
    }
}

}  // namespace

LineClient::~LineClient() { close(); }

LineClient::LineClient(LineClient&& o) noexcept : fd_(o.fd_), buf_(std::move(o.buf_)), error_(std::move(o.error_)) {
    o.fd_ = -1;
}

LineClient& LineClient::operator=(LineClient&& o) noexcept {
    if (this != &o) {
        close();
        fd_ = o.fd_;
        buf_ = std::move(o.buf_);
        error_ = std::move(o.error_);
        o.fd_ = -1;
    }
    return *this;
}

bool LineClient::connect_nowait(int port) {
    close();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        error_ = std::string("socket: ") + std::strerror(errno);
        return false;
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
        error_ = std::string("connect: ") + std::strerror(errno);
        close();
        return false;
    }
    return true;
}

bool LineClient::connect(int port, Clock::time_point deadline) {
    if (!connect_nowait(port)) return false;
    if (!wait_for(fd_, POLLOUT, deadline)) {
        error_ = "connect: no answer in time";
        close();
        return false;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
        error_ = std::string("connect: ") + std::strerror(err);
        close();
        return false;
    }
    return true;
}

long LineClient::send_some(std::string_view data) {
    if (fd_ < 0) return -1;
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<long>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
    error_ = std::string("send: ") + std::strerror(errno);
    return -1;
}

bool LineClient::send_all(std::string_view data, Clock::time_point deadline) {
    while (!data.empty()) {
        const long n = send_some(data);
        if (n < 0) return false;
        if (n == 0) {
            if (!wait_for(fd_, POLLOUT, deadline)) {
                error_ = "send: no room in time";
                return false;
            }
            continue;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

bool LineClient::send_line(std::string_view line, Clock::time_point deadline) {
    std::string l(line);
    l.push_back('\n');
    return send_all(l, deadline);
}

LineClient::Read LineClient::read_line(std::string& out, Clock::time_point deadline, std::size_t max_bytes) {
    std::size_t scanned = 0;
    for (;;) {
        const auto nl = buf_.find('\n', scanned);
        if (nl != std::string::npos) {
            out.assign(buf_, 0, nl);
            buf_.erase(0, nl + 1);
            return Read::line;
        }
        scanned = buf_.size();
        if (fd_ < 0) return Read::closed;
        if (buf_.size() > max_bytes) {
            error_ = "a line over the client's limit";
            return Read::closed;
        }
        char chunk[65536];
        const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n > 0) {
            buf_.append(chunk, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) return Read::closed;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            if (!wait_for(fd_, POLLIN, deadline)) return Read::timeout;
            continue;
        }
        error_ = std::string("recv: ") + std::strerror(errno);
        return Read::closed;
    }
}

bool LineClient::wait_closed(Clock::time_point deadline) {
    if (fd_ < 0) return true;
    buf_.clear();
    for (;;) {
        char chunk[65536];
        const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n == 0) return true;
        if (n > 0) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            if (!wait_for(fd_, POLLIN, deadline)) return false;
            continue;
        }
        return true;  // reset by the peer
    }
}

void LineClient::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
}

}  // namespace elm::abuse
