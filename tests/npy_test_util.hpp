// Test helpers that write NumPy .npy files, written independently of the reader in
// src/core/npy.cpp.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace rnnlyap::test {

static_assert(std::endian::native == std::endian::little,
              "the .npy test writer assumes a "
              "little-endian host");

/// The bytes of an .npy file whose header dict is `header_dict` (without padding or newline) and
/// whose data section is `data`. The header is padded with spaces and terminated by '\n' so that
/// the data starts at a multiple of 64 bytes, as NumPy writes it.
inline std::string make_npy_raw(const std::string& header_dict, const std::string& data,
                                int version = 1) {
  if (version < 1 || version > 3) throw std::invalid_argument("make_npy_raw: bad version");
  const std::size_t prefix = version == 1 ? 10 : 12;
  std::string header = header_dict;
  const std::size_t unpadded = prefix + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  if (version == 1 && header.size() > 0xFFFF) throw std::invalid_argument("header too long");

  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(version);
  out += '\0';
  const std::size_t len = header.size();
  const int len_bytes = version == 1 ? 2 : 4;
  for (int i = 0; i < len_bytes; ++i) out += static_cast<char>((len >> (8 * i)) & 0xFF);
  out += header;
  out += data;
  return out;
}

/// The header dict NumPy writes for a 2-D array.
inline std::string npy_header_dict(const std::string& descr, bool fortran_order, std::size_t rows,
                                   std::size_t cols) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran_order ? "True" : "False") +
         ", 'shape': (" + std::to_string(rows) + ", " + std::to_string(cols) + "), }";
}

/// Little-endian bytes of `values` laid out as given, as float64 or float32.
inline std::string npy_data_bytes(const std::vector<double>& values, bool float32) {
  std::string out;
  for (double v : values) {
    if (float32) {
      const float f = static_cast<float>(v);
      char b[sizeof f];
      std::memcpy(b, &f, sizeof f);
      out.append(b, sizeof f);
    } else {
      char b[sizeof v];
      std::memcpy(b, &v, sizeof v);
      out.append(b, sizeof v);
    }
  }
  return out;
}

/// A valid .npy file image of a rows×cols matrix. `values_row_major` holds the matrix in logical
/// row-major order (element (r, c) at r*cols + c); the file stores it in C or Fortran order.
inline std::string make_npy_bytes(const std::vector<double>& values_row_major, std::size_t rows,
                                  std::size_t cols, bool fortran_order, bool float32,
                                  int version = 1) {
  if (values_row_major.size() != rows * cols) {
    throw std::invalid_argument("make_npy_bytes: values do not match the shape");
  }
  std::vector<double> stored(values_row_major.size());
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      const std::size_t at = fortran_order ? r + c * rows : r * cols + c;
      stored[at] = values_row_major[r * cols + c];
    }
  }
  return make_npy_raw(npy_header_dict(float32 ? "<f4" : "<f8", fortran_order, rows, cols),
                      npy_data_bytes(stored, float32), version);
}

/// Writes `bytes` to `path`, replacing the file.
inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot create " + path);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace rnnlyap::test
