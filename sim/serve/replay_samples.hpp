// The samples a client replays to a server (`elmsim client`, `elmsim bench-serve`): those `simulate`
// runs on the same file and range, built from what the server's hello says of its task — an SHD
// sample cut to the task's window, or for SHD-Adding the model's evaluation pairs (their count and
// seed from the hello), the second sample shifted by a window.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "elmsim/io/spike_dataset.hpp"
#include "elmsim/sim/serve/client.hpp"

namespace elm::serve {

// Samples [first, end) (default: all; InputError "--samples: ..." outside the dataset or pair set).
// InputError when the dataset's channels are not the model's.
std::vector<ReplaySample> replay_samples(const io::SpikeDataset& ds, const std::string& path, const ServerModel& m,
                                         std::optional<std::int64_t> first, std::optional<std::int64_t> end);

}  // namespace elm::serve
