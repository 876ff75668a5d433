#include "elmsim/gpu/cuda_backend.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "elmsim/gpu/cuda_learner.hpp"
#include "elmsim/gpu/cuda_stepper.hpp"
#include "elmsim/gpu/kernels.hpp"
#include "elmsim/models/error.hpp"

namespace elm::gpu {

void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line) {
    throw CudaError(fmt::format("CUDA error {} ({}) in {} at {}:{}", cudaGetErrorName(err), cudaGetErrorString(err), call,
                                file, line));
}

namespace {

using models::OptimizerKind;

class CudaCarry final : public sim::Carry {
public:
    explicit CudaCarry(cudaStream_t s) : s_(s) {}
    int batch() const override { return state.B; }
    void clear() override { state.B = 0; }
    sim::NetworkState<float> read() const override { return state.to_host(s_); }
    void write(const sim::NetworkState<float>& s) override { state.from_host(s, s_); }
    DeviceState state;

private:
    cudaStream_t s_;
};

// The device the backend runs on for as long as it lives, and its stream.
class DeviceContext {
public:
    explicit DeviceContext(int device) : device_(device) {
        ELM_CUDA_CHECK(cudaSetDevice(device));
        ELM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    }
    DeviceContext(const DeviceContext&) = delete;
    DeviceContext& operator=(const DeviceContext&) = delete;
    ~DeviceContext() { cudaStreamDestroy(stream_); }
    cudaStream_t stream() const { return stream_; }
    int device() const { return device_; }

private:
    int device_;
    cudaStream_t stream_ = nullptr;
};

class CudaBackend final : public sim::Backend {
public:
    CudaBackend(const models::Network<float>& net, const sim::BackendOptions& options)
        : ctx_(options.device), net_(net, ctx_.stream()), learner_(net_, ctx_.stream()) {
        grads_.resize(net_.size());
        grads_.zero(ctx_.stream());
        norm_partial_.resize(kNormBlocks);
        norm_.resize(1);
        cudaDeviceProp prop{};
        ELM_CUDA_CHECK(cudaGetDeviceProperties(&prop, ctx_.device()));
        describe_ = fmt::format("device {} {} sm_{}{} {} SMs", ctx_.device(), prop.name, prop.major, prop.minor,
                                prop.multiProcessorCount);
    }

    std::string name() const override { return "cuda"; }
    std::string describe() const override { return describe_; }
    const models::ModelConfig& config() const override { return net_.config(); }
    const models::ParamLayout& layout() const override { return net_.layout(); }
    bool supports(const models::ModelConfig& cfg, std::string* why) const override { return gpu::supports(cfg, why); }

    std::unique_ptr<sim::Carry> make_carry() const override { return std::make_unique<CudaCarry>(ctx_.stream()); }

    sim::LossStats step(const models::Batch& batch, const sim::RunOptions& opt, sim::Carry* carry, bool want_grads,
                        Rng* dropout_rng) override {
        DeviceState* state = nullptr;
        if (carry) {
            auto* c = dynamic_cast<CudaCarry*>(carry);
            if (!c) throw std::invalid_argument("cuda backend: the carry was made by another backend");
            state = &c->state;
        }
        sync_gradients_to_device();
        host_grads_valid_ = false;
        taped_ = false;
        const sim::LossStats st = learner_.run(batch, opt, state, want_grads ? grads_.data() : nullptr, dropout_rng);
        taped_ = want_grads || opt.keep_tape;
        return st;
    }
    void zero_gradients() override {
        grads_.zero(ctx_.stream());
        host_grads_valid_ = false;
        host_grads_written_ = false;
    }
    std::span<float> gradients() override {
        if (!host_grads_valid_) grads_.to_host(host_grads_, ctx_.stream());
        host_grads_valid_ = true;
        host_grads_written_ = true;  // the caller may write them (an all-reduce): update() uploads them
        return host_grads_;
    }
    double update(const models::TrainConfig& cfg, double lr) override {
        sync_gradients_to_device();
        const cudaStream_t s = ctx_.stream();
        launch_squared_norm(grads_.data(), net_.trainable(), net_.size(), norm_partial_.data(), norm_.data(), s);
        std::vector<double> sq;
        norm_.to_host(sq, s);
        const double norm = std::sqrt(sq[0]);
        if (!std::isfinite(norm)) throw InputError("training diverged: the gradient norm is not finite (lower train.lr?)");
        const std::int64_t t = ++opt_t_;
        if (cfg.optimizer == OptimizerKind::sgd) {
            launch_sgd(net_.params(), grads_.data(), net_.trainable(), net_.size(), static_cast<float>(lr), s);
        } else {
            ensure_moments();
            sim::AdamCoefficients c{};
            c.scale = cfg.clip_norm > 0.0 && norm > cfg.clip_norm ? static_cast<float>(cfg.clip_norm / norm) : 1.0f;
            c.beta1 = static_cast<float>(cfg.beta1);
            c.beta2 = static_cast<float>(cfg.beta2);
            c.eps = static_cast<float>(cfg.eps);
            c.step_size = static_cast<float>(lr / (1.0 - std::pow(cfg.beta1, static_cast<double>(t))));
            c.bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(cfg.beta2, static_cast<double>(t))));
            launch_adam(net_.params(), m1_.data(), m2_.data(), grads_.data(), net_.trainable(), net_.size(), c,
                        cfg.optimizer == OptimizerKind::adamax, s);
        }
        ++version_;
        return norm;
    }
    sim::OptimizerState optimizer_state() const override {
        sim::OptimizerState st;
        st.t = opt_t_;
        if (!m1_.empty()) m1_.to_host(st.m1, ctx_.stream());
        if (!m2_.empty()) m2_.to_host(st.m2, ctx_.stream());
        return st;
    }
    void set_optimizer_state(const sim::OptimizerState& s) override {
        for (const auto* m : {&s.m1, &s.m2})
            if (!m->empty() && m->size() != net_.size())
                throw std::invalid_argument(
                    fmt::format("optimizer state: {} moment values for a layout of {}", m->size(), net_.size()));
        opt_t_ = s.t;
        if (s.m1.empty()) m1_ = DeviceBuffer<float>(); else m1_.upload(s.m1, ctx_.stream());
        if (s.m2.empty()) m2_ = DeviceBuffer<float>(); else m2_.upload(s.m2, ctx_.stream());
        wait_for(ctx_.stream());
    }

    void read_params(std::span<float> out) const override {
        check_size(out.size(), "read_params");
        ELM_CUDA_CHECK(cudaMemcpyAsync(out.data(), net_.params(), out.size() * sizeof(float), cudaMemcpyDeviceToHost,
                                       ctx_.stream()));
        count_memory_op();
        wait_for(ctx_.stream());
    }
    void write_params(std::span<const float> in) override {
        check_size(in.size(), "write_params");
        ELM_CUDA_CHECK(cudaMemcpyAsync(net_.params(), in.data(), in.size() * sizeof(float), cudaMemcpyHostToDevice,
                                       ctx_.stream()));
        count_memory_op();
        wait_for(ctx_.stream());
        ++version_;
    }
    std::uint64_t params_version() const override { return version_; }

    std::span<const float> logits() const override { return learner_.logits(); }
    int logit_steps() const override { return learner_.logit_steps(); }
    std::vector<float> model_input() const override { return learner_.model_input(); }
    sim::StateTrace state_trace() const override {
        if (!taped_) throw std::logic_error("state_trace: the last step kept no tape (ask for keep_tape)");
        return learner_.state_trace();
    }
    std::size_t activation_bytes() const override { return learner_.activation_bytes(); }

    std::unique_ptr<sim::Stepper> make_stepper(int B) override {
        return std::make_unique<CudaStepper>(net_, ctx_.stream(), B, &version_);
    }

private:
    void check_size(std::size_t n, const char* what) const {
        if (n != net_.size())
            throw std::invalid_argument(fmt::format("cuda backend {}: {} values for a layout of {}", what, n, net_.size()));
    }
    // Gradients the host may have written through gradients() go back before they are used.
    void sync_gradients_to_device() {
        if (host_grads_written_) grads_.upload(host_grads_, ctx_.stream());
        host_grads_written_ = false;
    }
    void ensure_moments() {
        if (m1_.empty()) {
            m1_.resize(net_.size());
            m1_.zero(ctx_.stream());
        }
        if (m2_.empty()) {
            m2_.resize(net_.size());
            m2_.zero(ctx_.stream());
        }
    }

    DeviceContext ctx_;
    DeviceNetwork net_;
    CudaLearner learner_;
    DeviceBuffer<float> grads_, m1_, m2_;
    DeviceBuffer<double> norm_partial_, norm_;
    std::vector<float> host_grads_;
    bool host_grads_valid_ = false, host_grads_written_ = false;
    std::int64_t opt_t_ = 0;
    std::uint64_t version_ = 0;
    bool taped_ = false;
    std::string describe_;
};

}  // namespace

namespace {
std::string cuda_version(int v) { return fmt::format("{}.{}", v / 1000, v % 1000 / 10); }
}  // namespace

bool available(std::string* why) {
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0) {
        if (why) {
            int driver = 0, runtime = 0;
            cudaDriverGetVersion(&driver);  // 0 when no driver is installed
            cudaRuntimeGetVersion(&runtime);
            if (err == cudaErrorInsufficientDriver && driver > 0)
                *why = fmt::format("the CUDA driver here supports CUDA {}, older than this build's runtime ({}) needs",
                                   cuda_version(driver), cuda_version(runtime));
            else if (err == cudaErrorInsufficientDriver || err == cudaErrorNoDevice)
                *why = "no CUDA device or driver here";
            else if (err != cudaSuccess)
                *why = fmt::format("no usable CUDA device ({})", cudaGetErrorString(err));
            else
                *why = "no CUDA device is visible";
        }
        cudaGetLastError();  // clear the sticky error of a failed probe
        return false;
    }
    return true;
}

bool supports(const models::ModelConfig&, std::string*) { return true; }

DeviceInfo device_info(int device) {
    cudaDeviceProp prop{};
    ELM_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    int khz = 0;
    ELM_CUDA_CHECK(cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, device));
    DeviceInfo d;
    d.name = prop.name;
    d.major = prop.major;
    d.minor = prop.minor;
    d.sms = prop.multiProcessorCount;
    d.clock_ghz = khz * 1e-6;
    // FP32 lanes per multiprocessor: 64 on sm_60/70/75/80, 128 on sm_61, sm_86/89 and sm_90.
    const int lanes = (d.major == 8 && d.minor == 0) || d.major == 7 || (d.major == 6 && d.minor == 0) ? 64 : 128;
    d.fp32_peak_gflops = 2.0 * lanes * d.sms * d.clock_ghz;
    return d;
}

std::unique_ptr<sim::Backend> make_backend(const models::Network<float>& net, const sim::BackendOptions& options) {
    int count = 0;
    ELM_CUDA_CHECK(cudaGetDeviceCount(&count));
    if (options.device < 0 || options.device >= count)
        throw ParameterError("device", fmt::format("CUDA device {} does not exist; this machine has {} (0 to {})",
                                                   options.device, count, count - 1));
    return std::make_unique<CudaBackend>(net, options);
}

}  // namespace elm::gpu
