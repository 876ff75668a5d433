// A guard for the one number of a chunked dataset that HDF5 turns into an allocation before any
// checksum is verified: the stored size of each chunk, kept in the chunk index. libhdf5 (1.10)
// allocates that many bytes to run the filter pipeline, so a damaged size (or a damaged chunk shape
// in a file of the 1.8 format, whose object headers carry no checksum) asks for gigabytes before the
// Fletcher32 checksum of the chunk could say it is damaged. Before a chunked dataset is read, elmsim
// checks that its chunk shape is within HDF5's own 4 GiB limit and that every chunk the read would
// touch is stored in no more bytes than its filters can produce from it (deflate's worst case, plus
// the checksum).
#pragma once

#include <hdf5.h>

#include <string>

namespace elm::io {

// Checks the open dataset `ds` as above; a failure is an InputError "`where`: ...". Contiguous and
// compact datasets have nothing to check.
void check_chunk_sizes(hid_t ds, const std::string& where);

}  // namespace elm::io
