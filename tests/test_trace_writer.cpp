// Tests of io/trace_writer and io/trace_reader (spec files-and-cli.md "Traces"): round trips with
// decimation and a neuron subset, read back through read_trace, the raw HDF5 API and h5py; atomic
// output; rejected options and paths; bounded memory on long runs; and a smoke run of
// tools/elmsim_plot.py on a written trace.
#include <catch2/catch.hpp>

#include "tests/cli_runner.hpp"

#include "tests/temp_dir.hpp"
#include "tests/system_python.hpp"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <sys/wait.h>

#include "elmsim/io/hdf5_file.hpp"
#include "elmsim/io/trace_reader.hpp"
#include "elmsim/io/trace_writer.hpp"
#include "elmsim/models/error.hpp"
#include "tools/cli/trace_selection.hpp"

namespace fs = std::filesystem;
using namespace elm::io;
using Catch::Matchers::Contains;

namespace {

using elm::test::TempDir;

using elm::test::run_command;

// Sizes of the round-trip network and the full-network state of one update.
constexpr int kN = 10, kDm = 2, kNb = 3, kNout = 4;

struct Update {
    double t;
    std::vector<float> y, m, b, logits;
};

std::vector<Update> random_updates(std::mt19937& rng, int count, double dt) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<Update> out;
    for (int k = 0; k < count; ++k) {
        Update up{(k + 1) * dt, {}, {}, {}, {}};
        for (int i = 0; i < kN; ++i) up.y.push_back(u(rng) > 0.4f ? 1.0f : 0.0f);  // spike-like
        for (int i = 0; i < kN * kDm; ++i) up.m.push_back(u(rng));
        for (int i = 0; i < kN * kNb; ++i) up.b.push_back(u(rng));
        for (int i = 0; i < kNout; ++i) up.logits.push_back(u(rng));
        out.push_back(std::move(up));
    }
    return out;
}

// Checks layout, filters and maxdims of one dataset through the raw HDF5 C API.
void check_chunked_compressed(hid_t file, const std::string& path, const std::vector<hsize_t>& shape) {
    INFO(path);
    H5Handle ds = open_dataset(file, path);
    H5Handle dcpl(H5Dget_create_plist(ds.id()), H5Pclose);
    CHECK(H5Pget_layout(dcpl.id()) == H5D_CHUNKED);
    bool deflate = false, shuffle = false;
    for (int i = 0; i < H5Pget_nfilters(dcpl.id()); ++i) {
        unsigned flags = 0;
        std::size_t nelmts = 0;
        const H5Z_filter_t f =
            H5Pget_filter2(dcpl.id(), static_cast<unsigned>(i), &flags, &nelmts, nullptr, 0, nullptr, nullptr);
        deflate |= f == H5Z_FILTER_DEFLATE;
        shuffle |= f == H5Z_FILTER_SHUFFLE;
    }
    CHECK(deflate);
    CHECK(shuffle);
    H5Handle space(H5Dget_space(ds.id()), H5Sclose);
    std::vector<hsize_t> dims(shape.size()), maxdims(shape.size());
    REQUIRE(H5Sget_simple_extent_ndims(space.id()) == static_cast<int>(shape.size()));
    H5Sget_simple_extent_dims(space.id(), dims.data(), maxdims.data());
    CHECK(dims == shape);
    CHECK(maxdims[0] == H5S_UNLIMITED);
}

}  // namespace

TEST_CASE("trace round trip: samples of different lengths, decimate 3, a neuron subset", "[io][trace]") {
    TempDir tmp("trace_roundtrip");
    const std::string path = tmp.file("t.h5");
    const TraceOptions opt = elm::tools::parse_trace_options("y,m,b,logits,spikes", "1:4,7", 3, kN);
    REQUIRE(opt.neurons == std::vector<std::int32_t>{1, 2, 3, 7});
    const std::vector<int> lengths = {1000, 7, 1, 0};  // 1000 -> 334 rows: more than one 256-row chunk
    std::mt19937 rng(42);
    std::vector<std::vector<Update>> data;
    {
        TraceWriter w(path, "model.h5", "clock", opt, kN, kDm, kNb, kNout, "elmsim-test 0.1");
        CHECK(fs::exists(path + ".tmp"));
        CHECK_FALSE(fs::exists(path));
        for (std::size_t s = 0; s < lengths.size(); ++s) {
            data.push_back(random_updates(rng, lengths[s], 1.0));
            w.begin_sample(static_cast<std::int64_t>(10 + s), static_cast<int>(s) - 1);  // sample 0: label unknown
            for (const Update& up : data.back())
                w.write(up.t, up.y.data(), up.m.data(), up.b.data(), up.logits.data());
            w.end_sample(nullptr, static_cast<int>(s) % kNout);
        }
        CHECK(w.samples_written() == 4);
        w.commit();
    }
    CHECK(fs::exists(path));
    CHECK_FALSE(fs::exists(path + ".tmp"));

    const TraceFile tf = read_trace(path);
    CHECK(tf.format_version == 1);
    CHECK(tf.model == "model.h5");
    CHECK(tf.mode == "clock");
    CHECK(tf.created_by == "elmsim-test 0.1");
    CHECK(tf.recorded.decimate == 3);
    CHECK(tf.recorded.neurons == opt.neurons);
    CHECK((tf.recorded.y && tf.recorded.m && tf.recorded.b && tf.recorded.logits && tf.recorded.spikes));
    CHECK((tf.N == kN && tf.n_sel == 4 && tf.d_m == kDm && tf.n_b == kNb && tf.n_out == kNout));
    REQUIRE(tf.samples.size() == lengths.size());
    const auto& sel = opt.neurons;
    for (std::size_t s = 0; s < lengths.size(); ++s) {
        INFO("sample " << s);
        const TraceSample& ts = tf.samples[s];
        CHECK(ts.source_index == static_cast<std::int64_t>(10 + s));
        CHECK(ts.label == static_cast<int>(s) - 1);
        CHECK(ts.prediction == static_cast<int>(s) % kNout);
        std::vector<double> t;
        std::vector<float> y, m, b, logits;
        std::vector<double> spike_t;
        std::vector<std::int32_t> spike_n;
        for (std::size_t k = 0; k < data[s].size(); ++k) {
            const Update& up = data[s][k];
            for (const std::int32_t id : sel)
                if (up.y[id] != 0.0f) {
                    spike_t.push_back(up.t);
                    spike_n.push_back(id);
                }
            if (k % 3 != 0) continue;
            t.push_back(up.t);
            for (const std::int32_t id : sel) {
                y.push_back(up.y[id]);
                for (int j = 0; j < kDm; ++j) m.push_back(up.m[id * kDm + j]);
                for (int j = 0; j < kNb; ++j) b.push_back(up.b[id * kNb + j]);
            }
            logits.insert(logits.end(), up.logits.begin(), up.logits.end());
        }
        CHECK(ts.T == static_cast<std::int64_t>(t.size()));
        CHECK(ts.logits_rows == ts.T);
        CHECK(ts.time_ms == t);
        CHECK(ts.y == y);
        CHECK(ts.m == m);
        CHECK(ts.b == b);
        CHECK(ts.logits == logits);
        CHECK(ts.spike_times == spike_t);
        CHECK(ts.spike_neurons == spike_n);
    }

    // The raw HDF5 view: chunked, deflated and shuffled, extendible along T; root attributes.
    H5File f = H5File::open_read(path);
    check_chunked_compressed(f.id(), "samples/0/time_ms", {334});
    check_chunked_compressed(f.id(), "samples/0/y", {334, 4});
    check_chunked_compressed(f.id(), "samples/0/m", {334, 4, kDm});
    check_chunked_compressed(f.id(), "samples/0/b", {334, 4, kNb});
    check_chunked_compressed(f.id(), "samples/0/logits", {334, kNout});
    check_chunked_compressed(f.id(), "samples/3/y", {0, 4});
    CHECK(read_attr_string(f.id(), "format") == "elm-trace");
    CHECK(read_attr_int32_array(f.id(), "neurons") == sel);
    CHECK(read_attr_string(f.id(), "variables") == "y,m,b,logits,spikes");
    CHECK_FALSE(has_attribute(open_group(f.id(), "samples/0").id(), "label"));

    // An independent reader: h5py on the system Python.
    elm::test::require_system_python("h5py, numpy", "python3-h5py python3-numpy");
    const std::string script = tmp.file("check.py");
    std::ofstream(script) << "import sys, h5py, numpy as np\n"
                             "f = h5py.File(sys.argv[1], 'r')\n"
                             "fmt = f.attrs['format']\n"
                             "assert isinstance(fmt, bytes) and fmt.decode() == 'elm-trace', repr(fmt)\n"
                             "assert f.attrs.get_id('format').get_type().get_cset() == h5py.h5t.CSET_UTF8\n"
                             "assert list(f.attrs['neurons']) == [1, 2, 3, 7]\n"
                             "assert int(f.attrs['decimate']) == 3\n"
                             "g = f['samples/0']\n"
                             "y = g['y']\n"
                             "assert y.shape == (334, 4) and y.dtype == np.float32, (y.shape, y.dtype)\n"
                             "assert y.compression == 'gzip' and y.shuffle and y.chunks is not None\n"
                             "assert y.maxshape == (None, 4)\n"
                             "assert g['m'].shape == (334, 4, 2) and g['time_ms'].dtype == np.float64\n"
                             "assert g['spike_neurons'].dtype == np.int32\n"
                             "assert f['samples/3/y'].shape == (0, 4)\n"
                             "assert 'label' not in g.attrs and int(f['samples/1'].attrs['label']) == 0\n"
                             "print('sum_y', repr(float(np.asarray(y, dtype=np.float64).sum())))\n";
    const elm::test::CliResult r = run_command("/usr/bin/python3 " + script + " " + path);
    INFO(r.output);
    REQUIRE(r.code == 0);
    double sum_y = 0.0;
    for (const float v : tf.samples[0].y) sum_y += v;
    CHECK_THAT(r.output, Contains("sum_y " + std::to_string(static_cast<int>(sum_y)) + ".0"));
}

TEST_CASE("trace with final logits only stores one readout row and the prediction", "[io][trace]") {
    TempDir tmp("trace_final");
    const std::string path = tmp.file("t.h5");
    TraceOptions opt = elm::tools::parse_trace_options("y,logits", "all", 1, kN);
    opt.final_logits_only = true;
    std::mt19937 rng(7);
    const auto ups = random_updates(rng, 5, 0.5);
    const std::vector<float> final_logits = {0.5f, -1.0f, 2.0f, 0.25f};
    {
        TraceWriter w(path, "m.h5", "event", opt, kN, kDm, kNb, kNout, "test");
        w.begin_sample(3, 2);
        for (const Update& up : ups) w.write(up.t, up.y.data(), nullptr, nullptr, nullptr);
        w.end_sample(final_logits.data(), 2);
        w.commit();
    }
    const TraceFile tf = read_trace(path);
    CHECK(tf.mode == "event");
    CHECK(tf.recorded.final_logits_only);
    CHECK(tf.recorded.neurons.size() == static_cast<std::size_t>(kN));
    REQUIRE(tf.samples.size() == 1);
    CHECK(tf.samples[0].T == 5);
    CHECK(tf.samples[0].time_ms == std::vector<double>{0.5, 1.0, 1.5, 2.0, 2.5});
    CHECK(tf.samples[0].logits_rows == 1);
    CHECK(tf.samples[0].logits == final_logits);
    CHECK(tf.samples[0].prediction == 2);
    REQUIRE(tf.samples[0].y.size() == static_cast<std::size_t>(5 * kN));  // all neurons
    CHECK(std::vector<float>(tf.samples[0].y.end() - kN, tf.samples[0].y.end()) == ups[4].y);
}

TEST_CASE("trace writer never leaves a half-written file and never damages an existing one", "[io][trace]") {
    TempDir tmp("trace_atomic");
    const std::string path = tmp.file("t.h5");
    const TraceOptions opt = elm::tools::parse_trace_options("y", "all", 1, kN);
    const std::vector<float> y(kN, 1.0f);

    SECTION("destroyed without commit: no file at all") {
        {
            TraceWriter w(path, "m.h5", "clock", opt, kN, kDm, kNb, kNout, "test");
            w.begin_sample(0, 1);
            w.write(1.0, y.data(), nullptr, nullptr, nullptr);
        }
        CHECK_FALSE(fs::exists(path));
        CHECK_FALSE(fs::exists(path + ".tmp"));
    }
    SECTION("an existing file survives a failed run") {
        std::ofstream(path) << "previous results";
        try {
            TraceWriter w(path, "m.h5", "clock", opt, kN, kDm, kNb, kNout, "test");
            w.begin_sample(0, 1);
            w.write(1.0, y.data(), nullptr, nullptr, nullptr);
            throw elm::InputError("simulated failure mid-run");
        } catch (const elm::InputError&) {
        }
        CHECK_THROWS_AS(TraceWriter(path, "m.h5", "turbo", opt, kN, kDm, kNb, kNout, "test"), elm::InputError);
        std::ifstream in(path);
        std::string content;
        std::getline(in, content);
        CHECK(content == "previous results");
        CHECK_FALSE(fs::exists(path + ".tmp"));
    }
}

TEST_CASE("trace options: bad --record, --neurons and --decimate are rejected with the flag", "[io][trace]") {
    const auto rejects = [](const std::string& rec, const std::string& neu, std::int64_t dec, const std::string& a,
                            const std::string& b) {
        INFO(rec << " | " << neu << " | " << dec);
        CHECK_THROWS_WITH(elm::tools::parse_trace_options(rec, neu, dec, 10), Contains(a) && Contains(b));
    };
    rejects("y,voltage", "all", 1, "--record", "'voltage'");
    rejects("", "all", 1, "--record", "found nothing");
    rejects("y,,m", "all", 1, "--record", "empty item");
    rejects("y", "999", 1, "--neurons", "neuron 999 is out of range for N = 10");
    rejects("y", "-1", 1, "--neurons", "out of range");
    rejects("y", "5:5", 1, "--neurons", "range 5:5 is empty");
    rejects("y", "0:11", 1, "--neurons", "out of range");
    rejects("y", "a:b", 1, "--neurons", "found 'a:b'");
    rejects("y", "1,,2", 1, "--neurons", "empty item");
    rejects("y", "all", 0, "--decimate", "found 0");

    const TraceOptions o = elm::tools::parse_trace_options(" m , spikes ", ":3,8:,2", 4, 10);
    CHECK_FALSE(o.y);
    CHECK((o.m && o.spikes && !o.b && !o.logits));
    CHECK(o.neurons == std::vector<std::int32_t>{0, 1, 2, 8, 9});
    CHECK(o.decimate == 4);
    CHECK(elm::tools::parse_trace_options("y", "all", 1, 10).neurons.empty());
    CHECK(trace_variables_string(o) == "m,spikes");

    // Options built by hand are checked by the writer before anything is written.
    TempDir tmp("trace_badopt");
    TraceOptions bad;
    bad.neurons = {3, 12};
    CHECK_THROWS_WITH(TraceWriter(tmp.file("t.h5"), "m.h5", "clock", bad, 10, 1, 1, 1, "test"),
                      Contains("neuron 12 is out of range"));
    bad = TraceOptions{};
    bad.y = false;
    CHECK_THROWS_WITH(TraceWriter(tmp.file("t.h5"), "m.h5", "clock", bad, 10, 1, 1, 1, "test"),
                      Contains("at least one variable"));
    CHECK_FALSE(fs::exists(tmp.file("t.h5.tmp")));
}

TEST_CASE("trace writer rejects an unwritable path at construction, naming it", "[io][trace]") {
    TempDir tmp("trace_unwritable");
    const std::string path = tmp.file("no_such_dir/t.h5");
    CHECK_THROWS_WITH(TraceWriter(path, "m.h5", "clock", TraceOptions{}, 4, 1, 1, 1, "test"),
                      Contains(path) && Contains("does not exist"));
    CHECK_THROWS_WITH(TraceWriter(tmp.dir.string(), "m.h5", "clock", TraceOptions{}, 4, 1, 1, 1, "test"),
                      Contains("directory"));
}

TEST_CASE("trace writer memory stays bounded over 200k updates of N = 256", "[io][trace]") {
    TempDir tmp("trace_memory");
    const std::string path = tmp.file("long.h5");
    constexpr int N = 256;
    constexpr std::int64_t updates = 200000;
    constexpr std::size_t kBound = std::size_t{4} << 20;  // 4 MiB; the run itself is ~200 MB of floats
    std::vector<float> y(N);
    std::size_t peak = 0;
    {
        TraceWriter w(path, "m.h5", "clock", TraceOptions{}, N, 1, 1, 1, "test");
        w.begin_sample(0, -1);
        for (std::int64_t k = 0; k < updates; ++k) {
            // Sparse, structured outputs: compress well, so the test is fast.
            for (int i = 0; i < N; ++i) y[i] = (k + i) % 17 == 0 ? 1.0f : 0.0f;
            w.write(static_cast<double>(k + 1), y.data(), nullptr, nullptr, nullptr);
            if (k % 1000 == 0) peak = std::max(peak, w.buffered_bytes());
        }
        w.end_sample(nullptr, 0);
        w.commit();
    }
    CHECK(peak > 0);
    CHECK(peak < kBound);
    H5File f = H5File::open_read(path);
    CHECK(dataset_shape(f.id(), "samples/0/y") == std::vector<hsize_t>{updates, N});
    const auto tail = read_dataset<double>(f.id(), "samples/0/time_ms");
    REQUIRE(tail.size() == static_cast<std::size_t>(updates));
    CHECK(tail.back() == static_cast<double>(updates));
}

TEST_CASE("trace of a network with more than 16k neurons keeps its 'neurons' attribute over 64 KiB", "[io][trace]") {
    // HDF5's default object-header format caps attributes at 64 KiB; the writer selects the 1.8 format.
    TempDir tmp("trace_bigattr");
    const std::string path = tmp.file("t.h5");
    constexpr int N = 20000;
    const std::vector<float> y(N, 0.5f);
    {
        TraceWriter w(path, "m.h5", "clock", TraceOptions{}, N, 1, 1, 1, "test");
        w.begin_sample(0, -1);
        w.write(1.0, y.data(), nullptr, nullptr, nullptr);
        w.end_sample(nullptr, 0);
        w.commit();
    }
    const TraceFile tf = read_trace(path);
    REQUIRE(tf.recorded.neurons.size() == static_cast<std::size_t>(N));
    CHECK(tf.recorded.neurons.back() == N - 1);
    CHECK(tf.samples.at(0).y == y);
}

TEST_CASE("trace reader rejects files that are not valid traces", "[io][trace]") {
    TempDir tmp("trace_reader");
    CHECK_THROWS_WITH(read_trace(tmp.file("missing.h5")), Contains("missing.h5") && Contains("does not exist"));
    const std::string other = tmp.file("model.h5");
    {
        H5File f = H5File::create(other);
        write_attr_string(f.id(), "format", "elm-network");
        f.close();
    }
    CHECK_THROWS_WITH(read_trace(other), Contains("model.h5") && Contains("expected 'elm-trace', found 'elm-network'"));

    // A trace whose y has the wrong number of neurons.
    const std::string path = tmp.file("t.h5");
    {
        TraceWriter w(path, "m.h5", "clock", elm::tools::parse_trace_options("m", "0:3", 1, 5), 5, 2, 1, 1, "test");
        w.begin_sample(0, 0);
        w.end_sample(nullptr, 0);
        w.commit();
    }
    {
        H5File f = H5File::open_rw(path);
        const std::vector<float> y(4 * 2, 0.0f);
        write_dataset(f.id(), "samples/0/y", y.data(), {0, 8});
        write_attr_string(f.id(), "variables", "y,m");
        f.close();
    }
    CHECK_THROWS_WITH(read_trace(path), Contains("/samples/0/y") && Contains("n_sel = 3"));
}

TEST_CASE("trace reader rejects update and spike times that are NaN, infinite, negative or going back", "[io][trace]") {
    TempDir tmp("trace_reader_times");
    const std::string path = tmp.file("t.h5");
    {
        TraceWriter w(path, "m.h5", "event", elm::tools::parse_trace_options("y", "all", 1, 2), 2, 1, 1, 1, "test");
        w.begin_sample(0, 0);
        const std::vector<float> y = {0.5f, 0.25f};
        for (int k = 0; k < 3; ++k) w.write(1.0 + k, y.data(), nullptr, nullptr, nullptr);
        w.end_sample(nullptr, 0);
        w.commit();
    }
    REQUIRE(read_trace(path).samples.at(0).time_ms == std::vector<double>{1.0, 2.0, 3.0});
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    const std::vector<std::pair<std::vector<double>, std::string>> bad = {
        {{1.0, nan, 3.0}, "expected finite times >= 0 ms, found nan at [1]"},
        {{1.0, 2.0, inf}, "expected finite times >= 0 ms, found inf at [2]"},
        {{-1.0, 2.0, 3.0}, "expected finite times >= 0 ms, found -1 at [0]"},
        {{1.0, 3.0, 2.0}, "expected non-decreasing times, found 2 after 3 at [2]"},
    };
    for (const auto& [times, message] : bad) {
        const std::string copy = tmp.file("bad.h5");
        fs::copy_file(path, copy, fs::copy_options::overwrite_existing);
        {
            H5File f = H5File::open_rw(copy);
            REQUIRE(H5Ldelete(f.id(), "samples/0/time_ms", H5P_DEFAULT) >= 0);
            write_dataset(f.id(), "samples/0/time_ms", times.data(), {3});
            f.close();
        }
        INFO(message);
        CHECK_THROWS_WITH(read_trace(copy), Contains("bad.h5") && Contains("/samples/0/time_ms") && Contains(message));
    }
}

TEST_CASE("elmsim_plot.py draws a heatmap and memory traces of a written trace", "[io][trace]") {
    elm::test::require_system_python("h5py, matplotlib", "python3-h5py python3-matplotlib");
    TempDir tmp("trace_plot");
    const std::string trace = tmp.file("t.h5");
    {
        TraceWriter w(trace, "m.h5", "clock", elm::tools::parse_trace_options("y,m", "0:6", 1, 8), 8, 2, 1, 1, "test");
        std::mt19937 rng(3);
        std::uniform_real_distribution<float> u(0.0f, 1.0f);
        std::vector<float> y(8), m(16);
        w.begin_sample(0, 1);
        for (int k = 0; k < 50; ++k) {
            for (auto& v : y) v = u(rng);
            for (auto& v : m) v = u(rng);
            w.write(k + 1.0, y.data(), m.data(), nullptr, nullptr);
        }
        w.end_sample(nullptr, 1);
        w.commit();
    }
    const std::string tool = std::string("/usr/bin/python3 ") + ELM_SOURCE_DIR + "/tools/elmsim_plot.py ";
    const auto is_png = [](const std::string& p) {
        std::ifstream in(p, std::ios::binary);
        char magic[4] = {};
        in.read(magic, 4);
        return in && magic[1] == 'P' && magic[2] == 'N' && magic[3] == 'G';
    };
    for (const std::string sub : {"heatmap", "memory --neurons 0,3"}) {
        const std::string png = tmp.file(sub.substr(0, 6) + ".png");
        const elm::test::CliResult r = run_command(tool + sub + " --trace " + trace + " --sample 0 --out " + png);
        INFO(sub << ": " << r.output);
        CHECK(r.code == 0);
        CHECK(is_png(png));
        CHECK_FALSE(fs::exists(png + ".tmp"));
    }
    const elm::test::CliResult missing =
        run_command(tool + "heatmap --trace " + tmp.file("none.h5") + " --out " + tmp.file("x.png"));
    CHECK(missing.code == 2);
    CHECK_THAT(missing.output, Contains("none.h5") && Contains("does not exist"));
    const elm::test::CliResult not_recorded =
        run_command(tool + "memory --trace " + trace + " --neurons 7 --out " + tmp.file("x.png"));
    CHECK(not_recorded.code == 2);
    CHECK_THAT(not_recorded.output, Contains("neuron 7 was not recorded"));
    CHECK_FALSE(fs::exists(tmp.file("x.png")));
}
