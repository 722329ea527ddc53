// The start of a NumPy .npy file, parsed strictly (NumPy's "format.py" specification): the magic
// string "\x93NUMPY", a major and a minor version byte, the header length (little-endian uint16
// for version 1.0, uint32 for 2.0 and 3.0), then the header: a Python dict literal with the keys
// 'descr', 'fortran_order' and 'shape', padded with spaces and terminated by '\n'. Only the subset
// of Python literal syntax a header can sensibly contain is accepted (strings without escapes,
// integers, True/False/None, tuples and lists), and only little-endian float64 and float32 arrays.
// Every problem throws InvalidInput "<name>: <what>" on one printable line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rnnlyap::io {

/// The fixed-size start of the file: the format version and the header's length.
struct Preamble {
  int major = 0;
  std::size_t prefix_len = 0;  ///< bytes before the header: 10 (v1.0) or 12 (v2.0, v3.0)
  std::size_t header_len = 0;
};

/// Parses the fixed-size start of the file. `start` holds the whole file or at least its first
/// 12 bytes.
Preamble parse_preamble(std::string_view start, const std::string& name);

/// Throws "truncated header" unless the header fits in the `remaining` bytes after the preamble.
void check_header_fits(const Preamble& p, std::size_t remaining, const std::string& name);

/// Which reader is asking: the matrix reader wants exactly two dimensions and stores the result in
/// column-major order; the array reader takes any rank of at least one and stores C order.
enum class Want { kMatrix, kArray };

/// NumPy's own limit on the number of dimensions (NPY_MAXDIMS in NumPy 2).
constexpr std::size_t kMaxRank = 64;

/// What the header says, checked against what the reader wants.
struct HeaderInfo {
  Want want = Want::kMatrix;
  bool float32 = false;
  bool fortran = false;
  std::size_t item = 8;
  std::vector<std::size_t> shape;
  std::string shape_text;  ///< the shape as Python prints it, for messages
  std::size_t count = 0;   ///< number of elements
  std::size_t data_bytes = 0;

  /// "matrix" or "array", as messages call the result.
  const char* noun() const { return want == Want::kMatrix ? "matrix" : "array"; }
};

/// Parses the header text (its `header_len` bytes, ending in '\n') of a file of version `major`.
HeaderInfo parse_header(std::string_view header, int major, Want want, const std::string& name);

}  // namespace rnnlyap::io
