// The .npy file of an array being written (format 1.0): the magic "\x93NUMPY", the version bytes
// 1 0, the header's length (uint16) and the header, a Python dict literal padded with spaces and
// ended by '\n' so that the data starts at a multiple of 64 bytes; then the data.
#pragma once

#include <string>

#include "rnnlyap/npy.hpp"

namespace rnnlyap::io {

/// Everything of the member's .npy file before its data.
std::string npy_header(const NpzMember& m);

/// Whether the member's data holds as many elements of its type as its shape says.
bool data_matches_shape(const NpzMember& m);

}  // namespace rnnlyap::io
