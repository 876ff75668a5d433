// Input files are regular files. A FIFO without a writer would block the open forever, a device such
// as /dev/zero never ends, a directory or a socket cannot be read as a file: every input (data,
// models, configs, token files) is stat()ed, symbolic links followed, before anything opens it, and
// anything but a regular file is refused in one line. Standard input ("-"), where a command takes it,
// is the caller's to handle before this check.
#pragma once

#include <string>

namespace elm::io {

// Throws InputError unless `path` names a regular file (after following symbolic links). `what` names
// the input in the message ("file", "data file", "config file", "token file"):
//   PATH: cannot open: the WHAT does not exist
//   PATH: cannot open the WHAT: found a FIFO (named pipe), expected a regular file
//   PATH: cannot open the WHAT: <system error>            (e.g. permission denied on a directory)
void require_regular_input(const std::string& path, const char* what);

}  // namespace elm::io
