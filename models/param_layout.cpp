#include "elmsim/models/param_layout.hpp"

namespace elm::models {

ParamLayout::ParamLayout(const ModelConfig& cfg) {
    const std::size_t N = cfg.N, kc = cfg.k_c, dm = cfg.d_m, dh = cfg.d_h, nb = cfg.n_b, nout = cfg.n_out;
    const bool elm = cfg.output_mode != OutputMode::lif;
    const std::size_t hidden_extra = cfg.l > 1 ? static_cast<std::size_t>(cfg.l - 1) : 0;
    auto set = [&](TensorId id, const char* name, std::vector<std::size_t> shape, bool present, bool trainable) {
        TensorSpec& s = specs_[static_cast<std::size_t>(id)];
        s.id = id;
        s.name = name;
        s.present = present;
        s.trainable = present && trainable;
        s.size = 1;
        for (auto d : shape) s.size *= d;
        if (!present) s.size = 0;
        s.shape = std::move(shape);
        s.offset = total_;
        total_ += s.size;
    };
    set(TensorId::w_syn, "w_syn", {N, kc}, true, true);
    set(TensorId::tau_m_raw, "tau_m_raw", {N, dm}, elm, cfg.learn_tau_m);
    set(TensorId::W1, "W1", {N, dh, nb + dm}, elm, true);
    set(TensorId::b1, "b1", {N, dh}, elm, true);
    set(TensorId::Wh, "Wh", {N, hidden_extra, dh, dh}, elm && hidden_extra > 0, true);
    set(TensorId::bh, "bh", {N, hidden_extra, dh}, elm && hidden_extra > 0, true);
    set(TensorId::W2, "W2", {N, dm, dh}, elm, true);
    set(TensorId::b2, "b2", {N, dm}, elm, true);
    set(TensorId::wy, "wy", {N, dm}, elm, true);
    set(TensorId::c, "c", {N}, elm, true);
    set(TensorId::W_o, "W_o", {nout, N}, true, true);
    set(TensorId::b_o, "b_o", {nout}, true, true);
    set(TensorId::embedding, "embedding", {256, static_cast<std::size_t>(cfg.C_e)}, cfg.C_e > 0, true);
}

std::vector<const TensorSpec*> ParamLayout::tensors() const {
    std::vector<const TensorSpec*> out;
    for (const auto& s : specs_)
        if (s.present) out.push_back(&s);
    return out;
}

std::size_t ParamLayout::trainable_size() const {
    std::size_t n = 0;
    for (const auto& s : specs_)
        if (s.trainable) n += s.size;
    return n;
}

}  // namespace elm::models
