// Trace selection from the command line (see trace_selection.hpp).
#include "tools/cli/trace_selection.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

#include "elmsim/models/error.hpp"

namespace elm::tools {

namespace {

[[noreturn]] void fail(const std::string& flag, const std::string& what) { throw InputError(flag + ": " + what); }

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (true) {
        const std::size_t next = s.find(',', pos);
        out.push_back(trim(s.substr(pos, next == std::string::npos ? std::string::npos : next - pos)));
        if (next == std::string::npos) return out;
        pos = next + 1;
    }
}

bool parse_int(const std::string& s, std::int64_t& out) {
    const char* end = s.data() + s.size();
    const auto r = std::from_chars(s.data(), end, out);
    return !s.empty() && r.ec == std::errc() && r.ptr == end;
}

std::string id_range_text(int N) {
    return "N = " + std::to_string(N) + " (ids 0.." + std::to_string(N - 1) + ")";
}

}  // namespace

io::TraceOptions parse_trace_options(const std::string& record, const std::string& neurons, std::int64_t decimate,
                                     int N) {
    io::TraceOptions opt;
    opt.y = false;
    const std::string rec = trim(record);
    if (rec.empty()) fail("--record", "expected a comma list of y, m, b, logits, spikes, found nothing");
    for (const std::string& v : split_commas(rec)) {
        if (v.empty())
            fail("--record",
                 "expected a comma list of y, m, b, logits, spikes, found an empty item in '" + record + "'");
        if (!io::set_trace_variable(opt, v))
            fail("--record", "unknown variable '" + v + "' (expected y, m, b, logits or spikes)");
    }

    if (decimate < 1) fail("--decimate", "expected an integer >= 1, found " + std::to_string(decimate));
    opt.decimate = decimate;

    if (N < 1) fail("--neurons", "the network has no neurons (N = " + std::to_string(N) + ")");
    const std::string sel = trim(neurons);
    if (sel.empty() || sel == "all") return opt;  // empty list = all neurons
    const std::string expected = "expected 'all', neuron ids or half-open ranges such as 0:64 or 3,5,9";
    for (const std::string& item : split_commas(sel)) {
        if (item.empty()) fail("--neurons", expected + ", found an empty item in '" + neurons + "'");
        const auto colon = item.find(':');
        std::int64_t lo = 0, hi = N;
        if (colon == std::string::npos) {
            if (!parse_int(item, lo)) fail("--neurons", expected + ", found '" + item + "'");
            if (lo < 0 || lo >= N) fail("--neurons", "neuron " + item + " is out of range for " + id_range_text(N));
            hi = lo + 1;
        } else {
            const std::string a = trim(item.substr(0, colon)), b = trim(item.substr(colon + 1));
            if ((!a.empty() && !parse_int(a, lo)) || (!b.empty() && !parse_int(b, hi)))
                fail("--neurons", expected + ", found '" + item + "'");
            if (lo < 0 || hi > N)
                fail("--neurons",
                     "range " + item + " is out of range for " + id_range_text(N) + "; the end is exclusive");
            if (lo >= hi) fail("--neurons", "range " + item + " is empty (ranges are half-open: a:b is a..b-1)");
        }
        for (std::int64_t i = lo; i < hi; ++i) opt.neurons.push_back(static_cast<std::int32_t>(i));
    }
    std::sort(opt.neurons.begin(), opt.neurons.end());
    opt.neurons.erase(std::unique(opt.neurons.begin(), opt.neurons.end()), opt.neurons.end());
    return opt;
}

}  // namespace elm::tools
