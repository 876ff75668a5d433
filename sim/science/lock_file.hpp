// A lock between processes on any machines that share a directory, without flock(): flock is local to
// one machine on NFS mounted with local_lock=flock|all and on Lustre mounted with localflock, where two
// nodes would both hold it. The lock is a file created with O_CREAT | O_EXCL (atomic on NFSv3+ and
// Lustre) holding its owner's host, pid and a token; it is held for a few file operations only.
// A lock file whose owner is gone is broken: at once when the owner is on this host and its pid no
// longer exists, and in any case when the file is older than `stale_seconds` by the shared file
// system's own clock (a file touched beside it gives "now", so clocks of different machines never meet). Breaking
// renames the stale file to a unique name first, so of several processes breaking it at once exactly
// one succeeds.
#pragma once

#include <filesystem>
#include <string>

namespace elm::science {

class LockFile {
public:
    // Waits for the lock (polling, 2 .. 100 ms apart) up to `wait_seconds`; InputError after that, or
    // when the directory cannot hold the lock file.
    LockFile(std::filesystem::path path, double stale_seconds, double wait_seconds = 600.0);
    ~LockFile();  // removes the file if it is still ours
    LockFile(const LockFile&) = delete;
    LockFile& operator=(const LockFile&) = delete;

private:
    bool try_create();
    bool owner_gone() const;

    std::filesystem::path path_;
    std::string token_;
    double stale_seconds_;
};

// What the file system holding `dir` is, when its locks are local to one machine: e.g. "NFS mounted
// with local_lock=flock" or "Lustre mounted with localflock"; empty otherwise. Sweeps say it once, as
// the reason they lock with lock files.
std::string local_locking_note(const std::filesystem::path& dir);

}  // namespace elm::science
