// Reading files without checksummed metadata in a separate process (docs/reliability.md). HDF5 files
// in the older formats (superblock version 0 or 1: files written by h5py and MATLAB by default, real
// SHD/SSC files, elmsim's own files from before checksums) have object headers, B-trees and heaps
// without checksums, and libhdf5 1.10 decodes them trusting every size it finds: a damaged byte can
// make it read out of bounds, allocate gigabytes or loop (measured: 1 crash, 2 hangs and 7
// allocation failures in 10^4 mutations of such a checkpoint). elmsim cannot check all of that
// itself, so before it reads such a file in its own process it has a fresh process read it first:
// `<helper> __check-file KIND PATH` (spawned, never forked, so no lock of a threaded parent is
// inherited), under a time limit. Only when that read succeeds does the real read follow; libhdf5
// decodes the same bytes the same way both times. A crash, a hang or a failure of the helper is one
// InputError naming the file.
//
// The helper is the elmsim binary itself (its main calls set_isolation_helper with /proc/self/exe).
// A program that embeds the library and sets no helper reads such files in-process, as before.
// Files in the 1.10 format (everything elmsim writes now) are read directly: their metadata is
// checksummed.
#pragma once

#include <string>
#include <vector>

namespace elm::io {

enum class IsolatedKind { checkpoint, spike_dataset, trace };

// The executable that serves `__check-file`; empty turns isolation off (the default).
void set_isolation_helper(const std::string& executable);
std::string isolation_helper();

// The HDF5 superblock version of the file (-1 when no superblock is found at 0, 512, 1024, ...).
int hdf5_superblock_version(const std::string& path);

// Whether the file's metadata has no checksums (superblock version 0 or 1).
bool needs_isolation(const std::string& path);

// With a helper set and a file that needs it: has the helper read `path` as `kind` first. Throws
// InputError when the helper fails, crashes or takes longer than the limit: 10 s plus 1 s per
// 10 MiB of file (the environment variable ELMSIM_ISOLATION_TIMEOUT_S overrides it).
// `options` go to the helper's reader as they are (a spike dataset's sample limit and channel count).
void check_in_isolated_process(IsolatedKind kind, const std::string& path, const std::vector<std::string>& options = {});

// The helper's side: reads `path` as the kind named `kind_name` in this process (no isolation).
// Throws InputError for an unknown kind and whatever the reader throws.
void read_for_check(const std::string& kind_name, const std::string& path, const std::vector<std::string>& options);

}  // namespace elm::io
