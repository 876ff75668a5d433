// Finds an attribute's stored bytes in an HDF5 object header, read from the raw file (spec: HDF5 File
// Format, "Data Object Headers", version 1 and 2, continuation blocks included, and "The Attribute
// Message", versions 1 to 3). libhdf5 gives no access to where an attribute keeps its value, and a
// variable-length attribute's value is a global heap reference that libhdf5 follows unchecked; this
// lets io/vlen_guard check it first. Every read is bounds-checked; nothing here trusts the file.
#pragma once

#include <cstdint>
#include <string>

#include "elmsim/io/raw_file.hpp"

namespace elm::io {

struct AttributeBytes {
    enum class Found { yes, no, elsewhere } found = Found::no;  // elsewhere: dense or shared storage
    std::uint64_t at = 0;                                       // the value's first byte in the file
    std::uint64_t size = 0;                                     // bytes from there to the message's end
    std::string damage;                                         // set when the header does not parse
};

// The value of attribute `name` of the object whose header starts at file offset `header_at`
// (`addr_size`, `length_size`: the superblock's sizes of offsets and lengths).
AttributeBytes find_attribute_value(const RawFile& f, std::uint64_t header_at, std::size_t addr_size,
                                    std::size_t length_size, const std::string& name);

}  // namespace elm::io
