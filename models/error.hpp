// Error types shared by every library. Library code throws; only `main` turns an error into an
// exit code (2 for bad input). Messages are one line and name the file, the path inside it or the
// key, and what was expected.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace elm {

// Bad input from a user: a file, a config value, a command-line argument, data. Exit code 2.
class InputError : public std::runtime_error {
public:
    explicit InputError(const std::string& what) : std::runtime_error(what) {}
};

// A bad value of one named parameter of a library call — a request field or a config key, named as
// the API names it ("resolution_ms", "samples", "threads"). Library messages never name command-line
// flags; a front end that knows which of its flags fed the parameter says it in its own terms.
class ParameterError : public InputError {
public:
    ParameterError(std::string parameter, const std::string& problem)
        : InputError(parameter + ": " + problem), parameter_(std::move(parameter)), problem_(problem) {}
    const std::string& parameter() const { return parameter_; }
    const std::string& problem() const { return problem_; }

private:
    std::string parameter_;
    std::string problem_;
};

// An end whose message, if any, was printed already: a process of a parallel job that stops because
// the job failed, after rank 0 printed the job's one error line (sim/parallel/communicator.hpp; exit
// code 2), or a run stopped by a signal after saying so (128 + the signal). main prints nothing more.
class QuietExit : public std::runtime_error {
public:
    explicit QuietExit(int code = 2) : std::runtime_error("stopped (already reported)"), code_(code) {}
    int code() const { return code_; }

private:
    int code_;
};

}  // namespace elm
