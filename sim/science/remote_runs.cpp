#include "elmsim/sim/science/remote_runs.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "elmsim/models/error.hpp"
#include "elmsim/sim/parallel/communicator.hpp"
#include "elmsim/sim/science/sweep_directory.hpp"

namespace elm::science {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string message(const char* type) { return json{{"type", type}}.dump(); }

json parse_message(const sim::Communicator::Message& m) {
    try {
        json j = json::parse(m.text);
        if (j.is_object() && j.contains("type") && j["type"].is_string()) return j;
    } catch (const json::exception&) {
    }
    throw std::runtime_error(fmt::format("MPI sweep: rank {} sent a message that is not the sweep's", m.from));
}

}  // namespace

RemoteRuns::RemoteRuns(sim::Communicator& comm, std::function<void()> wake)
    : comm_(comm), wake_(std::move(wake)), slots_(static_cast<std::size_t>(comm.size())) {}

RemoteRuns::~RemoteRuns() {
    if (ended_) return;
    try {
        abort();
    } catch (...) {
        // the job is ending with an error already; the launcher ends the ranks that do not hear it
    }
}

RunReport RemoteRuns::run(int rank, std::size_t index, RunContext& ctx) {
    std::unique_lock lk(mu_);
    Slot& s = slots_.at(static_cast<std::size_t>(rank));
    s = Slot{};
    s.request = index;
    s.busy = true;
    s.ctx = &ctx;
    if (wake_) wake_();
    cv_.wait(lk, [&] { return s.report.has_value(); });
    RunReport r = std::move(*s.report);
    s = Slot{};
    return r;
}

void RemoteRuns::pump() {
    std::lock_guard lk(mu_);
    for (std::size_t r = 1; r < slots_.size(); ++r) {
        Slot& s = slots_[r];
        if (s.request) {
            comm_.send(static_cast<int>(r), json{{"type", "run"}, {"index", *s.request}}.dump());
            s.request.reset();
        }
        if (s.busy && !s.report && !s.stop_sent && (sweep_stop_requested() || s.ctx->stop.load())) {
            comm_.send(static_cast<int>(r), message("stop"));
            s.stop_sent = true;
        }
    }
    while (auto m = comm_.poll()) deliver(m->from, m->text);
}

void RemoteRuns::deliver(int from, const std::string& text) {
    const json j = parse_message(sim::Communicator::Message{from, text});
    if (from <= 0 || static_cast<std::size_t>(from) >= slots_.size() || !slots_[static_cast<std::size_t>(from)].busy)
        throw std::runtime_error(fmt::format("MPI sweep: rank {} sent '{}' while it had no run", from, j["type"].get<std::string>()));
    Slot& s = slots_[static_cast<std::size_t>(from)];
    const std::string type = j["type"].get<std::string>();
    if (type == "progress") {
        s.ctx->fraction.store(j.value("fraction", 0.0));
    } else if (type == "event") {
        json extra = j.value("extra", json::object());
        extra["rank"] = from;
        if (s.ctx->log_event) s.ctx->log_event(j.value("event", std::string("?")), extra);
    } else if (type == "report") {
        RunReport r;
        try {
            r = report_from_json(j.at("report"));
        } catch (const std::exception& e) {
            throw std::runtime_error(fmt::format("MPI sweep: rank {} sent a report that cannot be read ({})", from, e.what()));
        }
        // A rank stopped for a signal of its own (its scheduler's warning reached it first): the job
        // is being stopped, so the whole sweep stops.
        if (r.kind == RunReport::Kind::interrupted && !s.stop_sent && !s.ctx->stop.load()) request_sweep_stop();
        s.report = std::move(r);
        cv_.notify_all();
    } else {
        throw std::runtime_error(fmt::format("MPI sweep: rank {} sent an unknown message '{}'", from, type));
    }
}

void RemoteRuns::fail_all(const std::string& error) {
    std::lock_guard lk(mu_);
    for (std::size_t r = 1; r < slots_.size(); ++r) {
        Slot& s = slots_[r];
        if (s.busy && !s.report) {
            RunReport failed;
            failed.error = fmt::format("lost contact with rank {}: {}", r, error);
            s.report = std::move(failed);
        }
    }
    cv_.notify_all();
}

void RemoteRuns::end_all(const char* type) {
    ended_ = true;
    for (int r = 1; r < comm_.size(); ++r) comm_.send(r, message(type));
}

void RemoteRuns::finish() { end_all("finish"); }
void RemoteRuns::abort() { end_all("abort"); }

void serve_sweep_runs(const SweepPlan& plan, const std::filesystem::path& dir, sim::Communicator& comm, int threads,
                      const std::string& created_by) {
    // Idle, a rank looks for a message every 0.2 ms at first (the next run comes right after a report),
    // then less often, down to every 20 ms.
    const auto wait_for_message = [&comm] {
        auto pause = std::chrono::microseconds(200);
        for (;;) {
            if (auto m = comm.poll()) return *m;
            std::this_thread::sleep_for(pause);
            pause = std::min(pause * 2, std::chrono::microseconds(20000));
        }
    };
    for (;;) {
        const auto m = wait_for_message();
        const json j = parse_message(m);
        const std::string type = j["type"].get<std::string>();
        if (type == "finish") return;
        if (type == "abort") throw QuietExit(2);
        if (type == "stop") continue;  // the run it meant has ended already
        if (type != "run" || !j.contains("index") || !j["index"].is_number_unsigned())
            throw std::runtime_error(fmt::format("MPI sweep: rank 0 sent an unknown message '{}'", type));
        const auto index = j["index"].get<std::size_t>();
        RunContext ctx;
        bool aborted = false;
        auto last_progress = Clock::now();
        ctx.log_event = [&comm](const std::string& event, const json& extra) {
            json e = extra;
            e["worker_host"] = SweepDirectory::host_name();
            comm.send(0, json{{"type", "event"}, {"event", event}, {"extra", e}}.dump());
        };
        // A look for messages costs the transport's progress engine (tens of microseconds): at most
        // every 50 ms, not at every step of a small model.
        auto last_look = Clock::now();
        ctx.on_step = [&] {
            const auto now = Clock::now();
            if (now - last_look < std::chrono::milliseconds(50)) return;
            last_look = now;
            while (auto in = comm.poll()) {
                const json k = parse_message(*in);
                const std::string t = k["type"].get<std::string>();
                if (t == "stop" || t == "abort") ctx.stop = true;
                aborted = aborted || t == "abort";
            }
            if (now - last_progress >= std::chrono::milliseconds(500)) {
                comm.send(0, json{{"type", "progress"}, {"fraction", ctx.fraction.load()}}.dump());
                last_progress = now;
            }
        };
        RunReport report;
        if (index < plan.runs.size()) report = execute_run(plan, index, dir, threads, created_by, ctx);
        else report.error = fmt::format("no run {} in this rank's plan", index);
        comm.send(0, json{{"type", "report"}, {"report", report_to_json(report)}}.dump());
        if (aborted) throw QuietExit(2);
    }
}

}  // namespace elm::science
