// Spike datasets in the SHD/SSC layout (spec files-and-cli.md "Spike datasets"; see
// spike_dataset.hpp). The variable-length datasets are read in blocks of samples through a
// hyperslab, so the extra memory beyond the result is one block, not the whole file.
#include "elmsim/io/spike_dataset.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "elmsim/io/hdf5_file.hpp"
#include "elmsim/io/input_file.hpp"
#include "elmsim/io/isolated_read.hpp"
#include "elmsim/io/chunk_guard.hpp"
#include "elmsim/io/vlen_guard.hpp"
#include "elmsim/models/error.hpp"

namespace elm::io {
namespace {

constexpr hsize_t kReadBlock = 1024;  // samples per VL read
constexpr std::int64_t kMaxUint16 = 65535;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
    throw InputError(where + ": " + what);
}

std::string num(double v) {
    std::ostringstream s;
    s.precision(9);
    s << v;
    return s.str();
}

// IEEE binary16 as an HDF5 type, built the way h5py builds numpy's float16: a copy of the 32-bit
// IEEE type with the bit fields of 1 sign / 5 exponent / 10 mantissa bits, 2 bytes, bias 15.
H5Handle float16_type() {
    H5Handle t(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
    if (!t.valid() || H5Tset_fields(t.id(), 15, 10, 5, 0, 10) < 0 || H5Tset_size(t.id(), 2) < 0 ||
        H5Tset_ebias(t.id(), 15) < 0)
        throw std::runtime_error("HDF5: cannot build the float16 type");
    return t;
}

H5Handle vlen_of(hid_t base) {
    H5Handle t(H5Tvlen_create(base), H5Tclose);
    if (!t.valid()) throw std::runtime_error("HDF5: cannot build a variable-length type");
    return t;
}

// One block of VL sequences read from a 1-D dataset; the HDF5-allocated memory is reclaimed when
// the block goes out of scope (also when a check on it throws).
class VlBlock {
public:
    VlBlock(hid_t dataset, hid_t mem_type, hsize_t start, hsize_t count, const std::string& where)
        : mem_type_(mem_type), data_(count, hvl_t{0, nullptr}) {
        H5Handle file_space(H5Dget_space(dataset), H5Sclose);
        mem_space_ = H5Handle(H5Screate_simple(1, &count, nullptr), H5Sclose);
        if (H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, &start, nullptr, &count, nullptr) < 0)
            fail(where, "cannot select samples " + std::to_string(start) + ".." + std::to_string(start + count));
        H5Handle dxpl = checked_transfer_plist();
        reset_conversion_issue();
        if (H5Dread(dataset, mem_type, mem_space_.id(), file_space.id(), dxpl.id(), data_.data()) < 0) {
            reclaim();  // a failed read may have allocated some sequences; no destructor will run
            fail(where, conversion_issue_text("the expected type") + " in samples " + std::to_string(start) + ".." +
                            std::to_string(start + count - 1));
        }
    }
    ~VlBlock() { reclaim(); }
    VlBlock(const VlBlock&) = delete;
    VlBlock& operator=(const VlBlock&) = delete;

    const hvl_t& operator[](std::size_t i) const { return data_[i]; }

private:
    void reclaim() {
#if H5_VERSION_GE(1, 12, 0)
        H5Treclaim(mem_type_, mem_space_.id(), H5P_DEFAULT, data_.data());
#else
        H5Dvlen_reclaim(mem_type_, mem_space_.id(), H5P_DEFAULT, data_.data());
#endif
        for (auto& v : data_) v = hvl_t{0, nullptr};
    }

    hid_t mem_type_;
    H5Handle mem_space_;
    std::vector<hvl_t> data_;
};

// Opens a 1-D dataset of VL sequences whose base type has class `base_class`; returns its length.
hsize_t check_vl_dataset(hid_t file, const std::string& name, H5T_class_t base_class, const char* expected,
                         H5Handle* ds_out) {
    const std::string where = h5_location(file, name);
    *ds_out = open_dataset(file, name);
    H5Handle type(H5Dget_type(ds_out->id()), H5Tclose);
    bool ok = H5Tget_class(type.id()) == H5T_VLEN;
    if (ok) {
        H5Handle base(H5Tget_super(type.id()), H5Tclose);
        ok = base.valid() && H5Tget_class(base.id()) == base_class;
    }
    if (!ok) fail(where, std::string("expected ") + expected + ", found " + describe_h5_type(type.id()));
    const auto shape = dataset_shape(file, name);
    if (shape.size() != 1) fail(where, "expected a 1-D dataset (one entry per sample), found shape " + shape_string(shape));
    return shape[0];
}

std::vector<std::int64_t> read_per_sample_integers(hid_t file, const std::string& name, hsize_t expected_len,
                                                   const char* what) {
    const std::string where = h5_location(file, name);
    std::vector<hsize_t> shape;
    auto values = read_dataset<std::int64_t>(file, name, &shape);
    if (shape.size() != 1) fail(where, std::string("expected a 1-D array of ") + what + ", found shape " + shape_string(shape));
    if (shape[0] != expected_len)
        fail(where, "expected " + std::to_string(expected_len) + " entries (one per sample of /spikes/times), found " +
                        std::to_string(shape[0]));
    for (std::size_t i = 0; i < values.size(); ++i)
        if (values[i] < 0 || values[i] > kMaxUint16)
            fail(where + "[" + std::to_string(i) + "]",
                 std::string("expected ") + what + " in 0..65535, found " + std::to_string(values[i]));
    return values;
}

}  // namespace

// ---- float16 ---------------------------------------------------------------------------------

std::uint16_t float16_bits(double x) {
    if (std::isnan(x)) return 0x7E00;
    const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    const double a = std::fabs(x);
    // Round-to-nearest-even of v >= 0 without depending on the FP rounding mode. The scalings
    // below are by powers of two, so v is exact and this is the only rounding.
    const auto round_even = [](double v) {
        double r = std::floor(v);
        const double frac = v - r;
        if (frac > 0.5 || (frac == 0.5 && std::fmod(r, 2.0) != 0.0)) r += 1.0;
        return r;
    };
    // 65520 = largest half (65504) + half an ulp: it and everything above round to infinity.
    if (a >= 65520.0) return sign | 0x7C00;
    if (a < 0x1p-14) {
        // Subnormal range, units of 2^-24; a result of 1024 is the smallest normal, whose bit
        // pattern is the same number.
        return sign | static_cast<std::uint16_t>(round_even(a * 0x1p24));
    }
    int e = 0;
    const double m = std::frexp(a, &e);  // a = m 2^e, m in [0.5, 1)
    double q = round_even(m * 2048.0);   // 11-bit significand in [1024, 2048]
    int exponent = e - 1;
    if (q == 2048.0) {
        q = 1024.0;
        ++exponent;
    }
    return sign | static_cast<std::uint16_t>((exponent + 15) << 10) | static_cast<std::uint16_t>(q - 1024.0);
}

double float16_value(std::uint16_t bits) {
    const double sign = (bits & 0x8000) ? -1.0 : 1.0;
    const int exponent = (bits >> 10) & 0x1F;
    const int mantissa = bits & 0x3FF;
    if (exponent == 0) return sign * std::ldexp(mantissa, -24);
    if (exponent == 31) return mantissa ? std::numeric_limits<double>::quiet_NaN() : sign * HUGE_VAL;
    return sign * std::ldexp(mantissa + 1024, exponent - 25);
}

DataFileKind data_file_kind(const std::string& path) {
    if (path == "-") return DataFileKind::other;
    require_regular_input(path, "data file");  // H5Fis_hdf5 opens it: a FIFO would block
    silence_hdf5_errors();
    if (H5Fis_hdf5(path.c_str()) <= 0) return DataFileKind::other;
    const auto f = H5File::open_read(path);
    return has_path(f.id(), "/spikes") ? DataFileKind::spikes : DataFileKind::other_hdf5;
}

void check_spike_samples(const SpikeDataset& ds) {
    if (ds.num_channels < 1) fail(ds.path, "expected num_channels >= 1, found " + std::to_string(ds.num_channels));
    for (std::size_t i = 0; i < ds.samples.size(); ++i) {
        const SpikeSample& s = ds.samples[i];
        const std::string where = ds.path + ": sample " + std::to_string(i);
        if (s.times_ms.size() != s.units.size())
            fail(where, "expected as many channels as times, found " + std::to_string(s.units.size()) + " and " +
                            std::to_string(s.times_ms.size()));
        if (s.label < 0) fail(where, "expected a label >= 0, found " + std::to_string(s.label));
        for (std::size_t j = 0; j < s.times_ms.size(); ++j) {
            const double t = s.times_ms[j];
            if (!std::isfinite(t) || t < 0.0)
                fail(where, "expected finite times >= 0 ms, found " + num(t) + " at event " + std::to_string(j));
            if (j > 0 && t < s.times_ms[j - 1])
                fail(where, "expected ascending times, found " + num(t) + " ms after " + num(s.times_ms[j - 1]) +
                                " ms at event " + std::to_string(j));
            if (s.units[j] >= ds.num_channels)
                fail(where, "expected channels 0.." + std::to_string(ds.num_channels - 1) + ", found " +
                                std::to_string(s.units[j]) + " at event " + std::to_string(j));
        }
    }
}

std::vector<std::string> shd_class_names() {
    return {"zero", "one",  "two",  "three", "four", "five",  "six",    "seven",  "eight", "nine",
            "null", "eins", "zwei", "drei",  "vier", "fuenf", "sechs", "sieben", "acht",  "neun"};
}

// ---- reader ----------------------------------------------------------------------------------

SpikeDataset read_spike_dataset(const std::string& path, std::int64_t max_samples, int num_channels) {
    if (num_channels <= 0 || num_channels > kMaxUint16 + 1)
        throw InputError(path + ": expected a channel count in 1..65536, got " + std::to_string(num_channels));
    if (max_samples < 0)
        throw InputError(path + ": expected a sample limit >= 0 (0 = all), got " + std::to_string(max_samples));
    // A file without checksums (h5py's, real SHD files) is read apart first (io/isolated_read.hpp).
    check_in_isolated_process(IsolatedKind::spike_dataset, path, {std::to_string(max_samples), std::to_string(num_channels)});
    H5File file = H5File::open_read(path);
    const hid_t f = file.id();
    H5Handle times_ds, units_ds;
    const hsize_t n_times = check_vl_dataset(f, "/spikes/times", H5T_FLOAT,
                                             "variable-length arrays of floats (spike times in seconds)", &times_ds);
    const hsize_t n_units =
        check_vl_dataset(f, "/spikes/units", H5T_INTEGER, "variable-length arrays of integers (channels)", &units_ds);
    if (n_units != n_times)
        fail(path + ": /spikes/units", "expected " + std::to_string(n_times) +
                                           " samples (as in /spikes/times), found " + std::to_string(n_units));
    const auto labels = read_per_sample_integers(f, "/labels", n_times, "labels");
    std::vector<std::int64_t> speakers;
    if (has_path(f, "/extra/speaker")) speakers = read_per_sample_integers(f, "/extra/speaker", n_times, "speaker ids");

    SpikeDataset ds;
    ds.path = path;
    ds.num_channels = num_channels;
    if (has_path(f, "/extra/keys")) ds.keys = read_string_array(f, "/extra/keys");
    const hsize_t count = max_samples > 0 ? std::min<hsize_t>(n_times, static_cast<hsize_t>(max_samples)) : n_times;
    ds.samples.resize(count);

    // IEEE half times (the real SHD files) are read as raw 16-bit patterns and decoded exactly by
    // float16_value: HDF5's soft float conversion costs ~0.5 us per spike, ten times the rest of the read.
    H5Handle f16 = float16_type();
    // The spike arrays live in the global heap, which no checksum covers and libhdf5 trusts: their
    // bytes are checked first (io/vlen_guard.hpp), so damage is an error, not a crash.
    check_global_heaps(path);
    check_vlen_dataset(f, times_ds.id(), path, path + ": /spikes/times");
    check_vlen_dataset(f, units_ds.id(), path, path + ": /spikes/units");
    check_chunk_sizes(times_ds.id(), path + ": /spikes/times");
    check_chunk_sizes(units_ds.id(), path + ": /spikes/units");
    H5Handle stored_vl(H5Dget_type(times_ds.id()), H5Tclose);
    H5Handle stored_base(stored_vl.valid() ? H5Tget_super(stored_vl.id()) : -1, H5Tclose);
    const bool raw_half = stored_base.valid() && H5Tequal(stored_base.id(), f16.id()) > 0;
    H5Handle time_mem = raw_half ? vlen_of(f16.id()) : vlen_of(H5T_NATIVE_DOUBLE);
    H5Handle unit_mem = vlen_of(H5T_NATIVE_INT64);
    std::vector<double> half_buffer;
    for (hsize_t start = 0; start < count; start += kReadBlock) {
        const hsize_t n = std::min(kReadBlock, count - start);
        VlBlock times(times_ds.id(), time_mem.id(), start, n, path + ": /spikes/times");
        VlBlock units(units_ds.id(), unit_mem.id(), start, n, path + ": /spikes/units");
        for (hsize_t k = 0; k < n; ++k) {
            const hsize_t i = start + k;
            // Built only on the error paths (a string per sample would cost more than the checks).
            const auto idx = [i] { return fmt::format("[{}]", i); };
            if (times[k].len != units[k].len)
                fail(path + ": /spikes/times" + idx(), std::to_string(times[k].len) + " times but /spikes/units" + idx() +
                                                         " has " + std::to_string(units[k].len) +
                                                         " channels: expected equal lengths");
            std::vector<double>& decoded = half_buffer;
            const double* t = static_cast<const double*>(times[k].p);
            if (raw_half) {
                const auto* bits = static_cast<const std::uint16_t*>(times[k].p);
                decoded.resize(times[k].len);
                for (std::size_t j = 0; j < times[k].len; ++j) decoded[j] = float16_value(bits[j]);
                t = decoded.data();
            }
            const auto* u = static_cast<const std::int64_t*>(units[k].p);
            SpikeSample& s = ds.samples[i];
            s.times_ms.resize(times[k].len);
            s.units.resize(units[k].len);
            for (std::size_t j = 0; j < times[k].len; ++j) {
                const auto at = [j] { return fmt::format(" at event {}", j); };
                if (!std::isfinite(t[j]))
                    fail(path + ": /spikes/times" + idx(), "expected finite times, found " + num(t[j]) + at());
                if (t[j] < 0.0) fail(path + ": /spikes/times" + idx(), "expected times >= 0 s, found " + num(t[j]) + at());
                if (j > 0 && t[j] < t[j - 1])
                    fail(path + ": /spikes/times" + idx(), "expected times ascending within a sample, found " +
                                                             num(t[j]) + " s after " + num(t[j - 1]) + " s" + at());
                if (u[j] < 0 || u[j] >= num_channels)
                    fail(path + ": /spikes/units" + idx(), "expected channels 0.." + std::to_string(num_channels - 1) +
                                                             ", found " + std::to_string(u[j]) + at());
                s.times_ms[j] = t[j] * 1000.0;  // float64: seconds -> ms
                s.units[j] = static_cast<std::uint16_t>(u[j]);
            }
            s.label = static_cast<int>(labels[i]);
            s.speaker = speakers.empty() ? 0 : static_cast<int>(speakers[i]);
        }
    }
    std::int64_t max_label = -1;
    for (const auto l : labels) max_label = std::max(max_label, l);
    ds.num_classes = static_cast<int>(std::max<std::int64_t>({max_label + 1, static_cast<std::int64_t>(ds.keys.size()), 1}));
    return ds;
}

// ---- writer ----------------------------------------------------------------------------------

void write_spike_dataset(const std::string& path, const SpikeDataset& ds) {
    // Validate and encode everything before the output file is touched.
    if (ds.num_classes < 1 || ds.num_classes > kMaxUint16 + 1)
        throw InputError(path + ": expected num_classes in 1..65536, got " + std::to_string(ds.num_classes));
    std::vector<std::string> keys = ds.keys;
    if (keys.empty()) {
        if (ds.num_classes == 20) {
            keys = shd_class_names();
        } else {
            for (int c = 0; c < ds.num_classes; ++c) keys.push_back("class_" + std::to_string(c));
        }
    }
    if (static_cast<int>(keys.size()) != ds.num_classes)
        throw InputError(path + ": /extra/keys: expected " + std::to_string(ds.num_classes) + " class names, got " +
                         std::to_string(keys.size()));
    const std::size_t S = ds.samples.size();
    std::vector<std::vector<std::uint16_t>> time_bits(S);
    std::vector<hvl_t> time_vl(S), unit_vl(S);
    std::vector<std::uint16_t> labels(S), speaker(S);
    std::vector<std::vector<std::uint16_t>> units(S);
    int max_speaker = -1;
    for (std::size_t i = 0; i < S; ++i) {
        const SpikeSample& s = ds.samples[i];
        const std::string where = path + ": sample " + std::to_string(i);
        if (s.times_ms.size() != s.units.size())
            throw InputError(where + ": expected as many channels as times, found " + std::to_string(s.units.size()) +
                             " and " + std::to_string(s.times_ms.size()));
        if (s.label < 0 || s.label >= ds.num_classes)
            throw InputError(where + ": expected a label in 0.." + std::to_string(ds.num_classes - 1) + ", found " +
                             std::to_string(s.label));
        if (s.speaker < 0 || s.speaker > kMaxUint16)
            throw InputError(where + ": expected a speaker id in 0..65535, found " + std::to_string(s.speaker));
        auto& bits = time_bits[i];
        bits.resize(s.times_ms.size());
        double prev = 0.0;
        for (std::size_t j = 0; j < s.times_ms.size(); ++j) {
            const auto at = [j] { return fmt::format(" at event {}", j); };
            if (!std::isfinite(s.times_ms[j]) || s.times_ms[j] < 0.0)
                throw InputError(where + ": expected finite times >= 0, found " + num(s.times_ms[j]) + " ms" + at());
            bits[j] = float16_bits(s.times_ms[j] / 1000.0);
            const double rounded = float16_value(bits[j]);
            if (!std::isfinite(rounded))
                throw InputError(where + ": time " + num(s.times_ms[j]) + " ms does not fit float16 seconds" + at());
            // The order that matters is the one stored, i.e. after rounding.
            if (j > 0 && rounded < prev)
                throw InputError(where + ": expected times ascending after float16 rounding, found " + num(rounded) +
                                 " s after " + num(prev) + " s" + at());
            prev = rounded;
            if (s.units[j] >= ds.num_channels)
                throw InputError(where + ": expected channels 0.." + std::to_string(ds.num_channels - 1) + ", found " +
                                 std::to_string(s.units[j]) + at());
        }
        units[i] = s.units;
        time_vl[i] = hvl_t{bits.size(), bits.empty() ? nullptr : bits.data()};
        unit_vl[i] = hvl_t{units[i].size(), units[i].empty() ? nullptr : units[i].data()};
        labels[i] = static_cast<std::uint16_t>(s.label);
        speaker[i] = static_cast<std::uint16_t>(s.speaker);
        max_speaker = std::max(max_speaker, s.speaker);
    }
    const std::size_t n_speakers = std::max(ds.speakers.size(), static_cast<std::size_t>(max_speaker + 1));
    std::vector<std::string> gender(n_speakers);
    std::vector<std::uint16_t> age(n_speakers, 0);
    std::vector<float> height(n_speakers, 0.0f);
    for (std::size_t k = 0; k < ds.speakers.size(); ++k) {
        if (ds.speakers[k].age < 0 || ds.speakers[k].age > kMaxUint16)
            throw InputError(path + ": speaker " + std::to_string(k) + ": expected an age in 0..65535, found " +
                             std::to_string(ds.speakers[k].age));
        gender[k] = ds.speakers[k].gender;
        age[k] = static_cast<std::uint16_t>(ds.speakers[k].age);
        height[k] = static_cast<float>(ds.speakers[k].body_height);
    }

    AtomicOutput out(path);
    {
        H5File file = H5File::create(out.tmp_path());
        const hid_t f = file.id();
        {  // the spike arrays, closed before the file (H5File::close)
            H5Handle f16 = float16_type();
            H5Handle vl_f16 = vlen_of(f16.id());
            H5Handle vl_u16_file = vlen_of(H5T_STD_U16LE);
            H5Handle vl_u16_mem = vlen_of(H5T_NATIVE_UINT16);
            H5Handle times = create_dataset(f, "spikes/times", vl_f16.id(), {S});
            H5Handle unit_ds = create_dataset(f, "spikes/units", vl_u16_file.id(), {S});
            // The time memory type equals the file type: the bits are already float16, no conversion.
            if (S > 0 && (H5Dwrite(times.id(), vl_f16.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, time_vl.data()) < 0 ||
                          H5Dwrite(unit_ds.id(), vl_u16_mem.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, unit_vl.data()) < 0))
                throw InputError(out.tmp_path() + ": /spikes: cannot write the spike arrays (disk full?)");
        }
        write_dataset(f, "labels", labels.data(), {S});
        write_dataset(f, "extra/speaker", speaker.data(), {S});
        write_fixed_string_array(f, "extra/keys", keys);
        write_fixed_string_array(f, "extra/meta_info/gender", gender);
        write_dataset(f, "extra/meta_info/age", age.data(), {n_speakers});
        write_dataset(f, "extra/meta_info/body_height", height.data(), {n_speakers});
        file.close();
    }
    out.commit();
}

}  // namespace elm::io
