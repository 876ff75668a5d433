// Error types shared by every library. Library code throws; only `main` turns an error into an
// exit code (2 for bad input). Messages are one line and name the file, the path inside it or the
// key, and what was expected.
#pragma once

#include <stdexcept>
#include <string>

namespace elm {

// Bad input from a user: a file, a config value, a command-line argument, data. Exit code 2.
class InputError : public std::runtime_error {
public:
    explicit InputError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace elm
