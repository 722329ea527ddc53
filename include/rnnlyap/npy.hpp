// Strict readers for NumPy .npy files holding a real matrix or N-dimensional array (float64 or
// float32), and for .npz archives of such arrays; a writer of .npz archives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
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

/// An N-dimensional float array read from .npy/.npz, converted to float64, in C (row-major) order.
struct NpyArray {
  std::vector<std::size_t> shape;  ///< at least one dimension, none of them zero
  std::vector<double> data;        ///< element (i0, ..., i{n-1}) at ((i0*shape[1] + i1)*...)
};

/// Reads an .npy file holding an array of any rank of at least one: little-endian float64 ('<f8')
/// or float32 ('<f4'), C or Fortran order (converted to C order), format versions 1.0, 2.0 and
/// 3.0. As strict as read_npy_matrix, with the same one-line InvalidInput messages: a 0-D array,
/// a shape with a zero dimension (an empty array), more than 64 dimensions, NaN or infinite
/// entries and everything read_npy_matrix refuses for other reasons are refused.
NpyArray read_npy_array(const std::string& path);

/// Parses the bytes of an .npy file (as read_npy_array does); `name` is used in messages.
NpyArray parse_npy_array(const std::string& bytes, const std::string& name);

/// Reads an .npz file (NumPy's np.savez / np.savez_compressed: a ZIP archive of .npy members) into
/// a map from key (the member name without its ".npy" suffix) to array. Members may be stored or
/// deflated; ZIP64 records (the extra field 0x0001, and the ZIP64 end of central directory record
/// and locator) are understood as NumPy/Python write them, and every member's CRC-32 and sizes are
/// verified. Each member must be a valid .npy as read_npy_array accepts it. Anything else — not a
/// ZIP archive, a truncated or inconsistent one, multi-disk, encrypted members, another
/// compression method, overlapping members, duplicate keys, an invalid member, more than 16 GiB
/// uncompressed in all — throws InvalidInput with one line that starts with "<path>: " and names
/// the member where one is at fault. An archive without members gives an empty map.
std::map<std::string, NpyArray> read_npz(const std::string& path);

/// Parses the bytes of an .npz file (as read_npz does); `name` is used in messages.
std::map<std::string, NpyArray> parse_npz(const std::string& bytes, const std::string& name);

/// One member of an .npz archive being written: an array named `name` (key in np.load), of NumPy
/// type `descr` and shape `shape` (empty: a 0-d array), its little-endian bytes in C order.
struct NpzMember {
  std::string name;
  std::string descr;
  std::vector<std::size_t> shape;
  std::string data;
};
/// Float64 ('<f8'), int64 ('<i8') and uint64 ('<u8') arrays (NaN and ±inf are kept), and a string
/// (a 0-d '<U' array: str(np.load(f)[name]) gives it back).
NpzMember npz_float64(std::string name, std::vector<std::size_t> shape,
                      std::span<const double> values);
NpzMember npz_int64(std::string name, std::vector<std::size_t> shape,
                    std::span<const std::int64_t> values);
NpzMember npz_uint64(std::string name, std::vector<std::size_t> shape,
                     std::span<const std::uint64_t> values);
NpzMember npz_text(std::string name, std::string_view utf8);
/// The bytes of one .npy file (format 1.0) holding the member's array (its name is not used).
/// Throws InvalidInput for a shape that does not match the data.
std::string npy_bytes(const NpzMember& array);
/// The bytes of an .npz archive of the members (stored, not compressed, as np.savez writes it).
/// Throws InvalidInput for a duplicate or empty name, a shape that does not match the data, or an
/// archive of 4 GiB or more.
std::string npz_bytes(const std::vector<NpzMember>& members);

}  // namespace rnnlyap
