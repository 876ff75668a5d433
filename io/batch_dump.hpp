// Batch dumps (`elmsim train --dump-batch B.h5`): one training batch as the network saw it, so that
// one optimizer step can be repeated by another implementation (spec files-and-cli.md: "exactly one
// deterministic step from a given checkpoint on a given batch"). Layout:
//   /x        float32 [T, B, C]  the model input after embedding and dropout
//   /targets  int32   [B] or [T * B]
//   /tokens   uint8   [T, B]     (byte models only)
// Written atomically.
#pragma once

#include <string>
#include <vector>

#include "elmsim/models/batch.hpp"

namespace elm::io {

void write_batch_dump(const std::string& path, const models::Batch& batch, const std::vector<float>& model_input, int C);

}  // namespace elm::io
