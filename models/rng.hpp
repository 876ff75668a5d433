// Rng: xoshiro256** seeded through splitmix64. Chosen over <random> engines + distributions because
// its state is four integers (saved in checkpoints for bit-exact resume) and every draw below is
// defined here, so the same seed gives the same model on every standard library.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

namespace elm {

class Rng {
public:
    using State = std::array<std::uint64_t, 4>;

    explicit Rng(std::uint64_t seed = 1, std::uint64_t stream = 0) {
        std::uint64_t x = seed ^ (0x9E3779B97F4A7C15ull * (stream + 1));
        for (auto& s : s_) s = splitmix64(x);
    }

    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    // Uniform in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    // Uniform integer in [0, n), n > 0 (Lemire's multiply-shift with rejection: unbiased).
    std::uint64_t below(std::uint64_t n) {
        while (true) {
            const unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
            const std::uint64_t low = static_cast<std::uint64_t>(m);
            if (low >= n || low >= (0 - n) % n) return static_cast<std::uint64_t>(m >> 64);
        }
    }
    // Standard normal by Box-Muller (one value per call; the pair's second value is discarded so
    // the state stays a pure function of the number of calls).
    double normal() {
        double u1 = uniform();
        while (u1 <= 0.0) u1 = uniform();
        const double u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }

    const State& state() const { return s_; }
    void set_state(const State& s) { s_ = s; }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    static std::uint64_t splitmix64(std::uint64_t& x) {
        std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    State s_{};
};

}  // namespace elm
