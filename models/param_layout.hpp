// ParamLayout: every tensor of an ELM Network as (name, shape, offset) into one flat buffer.
// Parameters, gradients and optimizer moments share this layout, so saving, loading, comparing
// backends and all-reducing are each one loop over `tensors()`. Names and shapes are exactly the
// datasets under /model in a checkpoint (spec files-and-cli.md).
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "elmsim/models/model_config.hpp"

namespace elm::models {

enum class TensorId { w_syn, tau_m_raw, W1, b1, Wh, bh, W2, b2, wy, c, W_o, b_o, embedding, count };
constexpr std::size_t kTensorCount = static_cast<std::size_t>(TensorId::count);

struct TensorSpec {
    TensorId id;
    std::string name;                 // dataset name under /model
    std::vector<std::size_t> shape;   // row-major
    std::size_t offset = 0;           // into the flat buffer
    std::size_t size = 0;             // product of shape
    bool present = false;             // absent tensors (Wh when l = 1, ...) have size 0
    bool trainable = false;           // counted in P (tau_m_raw only when learn_tau_m)
};

class ParamLayout {
public:
    explicit ParamLayout(const ModelConfig& cfg);

    const TensorSpec& operator[](TensorId id) const { return specs_[static_cast<std::size_t>(id)]; }
    // Present tensors in checkpoint order.
    std::vector<const TensorSpec*> tensors() const;
    std::size_t total_size() const { return total_; }
    // Number of trainable scalars: the P of spec section 4, counted from the real structures.
    std::size_t trainable_size() const;

private:
    std::array<TensorSpec, kTensorCount> specs_;
    std::size_t total_ = 0;
};

}  // namespace elm::models
