#include "elmsim/sim/workflow/simulation.hpp"

#include <algorithm>
#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "elmsim/io/spike_batcher.hpp"
#include "elmsim/io/spike_binning.hpp"
#include "elmsim/models/error.hpp"
#include "elmsim/models/event_batch.hpp"
#include "elmsim/models/time_grid.hpp"
#include "elmsim/sim/scoring.hpp"
#include "elmsim/sim/simulator.hpp"
#include "elmsim/sim/workflow/evaluate.hpp"

namespace elm::workflow {

std::string to_string(TimeMode m) { return m == TimeMode::clock ? "clock" : "event"; }

TimeMode time_mode_from_string(const std::string& s) {
    if (s == "clock") return TimeMode::clock;
    if (s == "event") return TimeMode::event;
    throw ParameterError("mode", fmt::format("expected \"clock\" or \"event\", got \"{}\"", s));
}

namespace {

void check_data_fits_model(const std::string& data, const std::string& model, const io::ExperimentConfig& cfg) {
    using io::DataFileKind;
    const DataFileKind kind = io::data_file_kind(data);
    const bool bytes_model = cfg.task.kind == io::TaskKind::bytes;
    if (bytes_model && kind != DataFileKind::other)
        throw InputError(
            fmt::format("{}: {} (C = 700 spike channels), but the model {} is a byte model (task "
                        "\"bytes\", C = 256 byte values); give a byte file or - for standard input",
                        data, kind == DataFileKind::spikes ? "an SHD-format spike file" : "an HDF5 file", model));
    if (!bytes_model && kind == DataFileKind::other)
        throw InputError(
            fmt::format("{}: {}, but the model {} reads C = {} spike channels (task \"{}\"); give "
                        "an SHD-format HDF5 file",
                        data,
                        data == "-" ? "standard input is a byte stream (C = 256 byte values)"
                                    : "not an HDF5 file (a byte file: C = 256 byte values)",
                        model, cfg.model.C, io::to_string(cfg.task.kind)));
    if (!bytes_model && kind == DataFileKind::other_hdf5)
        throw InputError(
            fmt::format("{}: /spikes: expected an SHD-format spike file for the model {} (task "
                        "\"{}\"), found an HDF5 file without /spikes",
                        data, model, io::to_string(cfg.task.kind)));
}

// [first, end) inside the `size` samples of `what`; ParameterError "samples" otherwise.
std::pair<std::int64_t, std::int64_t> check_range(std::optional<std::int64_t> first, std::optional<std::int64_t> end,
                                                  std::int64_t size, const std::string& what) {
    if (size <= 0) throw ParameterError("samples", fmt::format("{} holds no samples", what));
    const std::int64_t a = first.value_or(0), b = end.value_or(size);
    if (a < 0 || b < 0) throw ParameterError("samples", fmt::format("expected a range of samples >= 0, got {}:{}", a, b));
    if (a >= size)
        throw ParameterError("samples", fmt::format("{} holds {} samples (0..{}), the range starts at {}", what, size,
                                                    size - 1, a));
    if (b > size)
        throw ParameterError("samples", fmt::format("{} holds {} samples (0..{}), the range {}:{} ends beyond them",
                                                    what, size, size - 1, a, b));
    if (a >= b) throw ParameterError("samples", fmt::format("the range {}:{} is empty (expected first < end)", a, b));
    return {a, b};
}

}  // namespace

double default_max_dt_ms(const LoadedModel& model) {
    return model.config.train.time != models::TimeBase::clock ? io::event_max_dt_ms(model.config)
                                                              : model.checkpoint.net.cfg.dt_ms;
}

double default_resolution_ms(const LoadedModel& model) {
    const auto& t = model.config.train;
    switch (t.time) {
        case models::TimeBase::event: return t.resolution_ms;
        case models::TimeBase::any: return *std::min_element(t.resolutions_ms.begin(), t.resolutions_ms.end());
        case models::TimeBase::clock: break;
    }
    return 0.1;
}

Simulation::Simulation(const SimulationRequest& r) : request_(r), model_(load_model(r.model_path)) {
    const bool event_trained = model_.config.train.time == models::TimeBase::event;
    mode_ = r.mode.value_or(event_trained ? TimeMode::event : TimeMode::clock);
    if (r.batch < 1 || r.batch > 4096) throw ParameterError("batch", fmt::format("expected 1 .. 4096, got {}", r.batch));
    auto& net_cfg = model_.checkpoint.net.cfg;
    if (r.drive) {
        net_cfg.drive = *r.drive;
    } else if (!model_.checkpoint.drive_declared) {
        if (mode_ == TimeMode::event && net_cfg.output_mode == models::OutputMode::analog)
            notices_.push_back(fmt::format("{}: the model predates the rate rule (no /model drive attribute): event mode "
                                           "drives by rates, as spec section 5 defines; the old rule on request "
                                           "(drive per_update)",
                                           r.model_path));
        net_cfg.drive = models::DriveRule::rate;
    }
    model_.config.model.drive = net_cfg.drive;
    // A clock-trained model written before a memory rule was a choice: on its clock both rules are the
    // same, so off the clock it gets the rule of new models, which keeps its clock behaviour.
    const bool clock_model_off_clock = model_.config.train.time == models::TimeBase::clock &&
                                       mode_ == TimeMode::event && net_cfg.output_mode != models::OutputMode::lif;
    const auto memory_rule = [&](const auto& requested, bool declared, auto& rule, auto new_rule, const char* name,
                                 const char* what, const char* old_value) {
        if (requested) {
            rule = *requested;
        } else if (!declared && clock_model_off_clock) {
            notices_.push_back(fmt::format("{}: the model predates the {} choice (no /model {} attribute) and was "
                                           "trained on its clock: event mode uses {} {}, as new models do; the old "
                                           "rule on request ({} {})",
                                           r.model_path, what, name, what, models::to_string(new_rule), name,
                                           old_value));
            rule = new_rule;
        }
    };
    memory_rule(r.memory_gain, model_.checkpoint.memory_gain_declared, net_cfg.memory_gain, models::MemoryGain::rate,
                "memory_gain", "memory gain", "lambda_decay");
    memory_rule(r.memory_input, model_.checkpoint.memory_input_declared, net_cfg.memory_input,
                models::MemoryInput::clock_decay, "memory_input", "memory input", "step_decay");
    model_.config.model.memory_gain = net_cfg.memory_gain;
    model_.config.model.memory_input = net_cfg.memory_input;
    const auto& cfg = model_.config;
    const auto& mc = model_.checkpoint.net.cfg;
    if (mode_ == TimeMode::event) {
        grid_ = models::make_event_grid(r.resolution_ms.value_or(default_resolution_ms(model_)),
                                        r.max_dt_ms.value_or(default_max_dt_ms(model_)));
    } else if (r.resolution_ms || r.max_dt_ms) {
        throw ParameterError(r.resolution_ms ? "resolution_ms" : "max_dt_ms",
                             fmt::format("only used in event mode (clock mode steps by the model's dt = {} ms)", mc.dt_ms));
    }
    check_record(r.record);
    if (r.samples) {
        if (!r.data_path.empty())
            throw ParameterError("samples", fmt::format("give a data file ({}) or samples in memory, not both", r.data_path));
        if (cfg.task.kind == io::TaskKind::bytes)
            throw ParameterError("samples", fmt::format("the model {} reads bytes, not spike samples", r.model_path));
        io::check_spike_samples(*r.samples);
    } else {
        check_data_fits_model(r.data_path, r.model_path, cfg);
    }
    backend_ = open_backend(r.backend, model_.checkpoint.net, r.threads, cfg.train);

    bytes_ = cfg.task.kind == io::TaskKind::bytes;
    std::pair<std::int64_t, std::int64_t> range;
    if (bytes_) {
        stream_.emplace(r.data_path, std::array<double, 3>{1.0, 0.0, 0.0}, 1);
        const std::int64_t n = stream_->size(io::Split::train);
        range = check_range(r.first, r.end, n, fmt::format("{} ({} bytes)", r.data_path, n));
    } else {
        dataset_ = r.samples ? *r.samples : io::read_spike_dataset(r.data_path);
        if (dataset_.num_channels != mc.C)
            throw InputError(fmt::format("{}: {} input channels, the model {} reads C = {}", dataset_.path,
                                         dataset_.num_channels, r.model_path, mc.C));
        const bool adding = cfg.task.kind == io::TaskKind::shd_adding;
        const int classes = adding ? 20 : mc.n_out;
        for (std::size_t i = 0; i < dataset_.samples.size(); ++i)
            if (dataset_.samples[i].label < 0 || dataset_.samples[i].label >= classes)
                throw InputError(fmt::format("{}: /labels[{}]: expected a class 0..{} of task \"{}\", found {}",
                                             dataset_.path, i, classes - 1, io::to_string(cfg.task.kind),
                                             dataset_.samples[i].label));
        if (adding) {
            const std::int64_t count = cfg.task.adding_test_pairs;
            range = check_range(r.first, r.end, count,
                                fmt::format("the model's evaluation set ({} fixed SHD-Adding pairs of {})", count,
                                            dataset_.path));
            if (dataset_.samples.empty()) throw InputError(fmt::format("{}: the dataset holds no samples", dataset_.path));
            // The evaluator's pairs: the first `end` of the run's seeded sequence.
            pairs_ = io::evaluation_pairs(dataset_, range.second, cfg.train.seed);
        } else {
            range = check_range(r.first, r.end, static_cast<std::int64_t>(dataset_.samples.size()), dataset_.path);
        }
    }
    first_ = range.first;
    end_ = range.second;
}

Simulation::~Simulation() = default;

void Simulation::check_record(const io::TraceOptions& record) const {
    if (model_.checkpoint.net.cfg.output_mode == models::OutputMode::lif && (record.m || record.b))
        throw ParameterError("record", fmt::format("the model {} is a LIF network, which has no memory units or branch "
                                                   "traces (record y, logits or spikes)",
                                                   request_.model_path));
}

void Simulation::set_record(const io::TraceOptions& record) {
    check_record(record);
    request_.record = record;
}

io::RecordingSetup Simulation::recording_setup() const {
    const auto& mc = model_.checkpoint.net.cfg;
    return io::RecordingSetup{request_.record, mc.N, mc.d_m, mc.n_b, mc.n_out,
                              request_.model_path, to_string(mode_), request_.created_by};
}

SimulationResult Simulation::run(io::Recorder& recorder) {
    recorder.prepare(recording_setup());
    const auto t0 = std::chrono::steady_clock::now();
    SimulationResult result = bytes_ ? run_bytes(recorder) : run_spikes(recorder);
    result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    recorder.commit();
    result.first = first_;
    result.end = end_;
    return result;
}

// Spike tasks: the selected samples (or pairs), `batch` at a time through one stepper, recorded and
// scored per sample.
SimulationResult Simulation::run_spikes(io::Recorder& recorder) {
    const auto& cfg = model_.config;
    const auto& mc = model_.checkpoint.net.cfg;
    const int C = mc.C, N = mc.N, n_out = mc.n_out, d_m = mc.d_m, n_b = mc.n_b;
    const bool adding = cfg.task.kind == io::TaskKind::shd_adding;
    const bool want_m = request_.record.m, want_b = request_.record.b;
    const sim::RunOptions scoring = scoring_options(cfg);
    io::SpikeBatcher batcher(dataset_, cfg, grid_);
    std::vector<io::BatchItem> items;
    models::Batch batch;
    std::vector<float> x_t, y_row(static_cast<std::size_t>(N)), m_row(static_cast<std::size_t>(N) * d_m),
        b_row(static_cast<std::size_t>(N) * n_b);
    std::vector<double> dt_rows;
    std::vector<int> item_of_row, handle_of_item;
    std::vector<sim::SampleScorer> scorers;
    std::unique_ptr<sim::Stepper> stepper;
    SimulationResult res;
    for (std::int64_t i0 = first_; i0 < end_; i0 += request_.batch) {
        const auto i1 = std::min<std::int64_t>(end_, i0 + request_.batch);
        items.clear();
        for (std::int64_t i = i0; i < i1; ++i)
            items.push_back(adding ? io::BatchItem{pairs_[i].a, pairs_[i].b, pairs_[i].label}
                                   : io::BatchItem{i, -1, dataset_.samples[i].label});
        batcher.assemble(items, batch);
        const int B = batch.B, T = batch.T;
        item_of_row.assign(static_cast<std::size_t>(B), 0);
        for (std::size_t k = 0; k < items.size(); ++k) item_of_row[batcher.row_of(k)] = static_cast<int>(k);
        handle_of_item.clear();
        scorers.assign(items.size(), sim::SampleScorer(scoring.loss, scoring.last_k, n_out));
        for (std::size_t k = 0; k < items.size(); ++k)
            handle_of_item.push_back(recorder.begin_sample(i0 + static_cast<std::int64_t>(k), items[k].label));
        // One stepper per batch size (every batch but a ragged last one has request_.batch rows).
        if (!stepper || stepper->batch() != B)
            stepper = backend_->make_stepper(B);
        else
            stepper->reset();
        x_t.assign(static_cast<std::size_t>(C) * B, 0.0f);
        dt_rows.assign(static_cast<std::size_t>(B), mc.dt_ms);
        for (int t = 0; t < T; ++t) {
            int active = B;
            if (batcher.event()) {  // dt = gap cells x resolution, as the schedule and the learner have it
                active = models::updating_rows(batch, t);
                for (int r = 0; r < active; ++r)
                    dt_rows[r] = static_cast<double>(batch.gap_cells[static_cast<std::size_t>(t) * B + r]) *
                                 batch.resolution_ms;
            }
            // The update's input by channel, [C][B] (the engine's layout).
            const float* xs = batch.x.data() + static_cast<std::size_t>(t) * B * C;
            for (int c = 0; c < C; ++c)
                for (int r = 0; r < B; ++r) x_t[static_cast<std::size_t>(c) * B + r] = xs[static_cast<std::size_t>(r) * C + c];
            stepper->advance_rows(dt_rows.data(), active, x_t.data());
            const sim::StepperView v = stepper->view();
            for (int r = 0; r < active; ++r) {
                const int k = item_of_row[r];
                const double time = batcher.event()
                                        ? batcher.schedule(static_cast<std::size_t>(k)).time_ms[static_cast<std::size_t>(
                                              t - batcher.first_step(r))]
                                        : static_cast<double>(t + 1) * mc.dt_ms;
                // Row r of the [N][B][...] layouts, as one sample's [N][...] arrays.
                for (int j = 0; j < N; ++j) y_row[j] = v.y[static_cast<std::size_t>(j) * B + r];
                if (want_m)
                    for (int j = 0; j < N; ++j)
                        std::copy_n(v.m + (static_cast<std::size_t>(j) * B + r) * d_m, d_m, m_row.data() + static_cast<std::size_t>(j) * d_m);
                if (want_b)
                    for (int j = 0; j < N; ++j)
                        std::copy_n(v.b + (static_cast<std::size_t>(j) * B + r) * n_b, n_b, b_row.data() + static_cast<std::size_t>(j) * n_b);
                const float* logits = v.logits + static_cast<std::size_t>(r) * n_out;
                recorder.write(handle_of_item[k], time, y_row.data(), want_m ? m_row.data() : nullptr,
                               want_b ? b_row.data() : nullptr, logits);
                scorers[k].push(logits);
            }
            res.updates += active;
        }
        const sim::StepperView v = stepper->view();
        for (std::size_t k = 0; k < items.size(); ++k) {
            res.stats.add(scorers[k].score(items[k].label));
            recorder.end_sample(handle_of_item[k], v.logits + static_cast<std::size_t>(batcher.row_of(k)) * n_out,
                                scorers[k].prediction());
        }
        res.samples += static_cast<std::int64_t>(items.size());
    }
    return res;
}

// Bytes: one sample, bytes [first, end) of the file; after each update that delivered bytes, the
// logits predict the next byte not yet delivered.
SimulationResult Simulation::run_bytes(io::Recorder& recorder) {
    const auto& mc = model_.checkpoint.net.cfg;
    const int n_out = mc.n_out;
    const double dt = mc.dt_ms;
    const std::int64_t n = end_ - first_;
    constexpr std::int64_t kChunk = 1 << 16;  // bytes read (and scheduled) at a time: memory stays bounded
    sim::Simulator sim(*backend_);
    SimulationResult res;
    res.bytes = true;
    std::vector<std::uint8_t> buf;
    std::vector<double> times;
    std::vector<std::int32_t> channels;
    models::EventSchedule sched;
    std::optional<models::EventScheduleBuilder> builder;
    if (grid_) builder.emplace(*grid_, static_cast<double>(n) * dt);
    std::int64_t delivered = 0;  // bytes of the sample delivered so far
    std::int64_t k0 = 0;         // sample index of buf[0]
    const float one = 1.0f;
    const int handle = recorder.begin_sample(first_, -1);
    // After an update: predict the next undelivered byte (in buf: each chunk is read with one byte of
    // look-ahead), then record.
    const auto after_update = [&](std::int64_t delivered_now) {
        delivered += delivered_now;
        if (delivered_now > 0 && delivered < n) {
            const std::int32_t target = buf[static_cast<std::size_t>(delivered - k0)];
            res.stats.add(
                sim::compute_loss<float>(models::LossMode::next_byte, sim.logits(), 1, 1, n_out, &target, nullptr));
        }
        const auto v = sim.view();
        recorder.write(handle, v.time_ms, v.y, v.m, v.b, v.logits);
    };
    while (k0 < n) {
        std::int64_t k1 = std::min(n, k0 + kChunk);
        // Event mode: a slice must end between cells (bytes sharing a cell are delivered together).
        if (builder)
            while (k1 < n &&
                   builder->cell_of(static_cast<double>(k1) * dt) == builder->cell_of(static_cast<double>(k1 - 1) * dt))
                ++k1;
        const std::int64_t len = k1 - k0, ahead = k1 < n ? 1 : 0;
        buf.resize(static_cast<std::size_t>(len + ahead));
        stream_->read(io::Split::train, first_ + k0, len + ahead, buf.data());
        if (!builder) {
            for (std::int64_t k = k0; k < k1; ++k) {
                const std::int32_t ch = buf[static_cast<std::size_t>(k - k0)];
                sim.step(static_cast<double>(k + 1) * dt, dt, &ch, &one, 1);
                after_update(1);
            }
        } else {
            times.resize(static_cast<std::size_t>(len));
            channels.resize(static_cast<std::size_t>(len));
            for (std::size_t j = 0; j < times.size(); ++j) {
                times[j] = static_cast<double>(k0 + static_cast<std::int64_t>(j)) * dt;
                channels[j] = buf[j];
            }
            builder->next_slice(times.data(), channels.data(), times.size(), k1 == n, sched);
            for (std::int64_t u = 0; u < sched.updates(); ++u) {
                const std::int64_t s0 = sched.start[u], s1 = sched.start[u + 1];
                sim.step(sched.time_ms[u], sched.dt_ms[u], sched.channel.data() + s0, sched.count.data() + s0,
                         static_cast<std::size_t>(s1 - s0));
                std::int64_t got = 0;
                for (std::int64_t e = s0; e < s1; ++e) got += static_cast<std::int64_t>(sched.count[e]);
                after_update(got);
            }
        }
        k0 = k1;
    }
    recorder.end_sample(handle, sim.logits(), sim::argmax(sim.logits(), n_out));
    res.updates = sim.updates();
    res.samples = 1;
    return res;
}

}  // namespace elm::workflow
