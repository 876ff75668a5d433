// Guards for the one part of an HDF5 file no checksum covers: the global heap, where variable-length
// data lives (the SHD layout's spike arrays; strings in files written before elmsim's files carried
// checksums, or by h5py). libhdf5 (1.10) trusts what it finds there: a damaged collection or object
// size makes it read out of bounds (SIGSEGV in H5HG_read under the vlen conversion) or loop. So
// before HDF5 reads such data, elmsim reads the same bytes itself and checks them:
//  - every global heap collection of the file ("GCOL"): version, size within the file, objects that
//    fit inside it, no repeated index;
//  - for a contiguous dataset of VL sequences, every element: its storage inside the file, a heap
//    ID naming a sound collection and an object of that index whose size is exactly the element's
//    length times its base type's size;
//  - the same for a variable-length string attribute, whose stored value is found by walking its
//    object's header.
// A failed check is an InputError naming the file and dataset; nothing is read from the heap then.
// (README "Hardening" explains why this and not a child process.)
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>

namespace elm::io {

// Checks every global heap collection of the file at `path` (one scan of its bytes; files over
// 1 GiB, i.e. long traces, are not scanned).
void check_global_heaps(const std::string& path);

// Checks the stored elements of the open dataset `ds` (of VL sequences or VL strings) of file `path`
// against its global heap collections. Datasets stored other than contiguously are left to HDF5.
void check_vlen_dataset(hid_t file, hid_t ds, const std::string& path, const std::string& where);

// Checks the `count` stored elements of the variable-length string attribute `name` of the open
// object `obj`: its value is found in the object's header (io/object_header.hpp) and checked like a
// dataset's elements. Attributes in dense or shared storage (never in elmsim's files) are left to HDF5.
void check_vlen_attribute(hid_t obj, const std::string& name, std::uint64_t count, const std::string& where);

}  // namespace elm::io
