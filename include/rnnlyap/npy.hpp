// A strict reader for NumPy .npy files holding a real matrix (float64 or float32).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace rnnlyap {

/// A 2-D array read from an .npy file, converted to float64, in column-major order.
struct NpyMatrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<double> data;  ///< data[r + c*rows]
};

/// Reads a 2-D little-endian float64 ('<f8') or float32 ('<f4') .npy file, C or Fortran order,
/// format versions 1.0, 2.0 and 3.0. Anything else — a missing file, a malformed or truncated
/// header, another dtype, a shape that is not 2-D, a data section whose length does not match the
/// shape, NaN or infinite entries — throws InvalidInput with one line naming the problem.
NpyMatrix read_npy_matrix(const std::string& path);

/// Parses the bytes of an .npy file (as read_npy_matrix does); `name` is used in messages.
NpyMatrix parse_npy_matrix(const std::string& bytes, const std::string& name);

}  // namespace rnnlyap
