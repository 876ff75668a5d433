// What the abuse suite's attacks share (tests/abuse/attacks_*.cpp).
#pragma once

#include <atomic>
#include <string>

#include "tests/abuse/abuse_case.hpp"

namespace elm::abuse {

// Opens a session with `open_line`; its number, or a one-line std::runtime_error.
int open_session(CaseContext& ctx, LineClient& c, const std::string& open_line);
// Fails the case unless "read" on the session still answers.
void require_still_serves(CaseContext& ctx, LineClient& c, int session);

// What a load generator did.
struct LoadStats {
    std::atomic<long> requests{0}, refused{0};
    std::atomic<long long> bytes{0};
};

// Loops "advance" by the largest step allowed (kMaxUpdatesPerRequest updates; halved on a refusal),
// reading every reply, until `stop`, the deadline, or the server goes.
void flood(CaseContext& ctx, const std::atomic<bool>& stop, LoadStats& st);
// Opens a session streaming ["y","logits"] and sends "advance" lines of the largest step for
// `seconds` (or until `stop`) without ever reading its socket.
void stream_without_reading(CaseContext& ctx, const std::atomic<bool>& stop, double seconds, LoadStats& st);

}  // namespace elm::abuse
