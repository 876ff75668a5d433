#include "elmsim/sim/cpu/cpu_backend.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include <fmt/format.h>

#include "elmsim/sim/cpu/cpu_stepper.hpp"
#include "elmsim/sim/cpu/executor.hpp"
#include "elmsim/sim/cpu/learner.hpp"
#include "elmsim/sim/cpu/optimizer.hpp"
#include "elmsim/sim/cpu/small_gemm.hpp"

namespace elm::sim::cpu {

namespace {

class CpuCarry final : public Carry {
public:
    NetworkState<float> state;  // B = 0: empty
    int batch() const override { return state.B; }
    void clear() override { state.B = 0; }
    NetworkState<float> read() const override { return state; }
    void write(const NetworkState<float>& s) override { state = s; }
};

class CpuBackend final : public Backend {
public:
    CpuBackend(const models::Network<float>& net, const BackendOptions& options)
        : net_(net), ex_(options.threads), learner_(net_, ex_), optimizer_(net_.layout), grads_(net_.params.size(), 0.0f) {}

    std::string name() const override { return "cpu"; }
    std::string describe() const override { return fmt::format("threads {}  kernels {}", ex_.threads(), gemm_kernels()); }
    const models::ModelConfig& config() const override { return net_.cfg; }
    const models::ParamLayout& layout() const override { return net_.layout; }
    bool supports(const models::ModelConfig& cfg, std::string* why) const override { return cpu::supports(cfg, why); }

    std::unique_ptr<Carry> make_carry() const override { return std::make_unique<CpuCarry>(); }

    LossStats step(const models::Batch& batch, const RunOptions& opt, Carry* carry, bool want_grads,
                   Rng* dropout_rng) override {
        NetworkState<float>* state = nullptr;
        if (carry) {
            auto* c = dynamic_cast<CpuCarry*>(carry);
            if (!c) throw std::invalid_argument("cpu backend: the carry was made by another backend");
            state = &c->state;
        }
        taped_ = false;
        const LossStats st = learner_.run(batch, opt, state, want_grads ? grads_.data() : nullptr, dropout_rng);
        taped_ = want_grads || opt.keep_tape;
        return st;
    }
    void zero_gradients() override { std::fill(grads_.begin(), grads_.end(), 0.0f); }
    std::span<float> gradients() override { return grads_; }
    double update(const models::TrainConfig& cfg, double lr) override {
        const double norm = optimizer_.step(cfg, net_.params.data(), grads_.data(), lr);
        ++version_;
        return norm;
    }
    OptimizerState optimizer_state() const override { return optimizer_.state(); }
    void set_optimizer_state(const OptimizerState& s) override { optimizer_.set_state(s); }

    void read_params(std::span<float> out) const override {
        check_size(out.size(), "read_params");
        std::copy(net_.params.begin(), net_.params.end(), out.begin());
    }
    void write_params(std::span<const float> in) override {
        check_size(in.size(), "write_params");
        std::copy(in.begin(), in.end(), net_.params.begin());
        ++version_;
    }

    std::uint64_t params_version() const override { return version_; }

    std::span<const float> logits() const override { return learner_.logits(); }
    int logit_steps() const override { return learner_.logit_steps(); }
    std::vector<float> model_input() const override { return learner_.model_input(); }
    StateTrace state_trace() const override {
        if (!taped_) throw std::logic_error("state_trace: the last step kept no tape (ask for keep_tape)");
        const Tape<float>& t = learner_.tape();
        StateTrace s;
        s.T = t.T;
        s.B = t.B;
        s.b_stride = t.b_stride;
        s.m_stride = t.m_stride;
        s.y_stride = t.y_stride;
        const auto slots = [&](const TapeArray<float>& v, std::size_t stride) {
            return std::vector<float>(v.begin(), v.begin() + static_cast<std::ptrdiff_t>((t.T + 1) * stride));
        };
        s.b = slots(t.b, t.b_stride);
        s.m = slots(t.m, t.m_stride);
        s.v = slots(t.v, t.y_stride);
        s.y = slots(t.y, t.y_stride);
        return s;
    }
    std::size_t activation_bytes() const override { return learner_.activation_bytes(); }

    std::unique_ptr<Stepper> make_stepper(int B) override { return std::make_unique<CpuStepper>(net_, ex_, B, &version_); }

private:
    void check_size(std::size_t n, const char* what) const {
        if (n != net_.params.size())
            throw std::invalid_argument(fmt::format("cpu backend {}: {} values for a layout of {}", what, n,
                                                    net_.params.size()));
    }

    models::Network<float> net_;
    Executor ex_;
    Learner<float> learner_;
    Optimizer optimizer_;
    std::vector<float> grads_;
    std::uint64_t version_ = 0;  // bumped by every parameter change; steppers re-derive on a change
    bool taped_ = false;
};

}  // namespace

bool supports(const models::ModelConfig&, std::string*) { return true; }

std::unique_ptr<Backend> make_backend(const models::Network<float>& net, const BackendOptions& options) {
    return std::make_unique<CpuBackend>(net, options);
}

}  // namespace elm::sim::cpu
