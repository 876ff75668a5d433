// Spike datasets in the SHD/SSC HDF5 layout (spec files-and-cli.md "Spike datasets"): reading the
// real files exactly as distributed, and writing that same layout with the same HDF5 types (VL
// arrays of IEEE half floats for the times), so every loader test is a test on the real format.
//
// Times are seconds in the file and milliseconds in memory; the conversion is done in float64
// (float16 -> float64 through HDF5's conversion, then * 1000), never in float16.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace elm::io {

struct SpikeSample {
    std::vector<double> times_ms;      // ascending (non-decreasing), >= 0
    std::vector<std::uint16_t> units;  // channel of each event, < num_channels
    int label = 0;
    int speaker = 0;                   // /extra/speaker (0 when the file has none)
};

// Per-speaker metadata, /extra/meta_info/{gender,age,body_height} (index = speaker id).
struct SpeakerInfo {
    std::string gender;        // "female" | "male" | "" (unknown)
    int age = 0;               // years, 0 = unknown
    double body_height = 0.0;  // metres, 0 = unknown
};

struct SpikeDataset {
    std::string path;
    int num_channels = 700;
    int num_classes = 20;
    std::vector<SpikeSample> samples;
    std::vector<std::string> keys;        // class names (/extra/keys); empty = none in the file
    std::vector<SpeakerInfo> speakers;    // written to /extra/meta_info; not read back
};

// Read /spikes/times, /spikes/units and /labels (plus /extra/speaker and /extra/keys when present).
// max_samples > 0 reads only the first max_samples samples. Every malformed input is an InputError
// naming the file and the dataset (and sample index): missing file or dataset, not HDF5, wrong
// type class, mismatched lengths, unit >= num_channels, negative / NaN / infinite or descending
// times, labels outside 0..65535. num_classes = max(max label + 1, number of keys, 1).
SpikeDataset read_spike_dataset(const std::string& path, std::int64_t max_samples = 0, int num_channels = 700);

// Write `ds` atomically to `path` in the SHD layout: /spikes/times (VL float16, seconds),
// /spikes/units (VL uint16), /labels (uint16), /extra/speaker (uint16), /extra/keys
// (num_classes fixed-length byte strings; SHD-style names when ds.keys is empty) and
// /extra/meta_info/{gender (byte strings), age (uint16), body_height (float32)} with one entry per
// speaker id (ds.speakers, or unknown values when it is empty). Times are rounded to float16
// (nearest, ties to even) before the ascending-order check. Invalid content is an InputError
// naming `path` and the sample; nothing is written then.
void write_spike_dataset(const std::string& path, const SpikeDataset& ds);

// Samples built in memory (not read from a file): InputError naming ds.path (the caller's name for
// them) and the sample for times that are not finite, negative or descending, a channel >=
// num_channels, a label < 0, or as many times as channels not given. num_channels must be >= 1.
void check_spike_samples(const SpikeDataset& ds);

// IEEE binary16 helpers (round to nearest, ties to even; overflow -> infinity).
std::uint16_t float16_bits(double x);
double float16_value(std::uint16_t bits);
inline double round_to_float16(double x) { return float16_value(float16_bits(x)); }

// What a data file is, to tell spike data from byte streams before reading it: an HDF5 file with
// /spikes, another HDF5 file, or anything else (a byte file). "-" (standard input) is `other`.
// InputError for a missing path or a directory.
enum class DataFileKind { spikes, other_hdf5, other };
DataFileKind data_file_kind(const std::string& path);

// SHD's class names: English "zero".."nine", then German "null".."neun".
std::vector<std::string> shd_class_names();

}  // namespace elm::io
