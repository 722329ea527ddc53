// The .npy files of arrays being written (io/npy_writer.hpp), and the members of an .npz archive
// (rnnlyap/npy.hpp).
#include "io/npy_writer.hpp"

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "rnnlyap/errors.hpp"

namespace rnnlyap {
namespace io {
namespace {

template <class U>
std::string le_bytes(std::span<const U> values) {
  static_assert(std::endian::native == std::endian::little,
                "the .npy writer assumes little-endian");
  std::string out(values.size() * sizeof(U), '\0');
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::size_t elements(const std::vector<std::size_t>& shape) {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}

}  // namespace

std::string npy_header(const NpzMember& m) {
  std::string shape = "(";
  for (std::size_t i = 0; i < m.shape.size(); ++i)
    shape += std::to_string(m.shape[i]) + (m.shape.size() == 1      ? ","
                                           : i + 1 < m.shape.size() ? ", "
                                                                    : "");
  shape += ")";
  std::string header =
      "{'descr': '" + m.descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>(header.size() >> 8);
  return out + header;
}

bool data_matches_shape(const NpzMember& m) {
  const std::size_t width = m.descr.rfind("<U", 0) == 0 ? 4 * std::stoul(m.descr.substr(2)) : 8;
  return m.data.size() == elements(m.shape) * width;
}

}  // namespace io

NpzMember npz_float64(std::string name, std::vector<std::size_t> shape,
                      std::span<const double> values) {
  return {std::move(name), "<f8", std::move(shape), io::le_bytes(values)};
}
NpzMember npz_int64(std::string name, std::vector<std::size_t> shape,
                    std::span<const std::int64_t> values) {
  return {std::move(name), "<i8", std::move(shape), io::le_bytes(values)};
}
NpzMember npz_uint64(std::string name, std::vector<std::size_t> shape,
                     std::span<const std::uint64_t> values) {
  return {std::move(name), "<u8", std::move(shape), io::le_bytes(values)};
}

NpzMember npz_text(std::string name, std::string_view utf8) {
  // UTF-8 → UCS-4 code points (a malformed byte becomes U+FFFD).
  std::vector<std::uint32_t> cps;
  for (std::size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    const int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    std::uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    bool ok = len > 0 && i + static_cast<std::size_t>(len) <= utf8.size();
    for (int k = 1; ok && k < len; ++k) {
      const auto t = static_cast<unsigned char>(utf8[i + static_cast<std::size_t>(k)]);
      ok = (t >> 6) == 2;
      cp = (cp << 6) | (t & 0x3F);
    }
    cps.push_back(ok ? cp : 0xFFFD);
    i += ok ? static_cast<std::size_t>(len) : 1;
  }
  if (cps.empty()) cps.push_back(0);  // '<U0' is not a type numpy reads back as a str
  return {std::move(name),
          "<U" + std::to_string(cps.size()),
          {},
          io::le_bytes(std::span<const std::uint32_t>(cps))};
}

std::string npy_bytes(const NpzMember& m) {
  if (!io::data_matches_shape(m))
    throw InvalidInput("the array " + m.name + " has data that does not match its shape");
  return io::npy_header(m) + m.data;
}

}  // namespace rnnlyap
