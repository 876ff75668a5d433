// DeviceNetwork: one ELM Network resident on the GPU — its parameters (one flat buffer in ParamLayout
// order), its connectivity tables (sources, each drive's summation order, the fan-out table the
// backward gathers through) and the mask of trainable parameters — with the sizes the kernels read
// (gpu/device_model.hpp). The host copy keeps the structure (config, layout, sources); its
// parameters are those the network was made with.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "elmsim/gpu/device_buffer.hpp"
#include "elmsim/gpu/device_model.hpp"
#include "elmsim/models/network.hpp"

namespace elm::gpu {

class DeviceNetwork {
public:
    DeviceNetwork(const models::Network<float>& net, cudaStream_t s);

    const models::ModelConfig& config() const { return host_.cfg; }
    const models::ParamLayout& layout() const { return host_.layout; }
    const NetDims& dims() const { return dims_; }
    const ParamOffsets& offsets() const { return offsets_; }
    DeviceConnectivity connectivity() const;

    float* params() { return params_.data(); }
    const float* params() const { return params_.data(); }
    std::size_t size() const { return params_.size(); }
    const std::uint8_t* trainable() const { return trainable_.data(); }

private:
    models::Network<float> host_;
    NetDims dims_;
    ParamOffsets offsets_;
    DeviceBuffer<float> params_;
    DeviceBuffer<std::uint8_t> trainable_;
    DeviceBuffer<std::int32_t> src_, drive_order_, fan_start_, fan_synapse_, fan_drive_row_;
};

}  // namespace elm::gpu
