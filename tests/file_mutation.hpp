// What the damaged-file tests share: a file's bytes in and out, and the loop that flips one random
// byte of a file per trial and loads it, counting loads and refusals (an InputError). Any other
// exception fails the test; a crash ends the test binary, which fails the suite.
#pragma once

#include <fstream>
#include <iterator>
#include <string>

#include "elmsim/models/error.hpp"
#include "elmsim/models/rng.hpp"

namespace elm::test {

inline std::string read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

struct MutationCounts {
    int refused = 0, loaded = 0;
};

// `trials` copies of `original`, each with one byte XORed with a random non-zero byte, written to
// `scratch` and passed to `load(scratch)`.
template <class Load>
MutationCounts load_mutations(const std::string& original, const std::string& scratch, int trials, Rng& rng, Load load) {
    MutationCounts c;
    for (int k = 0; k < trials; ++k) {
        std::string b = original;
        const auto at = static_cast<std::size_t>(rng.below(b.size()));
        b[at] = static_cast<char>(b[at] ^ static_cast<char>(1 + rng.below(255)));
        write_bytes(scratch, b);
        try {
            load(scratch);
            ++c.loaded;
        } catch (const InputError&) {
            ++c.refused;
        }
    }
    return c;
}

}  // namespace elm::test
