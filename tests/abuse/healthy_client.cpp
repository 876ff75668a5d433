// The healthy client of the abuse suite (healthy_client.hpp): its reference run in-process and its passes.
#include "tests/abuse/healthy_client.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "elmsim/io/experiment_config.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/sim/serve/replay_samples.hpp"
#include "elmsim/sim/session.hpp"
#include "elmsim/sim/workflow/model_file.hpp"

namespace elm::abuse {

using nlohmann::json;

namespace {

// A sample's events cut into the messages the healthy client sends.
std::vector<ReplayStep> steps_of(const serve::ReplaySample& s) {
    const int n = std::max(1, static_cast<int>(std::ceil(s.duration_ms / kChunkMs)));
    std::vector<ReplayStep> steps(static_cast<std::size_t>(n));
    std::size_t e = 0;
    for (int c = 0; c < n; ++c) {
        auto& st = steps[static_cast<std::size_t>(c)];
        const bool last = c == n - 1;
        const double hi = last ? std::numeric_limits<double>::infinity() : (c + 1) * kChunkMs;
        while (e < s.t_ms.size() && s.t_ms[e] < hi) {
            st.t_ms.push_back(s.t_ms[e]);
            st.channels.push_back(s.channels[e]);
            ++e;
        }
        st.end_ms = last ? s.duration_ms : (c + 1) * kChunkMs;
        st.finish = last;
    }
    return steps;
}

}  // namespace

Reference make_reference(const std::string& model_path, const std::string& data_path, int count) {
    const workflow::LoadedModel m = workflow::load_model(model_path);
    const auto& cfg = m.config;
    // What the served model's hello says of its samples (tools/cli/cmd_serve.cpp).
    serve::ServerModel sm;
    sm.N = cfg.model.N;
    sm.C = cfg.model.C;
    sm.n_out = cfg.model.n_out;
    sm.window_ms = cfg.task.duration_ms;
    sm.sample_ms = io::sample_duration_ms(cfg.task);
    const io::SpikeDataset ds = io::read_spike_dataset(data_path, 0, cfg.model.C);
    const auto replay = serve::replay_samples(ds, data_path, sm, 0, count);
    const auto backend = workflow::open_backend("cpu", m.checkpoint.net, 1, cfg.train);
    Reference ref;
    ref.dt_ms = cfg.model.dt_ms;
    for (const auto& s : replay) {
        ref.samples.push_back(steps_of(s));
        sim::SessionOptions so;  // a clock session, as the healthy client opens on a clock model
        so.score = cfg.train.loss;
        so.score_last_k = static_cast<int>(cfg.train.loss_last_k);
        sim::Session session(*backend, so);
        for (const auto& st : ref.samples.back()) {
            if (!st.t_ms.empty()) session.push_events(st.t_ms, st.channels);
            if (st.finish)
                session.finish(st.end_ms);
            else
                session.advance_to(st.end_ms);
        }
        ref.logits.emplace_back(session.logits(), session.logits() + cfg.model.n_out);
        ref.updates.push_back(session.updates());
    }
    return ref;
}

void HealthyStats::merge(const HealthyStats& o) {
    latency_ms.insert(latency_ms.end(), o.latency_ms.begin(), o.latency_ms.end());
    samples += o.samples;
    exact += o.exact;
    passes += o.passes;
    if (error.empty()) error = o.error;
}

double HealthyStats::quantile(double q) const {
    if (latency_ms.empty()) return std::nan("");
    std::vector<double> v = latency_ms;
    std::sort(v.begin(), v.end());
    const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - (q > 0 ? 1 : 0);
    return v[std::min(k, v.size() - 1)];
}

namespace {

// One request of a pass: sent, then its lines read up to the final one (returned); update lines of
// the session leave their logits in `last_logits`. Throws a one-line std::runtime_error on failure.
struct PassIo {
    LineClient& c;
    const HealthyOptions& o;
    HealthyStats& stats;
    int next_id = 1;
    Clock::time_point started = Clock::now();

    json request(json req, std::vector<float>* last_logits = nullptr) {
        if (seconds_since(started) > o.pass_timeout_s)
            throw std::runtime_error(fmt::format("a pass took over {} s", o.pass_timeout_s));
        const int id = next_id++;
        req["id"] = id;
        const std::string what = req["op"].get<std::string>();
        const auto t0 = Clock::now();
        if (!c.send_line(req.dump(), within(o.reply_timeout_s, o.deadline)))
            throw std::runtime_error(fmt::format("sending \"{}\": {}", what, c.error()));
        std::string line;
        for (;;) {
            switch (c.read_line(line, within(o.reply_timeout_s, o.deadline))) {
            case LineClient::Read::timeout:
                throw std::runtime_error(fmt::format("no reply to \"{}\" in {} s", what, o.reply_timeout_s));
            case LineClient::Read::closed:
                throw std::runtime_error(fmt::format("connection closed awaiting \"{}\"", what));
            case LineClient::Read::line: break;
            }
            json j = json::parse(line, nullptr, false);
            if (j.is_discarded() || !j.is_object() || !j.contains("op"))
                throw std::runtime_error(fmt::format("not a reply line: {:.80}", line));
            if (j["op"] == "update") {
                if (last_logits && j.contains("logits")) *last_logits = j["logits"].get<std::vector<float>>();
                continue;
            }
            stats.latency_ms.push_back(ms_since(t0));
            if (j["op"] == "error")
                throw std::runtime_error(fmt::format("\"{}\" refused: {:.120}", what, j.value("error", std::string())));
            if (j.value("id", -1) != id) throw std::runtime_error(fmt::format("reply to \"{}\" has another id", what));
            return j;
        }
    }
};

}  // namespace

bool healthy_pass(const Reference& ref, const HealthyOptions& o, HealthyStats& stats) {
    LineClient c;
    try {
        if (!c.connect(o.port, within(o.reply_timeout_s, o.deadline)))
            throw std::runtime_error("cannot connect: " + c.error());
        std::string line;
        if (c.read_line(line, within(o.reply_timeout_s, o.deadline)) != LineClient::Read::line)
            throw std::runtime_error(fmt::format("no hello in {} s", o.reply_timeout_s));
        const json hello = json::parse(line, nullptr, false);
        if (hello.is_discarded() || hello.value("op", "") != "hello") throw std::runtime_error("no hello: " + line);
        PassIo io{c, o, stats};
        if (hello.value("auth", false)) io.request({{"op", "auth"}, {"token", o.token}});
        const json opened = io.request({{"op", "open"}, {"stream", {"logits"}}});
        const int session = opened.at("session").get<int>();
        for (std::size_t k = 0; k < ref.samples.size(); ++k) {
            std::vector<float> logits;
            json ok;
            for (const auto& st : ref.samples[k]) {
                if (!st.t_ms.empty())
                    io.request({{"op", "events"}, {"session", session}, {"t_ms", st.t_ms}, {"channels", st.channels}},
                               &logits);
                ok = io.request({{"op", st.finish ? "finish" : "advance"}, {"session", session}, {"t_ms", st.end_ms}},
                                &logits);
            }
            ++stats.samples;
            if (logits == ref.logits[k] && ok.value("updates", std::int64_t{-1}) == ref.updates[k])
                ++stats.exact;
            else if (stats.error.empty())
                stats.error = fmt::format("sample {}: logits or update count differ from the in-process session", k);
            io.request({{"op", "reset"}, {"session", session}});
        }
        io.request({{"op", "close"}, {"session", session}});
        ++stats.passes;
        return stats.error.empty();
    } catch (const std::exception& e) {
        if (stats.error.empty()) stats.error = e.what();
        return false;
    }
}

HealthyRunner::HealthyRunner(const Reference& ref, HealthyOptions o) {
    thread_ = std::thread([this, &ref, o] {
        while (Clock::now() < o.deadline) {
            if (!healthy_pass(ref, o, stats_)) break;
            ++passes_;
            if (stop_) break;
        }
        done_ = true;
    });
}

HealthyRunner::~HealthyRunner() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

HealthyStats HealthyRunner::finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return stats_;
}

}  // namespace elm::abuse
