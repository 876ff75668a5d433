// Split: which part of a dataset a run reads — the train / valid / test parts of a byte file
// (io/byte_stream.hpp), or which SHD-format file of a task (io/task_data.hpp).
#pragma once

#include <string>

namespace elm::io {

enum class Split { train, valid, test };

std::string to_string(Split s);
// "train" | "valid" | "test"; InputError otherwise.
Split split_from_string(const std::string& s);

}  // namespace elm::io
