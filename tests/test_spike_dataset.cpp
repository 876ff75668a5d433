// Tests of the SHD layout reader/writer (io/spike_dataset) on generated data (io/shd_generator),
// clock-mode binning (io/spike_binning) and SHD-Adding (io/shd_adding). Malformed files are
// written here with the HDF5 C API, so each rejection is tested on a real file.
#include <catch2/catch.hpp>

#include "tests/temp_dir.hpp"
#include "tests/system_python.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "elmsim/io/hdf5_file.hpp"
#include "elmsim/io/shd_adding.hpp"
#include "elmsim/io/shd_generator.hpp"
#include "elmsim/io/spike_binning.hpp"
#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/models/error.hpp"

namespace fs = std::filesystem;
using namespace elm::io;
using Catch::Matchers::Contains;

namespace {

using elm::models::num_steps;
using elm::test::TempDir;

// A file in the SHD layout written directly with the C API, with knobs to break it.
struct RawShd {
    std::vector<std::vector<double>> times_s;  // stored as VL of time_type
    std::vector<std::vector<std::int64_t>> units;  // stored as VL int32
    std::vector<std::int64_t> labels;          // stored as int64
    hid_t time_type = H5T_IEEE_F32LE;
    bool write_times = true, write_units = true, write_labels = true;
    bool labels_as_strings = false;
    bool times_as_integers = false;

    void write(const std::string& path) const {
        auto f = H5File::create(path);
        if (write_times) {
            std::vector<std::vector<double>> copy = times_s;
            std::vector<hvl_t> vl;
            for (auto& v : copy) vl.push_back(hvl_t{v.size(), v.data()});
            H5Handle file_vl(H5Tvlen_create(times_as_integers ? H5T_STD_I32LE : time_type), H5Tclose);
            H5Handle mem_vl(H5Tvlen_create(H5T_NATIVE_DOUBLE), H5Tclose);
            H5Handle ds = create_dataset(f.id(), "spikes/times", file_vl.id(), {copy.size()});
            REQUIRE(H5Dwrite(ds.id(), mem_vl.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, vl.data()) >= 0);
        }
        if (write_units) {
            std::vector<std::vector<std::int64_t>> copy = units;
            std::vector<hvl_t> vl;
            for (auto& v : copy) vl.push_back(hvl_t{v.size(), v.data()});
            H5Handle file_vl(H5Tvlen_create(H5T_STD_I32LE), H5Tclose);
            H5Handle mem_vl(H5Tvlen_create(H5T_NATIVE_INT64), H5Tclose);
            H5Handle ds = create_dataset(f.id(), "spikes/units", file_vl.id(), {copy.size()});
            REQUIRE(H5Dwrite(ds.id(), mem_vl.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, vl.data()) >= 0);
        }
        if (write_labels) {
            if (labels_as_strings) {
                std::vector<std::string> text(labels.size(), "seven");
                write_fixed_string_array(f.id(), "labels", text);
            } else {
                write_dataset(f.id(), "labels", labels.data(), {labels.size()});
            }
        }
        f.close();
    }
};

RawShd good_raw() {
    RawShd r;
    r.times_s = {{0.0, 0.25, 0.25, 0.5}, {0.125}};
    r.units = {{0, 699, 3, 4}, {10}};
    r.labels = {19, 3};
    return r;
}

std::string expect_error(const RawShd& raw, const std::string& path) {
    raw.write(path);
    try {
        read_spike_dataset(path);
    } catch (const elm::InputError& e) {
        return e.what();
    }
    return "<no error>";
}

}  // namespace

TEST_CASE("float16 rounding is IEEE round-to-nearest-even", "[io]") {
    CHECK(float16_bits(1.0) == 0x3C00);
    CHECK(float16_bits(0.1) == 0x2E66);
    CHECK(float16_bits(65504.0) == 0x7BFF);
    CHECK(float16_bits(65519.99) == 0x7BFF);
    CHECK(float16_bits(65520.0) == 0x7C00);  // tie rounds to even = infinity
    CHECK(float16_bits(std::ldexp(1.0, -24)) == 0x0001);
    CHECK(float16_bits(std::ldexp(0.5, -24)) == 0x0000);  // tie to even (0)
    CHECK(float16_bits(std::ldexp(1.5, -24)) == 0x0002);  // tie to even (2)
    CHECK(float16_bits(1.0 + std::ldexp(1.0, -11)) == 0x3C00);      // tie -> even mantissa 0
    CHECK(float16_bits(1.0 + 3 * std::ldexp(1.0, -11)) == 0x3C02);  // tie -> even mantissa 2
    CHECK(float16_bits(-2.0) == 0xC000);
    CHECK(float16_value(0x3555) == Approx(0.333251953125).epsilon(0));
    // Every finite half value survives value -> bits -> value.
    for (std::uint32_t b = 0; b < 0x10000; ++b) {
        if (((b >> 10) & 0x1F) == 0x1F) continue;
        REQUIRE(float16_bits(float16_value(static_cast<std::uint16_t>(b))) == b);
    }
}

TEST_CASE("generated SHD data round trips through the real file layout", "[io]") {
    TempDir tmp("spk_roundtrip");
    const std::string path = tmp.file("gen.h5");
    const SpikeDataset ds = generate_shd(60, 7);
    write_spike_dataset(path, ds);
    const SpikeDataset back = read_spike_dataset(path);
    REQUIRE(back.samples.size() == ds.samples.size());
    CHECK(back.num_classes == 20);
    CHECK(back.keys == shd_class_names());
    for (std::size_t i = 0; i < ds.samples.size(); ++i) {
        // The generator already rounds to float16, so the read-back times are equal, not close.
        REQUIRE(back.samples[i].times_ms == ds.samples[i].times_ms);
        REQUIRE(back.samples[i].units == ds.samples[i].units);
        REQUIRE(back.samples[i].label == ds.samples[i].label);
        REQUIRE(back.samples[i].speaker == ds.samples[i].speaker);
    }
    const SpikeDataset first = read_spike_dataset(path, 5);
    CHECK(first.samples.size() == 5);
    CHECK(first.num_classes == 20);  // from /extra/keys even if the 5 samples lack some labels

    // The stored types are the real ones: VL of 2-byte IEEE half floats, VL uint16, uint16.
    auto f = H5File::open_read(path);
    H5Handle times = open_dataset(f.id(), "spikes/times");
    H5Handle ttype(H5Dget_type(times.id()), H5Tclose);
    REQUIRE(H5Tget_class(ttype.id()) == H5T_VLEN);
    H5Handle tbase(H5Tget_super(ttype.id()), H5Tclose);
    CHECK(H5Tget_class(tbase.id()) == H5T_FLOAT);
    CHECK(H5Tget_size(tbase.id()) == 2);
    size_t spos, epos, esize, mpos, msize;
    H5Tget_fields(tbase.id(), &spos, &epos, &esize, &mpos, &msize);
    CHECK((spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10));
    CHECK(H5Tget_ebias(tbase.id()) == 15);
    H5Handle units = open_dataset(f.id(), "spikes/units");
    H5Handle utype(H5Dget_type(units.id()), H5Tclose);
    H5Handle ubase(H5Tget_super(utype.id()), H5Tclose);
    CHECK(H5Tequal(ubase.id(), H5T_STD_U16LE) > 0);
    H5Handle labels = open_dataset(f.id(), "labels");
    H5Handle ltype(H5Dget_type(labels.id()), H5Tclose);
    CHECK(H5Tequal(ltype.id(), H5T_STD_U16LE) > 0);
    CHECK(read_string_array(f.id(), "extra/keys").size() == 20);
    CHECK(dataset_shape(f.id(), "extra/meta_info/age") == std::vector<hsize_t>{12});
    CHECK(read_string_array(f.id(), "extra/meta_info/gender")[0] == "female");
}

TEST_CASE("h5py reads the written file as float16", "[io]") {
    elm::test::require_system_python("h5py, numpy", "python3-h5py python3-numpy");
    TempDir tmp("spk_h5py");
    const std::string path = tmp.file("gen.h5");
    const SpikeDataset ds = generate_shd(4, 3);
    write_spike_dataset(path, ds);
    const std::string out = tmp.file("out.txt");
    const std::string cmd = "/usr/bin/python3 -c \"import h5py, numpy as np; f = h5py.File('" + path +
                            "', 'r'); t = f['spikes/times']; print(t.dtype.metadata['vlen'], t[0].dtype, "
                            "f['spikes/units'][0].dtype, f['labels'].dtype, f['extra/keys'][0].decode(), "
                            "repr(float(np.float64(t[1][-1]) * 1000)))\" > " + out;
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream in(out);
    std::string vlen, tdtype, udtype, ldtype, key, last;
    in >> vlen >> tdtype >> udtype >> ldtype >> key >> last;
    CHECK(tdtype == "float16");
    CHECK(udtype == "uint16");
    CHECK(ldtype == "uint16");
    CHECK(key == "zero");
    CHECK(std::stod(last) == ds.samples[1].times_ms.back());
}

TEST_CASE("a file written by h5py in the SHD layout is read exactly", "[io]") {
    elm::test::require_system_python("h5py, numpy", "python3-h5py python3-numpy");
    TempDir tmp("spk_h5py_write");
    const std::string path = tmp.file("shd_like.h5");
    // numpy float16 times as h5py stores them (VL of h5py's half type), as in the real SHD files.
    const std::string cmd =
        "/usr/bin/python3 -c \"import h5py, numpy as np; f = h5py.File('" + path + "', 'w'); "
        "t = f.create_dataset('spikes/times', (2,), dtype=h5py.vlen_dtype(np.float16)); "
        "u = f.create_dataset('spikes/units', (2,), dtype=h5py.vlen_dtype(np.uint16)); "
        "t[0] = np.array([0.0001, 0.3333, 0.9995], np.float16); t[1] = np.array([], np.float16); "
        "u[0] = np.array([0, 350, 699], np.uint16); u[1] = np.array([], np.uint16); "
        "f['labels'] = np.array([11, 0], np.uint16); f['extra/keys'] = np.array([b'a', b'bb', b'ccc'])\"";
    REQUIRE(std::system(cmd.c_str()) == 0);
    const SpikeDataset ds = read_spike_dataset(path);
    REQUIRE(ds.samples.size() == 2);
    const std::vector<double> expected = {round_to_float16(0.0001) * 1000.0, round_to_float16(0.3333) * 1000.0,
                                          round_to_float16(0.9995) * 1000.0};
    CHECK(ds.samples[0].times_ms == expected);
    CHECK(ds.samples[0].units == std::vector<std::uint16_t>{0, 350, 699});
    CHECK(ds.samples[1].times_ms.empty());
    CHECK(ds.samples[0].label == 11);
    CHECK(ds.num_classes == 12);  // max label + 1 beats the 3 keys
    CHECK(ds.keys == std::vector<std::string>{"a", "bb", "ccc"});
}

TEST_CASE("malformed spike files are rejected with the file, dataset and problem", "[io]") {
    TempDir tmp("spk_bad");
    const std::string p = tmp.file("bad.h5");
    {
        RawShd r = good_raw();
        r.write(p);
        const SpikeDataset ds = read_spike_dataset(p);  // float32 times are accepted
        REQUIRE(ds.samples.size() == 2);
        CHECK(ds.samples[0].times_ms == std::vector<double>{0.0, 250.0, 250.0, 500.0});
        CHECK(ds.samples[0].units == std::vector<std::uint16_t>{0, 699, 3, 4});
        CHECK(ds.num_classes == 20);
        r.time_type = H5T_IEEE_F64LE;
        r.write(p);
        CHECK(read_spike_dataset(p).samples[1].times_ms == std::vector<double>{125.0});
    }
    RawShd r = good_raw();
    r.write_labels = false;
    CHECK_THAT(expect_error(r, p), Contains(p + ": /labels: expected a dataset, found nothing"));
    r = good_raw();
    r.write_times = false;
    CHECK_THAT(expect_error(r, p), Contains(p + ": /spikes/times: expected a dataset, found nothing"));
    r = good_raw();
    r.labels_as_strings = true;
    CHECK_THAT(expect_error(r, p), Contains(p + ": /labels: expected integers") && Contains("string"));
    r = good_raw();
    r.times_as_integers = true;
    CHECK_THAT(expect_error(r, p), Contains(p + ": /spikes/times: expected variable-length arrays of floats") &&
                                       Contains("found variable-length array of 4-byte signed integer"));
    r = good_raw();
    r.units[1][0] = 700;
    CHECK_THAT(expect_error(r, p), Contains(p + ": /spikes/units[1]: expected channels 0..699, found 700 at event 0"));
    r = good_raw();
    r.units[0][2] = -1;
    CHECK_THAT(expect_error(r, p), Contains("/spikes/units[0]: expected channels 0..699, found -1"));
    r = good_raw();
    r.times_s[0][0] = -0.001;
    CHECK_THAT(expect_error(r, p), Contains(p + ": /spikes/times[0]: expected times >= 0 s") && Contains("event 0"));
    r = good_raw();
    r.times_s[0][1] = std::numeric_limits<double>::quiet_NaN();
    CHECK_THAT(expect_error(r, p), Contains("/spikes/times[0]: expected finite times, found nan at event 1"));
    r = good_raw();
    r.times_s[1][0] = std::numeric_limits<double>::infinity();
    CHECK_THAT(expect_error(r, p), Contains("/spikes/times[1]: expected finite times, found inf"));
    r = good_raw();
    r.times_s[0][3] = 0.1;
    CHECK_THAT(expect_error(r, p), Contains("/spikes/times[0]: expected times ascending within a sample"));
    r = good_raw();
    r.units[0].pop_back();
    CHECK_THAT(expect_error(r, p), Contains(p + ": /spikes/times[0]: 4 times but /spikes/units[0] has 3 channels"));
    r = good_raw();
    r.labels.push_back(1);
    CHECK_THAT(expect_error(r, p), Contains(p + ": /labels: expected 2 entries (one per sample of /spikes/times), found 3"));
    r = good_raw();
    r.units.pop_back();
    CHECK_THAT(expect_error(r, p), Contains(p + ": /spikes/units: expected 2 samples (as in /spikes/times), found 1"));
    r = good_raw();
    r.labels[1] = 70000;
    CHECK_THAT(expect_error(r, p), Contains(p + ": /labels[1]: expected labels in 0..65535, found 70000"));
    r = good_raw();
    r.labels[0] = -2;
    CHECK_THAT(expect_error(r, p), Contains("/labels[0]: expected labels in 0..65535, found -2"));

    CHECK_THROWS_WITH(read_spike_dataset(tmp.file("missing.h5")), Contains("missing.h5: cannot open: the file does not exist"));
    std::ofstream(tmp.file("text.h5")) << "hello";
    CHECK_THROWS_WITH(read_spike_dataset(tmp.file("text.h5")), Contains("text.h5: expected an HDF5 file"));
}

TEST_CASE("spike writer checks order after float16 rounding and never damages the target", "[io]") {
    TempDir tmp("spk_writer");
    const std::string p = tmp.file("w.h5");
    SpikeDataset ds;
    ds.num_classes = 20;
    ds.samples.resize(1);
    // 500.1 ms and 500.0 ms are out of order in float64 but equal (0.5 s) in float16: accepted.
    ds.samples[0].times_ms = {100.0, 500.1, 500.0};
    ds.samples[0].units = {1, 2, 3};
    ds.samples[0].label = 4;
    write_spike_dataset(p, ds);
    CHECK(read_spike_dataset(p).samples[0].times_ms == std::vector<double>{round_to_float16(0.1) * 1000.0,
                                                                          500.0, 500.0});
    const auto before = fs::file_size(p);
    SpikeDataset bad = ds;
    bad.samples[0].times_ms = {100.0, 600.0, 500.0};
    CHECK_THROWS_WITH(write_spike_dataset(p, bad), Contains(p + ": sample 0: expected times ascending after float16"));
    bad = ds;
    bad.samples[0].units[1] = 700;
    CHECK_THROWS_WITH(write_spike_dataset(p, bad), Contains("expected channels 0..699, found 700 at event 1"));
    bad = ds;
    bad.samples[0].label = 20;
    CHECK_THROWS_WITH(write_spike_dataset(p, bad), Contains("expected a label in 0..19, found 20"));
    bad = ds;
    bad.samples[0].times_ms[0] = -1.0;
    CHECK_THROWS_WITH(write_spike_dataset(p, bad), Contains("expected finite times >= 0"));
    CHECK(fs::file_size(p) == before);
    CHECK_FALSE(fs::exists(p + ".tmp"));
    CHECK(read_spike_dataset(p).samples[0].label == 4);
}

TEST_CASE("clock-mode binning: counts, bin boundaries, window end, layout", "[io]") {
    CHECK(num_steps(1000.0, 2.0) == 500);
    CHECK(num_steps(1.0, 0.1) == 10);
    CHECK(num_steps(1000.0, 3.0) == 334);
    CHECK(num_steps(999.0, 2.0) == 500);
    CHECK_THROWS_AS(num_steps(1000.0, 0.0), elm::InputError);
    CHECK_THROWS_AS(num_steps(-1.0, 2.0), elm::InputError);

    SpikeSample s;
    s.times_ms = {0.0, 1.999, 2.0, 3.9, 4.0, 998.0, 999.999, 1000.0, 1000.5};
    s.units = {5, 5, 6, 6, 7, 1, 2, 3, 4};
    const std::int64_t T = 500, B = 2, C = 8, b = 1;
    std::vector<float> x(T * B * C, 0.0f);
    bin_sample(s, 2.0, 1000.0, 0, x.data(), T, B, b, C);
    const auto at = [&](std::int64_t t, std::int64_t c) { return x[(t * B + b) * C + c]; };
    CHECK(at(0, 5) == 2.0f);    // 0 and 1.999
    CHECK(at(1, 6) == 2.0f);    // exactly 2.0 = 1 * dt goes to bin 1, and 3.9
    CHECK(at(2, 7) == 1.0f);    // exactly 2 * dt goes to bin 2
    CHECK(at(499, 1) == 1.0f);  // 998
    CHECK(at(499, 2) == 1.0f);  // 999.999
    double total = 0.0;
    for (float v : x) total += v;
    CHECK(total == 7.0);  // events at 1000 (= duration) and after are dropped
    for (std::int64_t t = 0; t < T; ++t)  // batch column 0 untouched
        for (std::int64_t c = 0; c < C; ++c) REQUIRE(x[(t * B + 0) * C + c] == 0.0f);

    // A step offset shifts the bins; a window that does not fit the tensor is refused.
    std::vector<float> y(2 * T * 1 * C, 0.0f);
    bin_sample(s, 2.0, 1000.0, T, y.data(), 2 * T, 1, 0, C);
    CHECK(y[(T + 1) * C + 6] == 2.0f);
    CHECK_THROWS_AS(bin_sample(s, 2.0, 1000.0, T + 1, y.data(), 2 * T, 1, 0, C), std::invalid_argument);
    CHECK_THROWS_WITH(bin_sample(s, 2.0, 1000.0, 0, x.data(), T, B, b, 4), Contains("expected channels 0..3, found 5"));
}

TEST_CASE("SHD-Adding labels, fixed pairs and two back-to-back windows", "[io]") {
    SpikeDataset ds;
    ds.samples.resize(3);
    ds.samples[0].label = 13;  // German "drei" -> 3
    ds.samples[1].label = 9;
    ds.samples[2].label = 19;
    ds.samples[0].times_ms = {0.0, 999.0, 1000.0};
    ds.samples[0].units = {0, 1, 2};
    ds.samples[1].times_ms = {10.0, 1500.0};
    ds.samples[1].units = {3, 3};
    CHECK(adding_label(ds, 0, 1) == 12);
    CHECK(adding_label(ds, 2, 2) == 18);
    CHECK(adding_label(ds, 1, 0) == 12);

    const auto p1 = fixed_adding_pairs(ds, 200, 42);
    const auto p2 = fixed_adding_pairs(ds, 200, 42);
    const auto p3 = fixed_adding_pairs(ds, 200, 43);
    REQUIRE(p1.size() == 200);
    bool same = true, differ = false;
    std::map<std::int64_t, int> count_a;
    for (std::size_t i = 0; i < p1.size(); ++i) {
        same = same && p1[i].a == p2[i].a && p1[i].b == p2[i].b;
        differ = differ || p1[i].a != p3[i].a || p1[i].b != p3[i].b;
        CHECK(p1[i].label == adding_label(ds, p1[i].a, p1[i].b));
        ++count_a[p1[i].a];
    }
    CHECK(same);
    CHECK(differ);
    for (const auto& [idx, n] : count_a) CHECK(n > 40);  // all three samples drawn, roughly uniform

    const std::int64_t T1 = num_steps(1000.0, 2.0), T = 2 * T1, C = 4;
    std::vector<float> x(T * C, 0.0f);
    bin_adding_pair(ds, AddingPair{0, 1, 12}, 2.0, 1000.0, x.data(), T, 1, 0, C);
    CHECK(x[0 * C + 0] == 1.0f);
    CHECK(x[499 * C + 1] == 1.0f);
    CHECK(x[(T1 + 5) * C + 3] == 1.0f);  // second sample at 10 ms lands at T1 + 5
    double total = 0.0;
    for (float v : x) total += v;
    CHECK(total == 3.0);  // 1000 ms of the first and 1500 ms of the second are cut
    SpikeDataset empty;
    elm::Rng rng(1);
    CHECK_THROWS_AS(draw_adding_pair(empty, rng), elm::InputError);
}
