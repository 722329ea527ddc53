// A 2-D .npy matrix read a few columns at a time, never whole (npy.cpp): for one network over
// many ranks, where each rank reads only the columns of its blocks (README, "One network over many
// ranks").
#pragma once

#include <cstddef>
#include <string>

#include "io/npy_header.hpp"

namespace rnnlyap::io {

class NpyColumns {
 public:
  /// Opens a regular .npy file of a 2-D little-endian float64 or float32 matrix, C or Fortran
  /// order, and checks its header and the length of its data as read_npy_matrix does (the same
  /// one-line InvalidInput messages); a pipe or device is refused (it cannot be read in pieces).
  explicit NpyColumns(const std::string& path);
  ~NpyColumns();
  NpyColumns(const NpyColumns&) = delete;
  NpyColumns& operator=(const NpyColumns&) = delete;

  std::size_t rows() const { return h_.shape[0]; }
  std::size_t cols() const { return h_.shape[1]; }
  /// Columns [c0, c1) into `out`, column-major (rows·(c1 − c0) values, as float64); throws
  /// InvalidInput naming the first NaN or infinite entry among them (row by row, as
  /// read_npy_matrix names it).
  void columns(std::size_t c0, std::size_t c1, double* out) const;

 private:
  std::string path_;
  int fd_ = -1;
  HeaderInfo h_;
  std::size_t data_offset_ = 0;
};

}  // namespace rnnlyap::io
