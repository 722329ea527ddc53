// Test helpers that write NumPy .npy files and .npz (ZIP) archives, written independently of the
// readers in src/io/npy.cpp and src/io/npz.cpp (and of zlib).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
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

// ------------------------------------------------------------------------------------------------
// N-dimensional .npy files.

/// A shape as NumPy prints it in a header: "(5,)", "(2, 3, 4)".
inline std::string npy_shape_text(const std::vector<std::size_t>& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

/// A valid .npy file image of an array of the given shape. `values_c_order` holds the elements in
/// C (row-major) order; the file stores them in C or Fortran order.
inline std::string make_npy_array_bytes(const std::vector<double>& values_c_order,
                                        const std::vector<std::size_t>& shape, bool fortran_order,
                                        bool float32, int version = 1) {
  std::size_t count = 1;
  for (const std::size_t d : shape) count *= d;
  if (values_c_order.size() != count) {
    throw std::invalid_argument("make_npy_array_bytes: values do not match the shape");
  }
  std::vector<double> stored(count);
  std::vector<std::size_t> index(shape.size(), 0);
  for (std::size_t flat = 0; flat < count; ++flat) {
    // `index` is the multi-index of element `flat` in C order; place it at its Fortran position.
    std::size_t at = 0;
    if (fortran_order) {
      std::size_t stride = 1;
      for (std::size_t a = 0; a < shape.size(); ++a) {
        at += index[a] * stride;
        stride *= shape[a];
      }
    } else {
      at = flat;
    }
    stored[at] = values_c_order[flat];
    for (std::size_t a = shape.size(); a-- > 0;) {
      if (++index[a] < shape[a]) break;
      index[a] = 0;
    }
  }
  const std::string dict = std::string("{'descr': '") + (float32 ? "<f4" : "<f8") +
                           "', 'fortran_order': " + (fortran_order ? "True" : "False") +
                           ", 'shape': " + npy_shape_text(shape) + ", }";
  return make_npy_raw(dict, npy_data_bytes(stored, float32), version);
}

// ------------------------------------------------------------------------------------------------
// CRC-32, raw deflate and ZIP archives.

/// The CRC-32 that ZIP uses (reflected polynomial 0xEDB88320), computed bit by bit.
inline std::uint32_t zip_crc32(const std::string& bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const char ch : bytes) {
    crc ^= static_cast<unsigned char>(ch);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xFFFFFFFFu;
}

/// Writes bits least significant first, as deflate (RFC 1951) packs them.
class DeflateBits {
 public:
  void put(std::uint32_t value, int count) {
    for (int i = 0; i < count; ++i) put_bit((value >> i) & 1u);
  }
  /// A Huffman code of `len` bits, which deflate packs most significant bit first.
  void put_code(std::uint32_t code, int len) {
    for (int i = len - 1; i >= 0; --i) put_bit((code >> i) & 1u);
  }
  void align() {
    while (used_ != 0) put_bit(0);
  }
  void put_byte(unsigned char b) {
    align();
    out_ += static_cast<char>(b);
  }
  std::string finish() {
    align();
    return out_;
  }

 private:
  void put_bit(std::uint32_t bit) {
    acc_ |= static_cast<unsigned>(bit) << used_;
    if (++used_ == 8) {
      out_ += static_cast<char>(acc_);
      acc_ = 0;
      used_ = 0;
    }
  }
  std::string out_;
  unsigned acc_ = 0;
  int used_ = 0;
};

/// A raw deflate stream of `data` made of stored blocks (BTYPE 00) of at most `block` bytes.
inline std::string deflate_stored(const std::string& data, std::size_t block = 65535) {
  DeflateBits bits;
  std::size_t at = 0;
  do {
    const std::size_t n = std::min(block, data.size() - at);
    const bool last = at + n == data.size();
    bits.put(last ? 1 : 0, 1);
    bits.put(0, 2);
    bits.align();
    bits.put(static_cast<std::uint32_t>(n), 16);
    bits.put(static_cast<std::uint32_t>(~n & 0xFFFF), 16);
    for (std::size_t i = 0; i < n; ++i) bits.put_byte(static_cast<unsigned char>(data[at + i]));
    at += n;
  } while (at < data.size());
  return bits.finish();
}

/// A raw deflate stream of `data` in one block with the fixed Huffman codes (BTYPE 01): runs of a
/// repeated byte become length/distance-1 pairs, everything else literals.
inline std::string deflate_fixed(const std::string& data) {
  DeflateBits bits;
  bits.put(1, 1);                        // BFINAL
  bits.put(1, 2);                        // BTYPE 01
  const auto symbol = [&](unsigned s) {  // literal/length symbol 0..287
    if (s < 144) {
      bits.put_code(0x30 + s, 8);
    } else if (s < 256) {
      bits.put_code(0x190 + (s - 144), 9);
    } else if (s < 280) {
      bits.put_code(s - 256, 7);
    } else {
      bits.put_code(0xC0 + (s - 280), 8);
    }
  };
  static constexpr unsigned kBase[] = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                       15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                       67, 83, 99, 115, 131, 163, 195, 227, 258};
  static constexpr int kExtra[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                   2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  std::size_t i = 0;
  while (i < data.size()) {
    symbol(static_cast<unsigned char>(data[i]));
    ++i;
    std::size_t run = 0;  // repeats of the byte just written
    while (i + run < data.size() && run < 258 && data[i + run] == data[i - 1]) ++run;
    if (run < 3) continue;
    std::size_t code = 28;
    while (kBase[code] > run) --code;  // the base lengths increase with the code
    symbol(static_cast<unsigned>(257 + code));
    bits.put(static_cast<std::uint32_t>(run - kBase[code]), kExtra[code]);
    bits.put_code(0, 5);  // distance code 0: distance 1
    i += run;
  }
  symbol(256);  // end of block
  return bits.finish();
}

/// A member of a ZIP archive written by make_zip.
struct ZipMember {
  std::string name;
  std::string data;                           ///< uncompressed contents
  std::uint16_t method = 0;                   ///< 0 stored, 8 deflate (fixed Huffman unless below)
  bool stored_blocks = false;                 ///< deflate with stored blocks instead
  std::optional<std::string> compressed;      ///< use these bytes as the member's data instead
  std::optional<std::uint64_t> claimed_size;  ///< size written in the headers, if not data.size()
};

/// How make_zip writes the ZIP64 parts.
struct ZipOptions {
  bool zip64_local = true;     ///< a ZIP64 extra field with both sizes in local headers, as
                               ///< NumPy (force_zip64=True) writes them
  bool zip64_central = false;  ///< sizes and offsets saturated in the central directory, the
                               ///< values in a ZIP64 extra field, as for members past 4 GiB
  bool zip64_end = false;      ///< ZIP64 end of central directory record and locator, with the
                               ///< end of central directory record's fields saturated
  std::string comment;         ///< archive comment
};

inline void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

/// A ZIP archive of `members`, laid out as Python's zipfile writes one: local headers and data,
/// central directory, (ZIP64 end records,) end of central directory record.
inline std::string make_zip(const std::vector<ZipMember>& members, const ZipOptions& opt = {}) {
  std::string out;
  std::string central;
  for (const ZipMember& m : members) {
    const std::uint32_t crc = zip_crc32(m.data);
    const std::string payload = m.compressed      ? *m.compressed
                                : m.method == 0   ? m.data
                                : m.stored_blocks ? deflate_stored(m.data)
                                                  : deflate_fixed(m.data);
    const std::uint64_t size = m.claimed_size ? *m.claimed_size : m.data.size();
    const std::uint64_t offset = out.size();
    const std::uint16_t version = opt.zip64_local || opt.zip64_central ? 45 : 20;
    put_le(out, 0x04034b50, 4);
    put_le(out, version, 2);
    put_le(out, 0, 2);  // flags
    put_le(out, m.method, 2);
    put_le(out, 0, 2);     // time
    put_le(out, 0x21, 2);  // date: 1980-01-01
    put_le(out, crc, 4);
    put_le(out, payload.size(), 4);
    put_le(out, size > 0xFFFFFFFE ? 0xFFFFFFFF : size, 4);
    put_le(out, m.name.size(), 2);
    put_le(out, opt.zip64_local ? 20 : 0, 2);
    out += m.name;
    if (opt.zip64_local) {
      put_le(out, 1, 2);
      put_le(out, 16, 2);
      put_le(out, size, 8);
      put_le(out, payload.size(), 8);
    }
    out += payload;

    put_le(central, 0x02014b50, 4);
    put_le(central, 0x031E, 2);  // made by: Unix, 3.0
    put_le(central, version, 2);
    put_le(central, 0, 2);
    put_le(central, m.method, 2);
    put_le(central, 0, 2);
    put_le(central, 0x21, 2);
    put_le(central, crc, 4);
    put_le(central, opt.zip64_central ? 0xFFFFFFFF : payload.size(), 4);
    put_le(central, opt.zip64_central ? 0xFFFFFFFF : size, 4);
    put_le(central, m.name.size(), 2);
    put_le(central, opt.zip64_central ? 28 : 0, 2);
    put_le(central, 0, 2);           // comment
    put_le(central, 0, 2);           // disk
    put_le(central, 0, 2);           // internal attributes
    put_le(central, 0x01800000, 4);  // external attributes: -rw-------
    put_le(central, opt.zip64_central ? 0xFFFFFFFF : offset, 4);
    central += m.name;
    if (opt.zip64_central) {
      put_le(central, 1, 2);
      put_le(central, 24, 2);
      put_le(central, size, 8);
      put_le(central, payload.size(), 8);
      put_le(central, offset, 8);
    }
  }
  const std::uint64_t central_at = out.size();
  out += central;
  const std::uint64_t n = members.size();
  if (opt.zip64_end) {
    const std::uint64_t record_at = out.size();
    put_le(out, 0x06064b50, 4);
    put_le(out, 44, 8);  // size of the rest of the record
    put_le(out, 45, 2);
    put_le(out, 45, 2);
    put_le(out, 0, 4);
    put_le(out, 0, 4);
    put_le(out, n, 8);
    put_le(out, n, 8);
    put_le(out, central.size(), 8);
    put_le(out, central_at, 8);
    put_le(out, 0x07064b50, 4);
    put_le(out, 0, 4);
    put_le(out, record_at, 8);
    put_le(out, 1, 4);
  }
  put_le(out, 0x06054b50, 4);
  put_le(out, 0, 2);
  put_le(out, 0, 2);
  put_le(out, opt.zip64_end ? 0xFFFF : n, 2);
  put_le(out, opt.zip64_end ? 0xFFFF : n, 2);
  put_le(out, opt.zip64_end ? 0xFFFFFFFF : central.size(), 4);
  put_le(out, opt.zip64_end ? 0xFFFFFFFF : central_at, 4);
  put_le(out, opt.comment.size(), 2);
  out += opt.comment;
  return out;
}

}  // namespace rnnlyap::test
