#include "elmsim/sim/workflow/generation.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "elmsim/models/error.hpp"
#include "elmsim/sim/scoring.hpp"
#include "elmsim/sim/session.hpp"
#include "elmsim/sim/workflow/model_file.hpp"

namespace elm::workflow {

int sample_byte(const float* logits, int n, double temperature, Rng& rng) {
    const int best = sim::argmax(logits, n);
    if (temperature == 0.0) return best;
    double sum = 0.0;
    for (int k = 0; k < n; ++k) sum += std::exp((static_cast<double>(logits[k]) - logits[best]) / temperature);
    double r = rng.uniform() * sum;
    for (int k = 0; k < n; ++k) {
        r -= std::exp((static_cast<double>(logits[k]) - logits[best]) / temperature);
        if (r < 0.0) return k;
    }
    return best;  // r rounded past the end: the mass there is the top byte's
}

void generate_text(const GenerateRequest& r, const std::function<void(std::string_view)>& sink) {
    if (!(r.temperature >= 0.0) || !std::isfinite(r.temperature))
        throw ParameterError("temperature", fmt::format("expected a finite number >= 0, got {}", r.temperature));
    if (r.length < 0 || r.length > 1'000'000'000)
        throw ParameterError("length", fmt::format("expected 0 .. 1000000000 bytes, got {}", r.length));
    const LoadedModel m = load_model(r.model_path);
    if (m.config.task.kind != io::TaskKind::bytes)
        throw InputError(fmt::format("{}: a model of task \"{}\" (C = {} spike channels); generating text needs a "
                                     "byte model (task \"bytes\")",
                                     r.model_path, io::to_string(m.config.task.kind), m.checkpoint.net.cfg.C));
    const auto& mc = m.checkpoint.net.cfg;
    auto backend = open_backend(r.backend, m.checkpoint.net, r.threads, m.config.train);
    sim::Session session(*backend, sim::SessionOptions{});  // clock mode: one update per byte
    const auto feed = [&](std::uint8_t byte) { session.push_bytes(std::span<const std::uint8_t>(&byte, 1)); };
    for (const char c : r.prompt) feed(static_cast<std::uint8_t>(c));
    Rng rng(r.seed);
    std::string out;
    out.reserve(static_cast<std::size_t>(std::min<std::int64_t>(r.length, 1 << 16)));
    for (std::int64_t k = 0; k < r.length; ++k) {
        const auto byte = static_cast<std::uint8_t>(sample_byte(session.logits(), mc.n_out, r.temperature, rng));
        out.push_back(static_cast<char>(byte));
        if (out.size() >= (1u << 16)) {
            sink(out);
            out.clear();
        }
        feed(byte);
    }
    if (!out.empty()) sink(out);
}

}  // namespace elm::workflow
