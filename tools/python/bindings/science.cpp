// Budget sweeps and their fits in Python: elmsim.run_sweep and elmsim.fit_sweep run what `elmsim
// sweep` and `elmsim fit` run (one process); the results come back as Python objects.
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "elmsim/io/atomic_output.hpp"
#include "elmsim/io/sweep_config.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/sim/science/sweep_directory.hpp"
#include "elmsim/sim/science/sweep_fit.hpp"
#include "elmsim/sim/science/sweep_plan.hpp"
#include "elmsim/sim/science/sweep_runner.hpp"
#include "python_model.hpp"

namespace elm::python {

namespace py = pybind11;

namespace {

py::object json_to_python(const nlohmann::json& j) { return py::module_::import("json").attr("loads")(j.dump()); }

}  // namespace

void bind_science(py::module_& m) {
    m.def(
        "run_sweep",
        [](const std::string& config, const std::string& out, std::optional<int> workers, std::optional<int> threads,
           bool retry_failed, py::object on_message) {
            if (workers && (*workers < 1 || *workers > 1024))
                throw ParameterError("workers", fmt::format("expected 1..1024, got {}", *workers));
            if (threads && (*threads < 1 || *threads > 1024))
                throw ParameterError("threads", fmt::format("expected 1..1024, got {}", *threads));
            io::SweepConfig sw = io::load_sweep_config(config);
            if (workers) sw.workers = *workers;
            if (threads) sw.threads = *threads;
            const science::SweepPlan plan = science::make_sweep_plan(sw);
            science::SweepOptions opt;
            opt.workers = sw.workers;
            opt.threads = sw.threads;
            opt.retry_failed = retry_failed;
            opt.created_by = created_by();
            if (!on_message.is_none())
                opt.on_message = [&on_message](const std::string& line) {
                    py::gil_scoped_acquire gil;
                    on_message(line);
                };
            science::SweepSummary s;
            {
                py::gil_scoped_release release;
                s = science::run_sweep(plan, out, opt);
            }
            py::dict d;
            d["runs"] = plan.runs.size();
            d["finished_now"] = s.finished_now;
            d["failed_now"] = s.failed_now;
            d["resumed"] = s.resumed;
            d["already_finished"] = s.already_finished;
            d["already_failed"] = s.already_failed;
            d["elsewhere"] = s.elsewhere;
            d["wall_s"] = s.wall_s;
            d["results"] = (std::filesystem::path(out) / "results.jsonl").string();
            return d;
        },
        py::arg("config"), py::arg("out"), py::arg("workers") = py::none(), py::arg("threads") = py::none(),
        py::arg("retry_failed") = false, py::arg("on_message") = py::none(),
        "Run a sweep file into a directory (resumable, shareable), as `elmsim sweep` does in one process.");
    m.def(
        "fit_sweep",
        [](const std::string& dir, const std::string& out, int bootstrap, std::uint64_t seed) {
            const std::string path = out.empty() ? (std::filesystem::path(dir) / "fit.json").string() : out;
            io::ensure_writable_dir(path);
            science::FitOptions o;
            o.bootstrap = bootstrap;
            o.seed = seed;
            nlohmann::json fit;
            {
                py::gil_scoped_release release;
                fit = science::fit_sweep(dir, o);
                science::write_file_atomically(path, fit.dump(1) + "\n");
            }
            return json_to_python(fit);
        },
        py::arg("sweep"), py::arg("out") = "", py::arg("bootstrap") = 1000, py::arg("seed") = 1,
        "Fit the scaling law and the information model (`elmsim fit`): writes fit.json and returns it as a dict.");
}

}  // namespace elm::python
