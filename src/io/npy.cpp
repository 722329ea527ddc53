// A strict reader for NumPy .npy files holding a real 2-D matrix (see rnnlyap/npy.hpp).
//
// Format (NumPy's "format.py" specification): the magic string "\x93NUMPY", a major and a minor
// version byte, the header length (little-endian uint16 for version 1.0, uint32 for 2.0 and 3.0),
// then the header: a Python dict literal with the keys 'descr', 'fortran_order' and 'shape', padded
// with spaces and terminated by '\n'. The array data follows the header.
//
// Nothing here trusts a size read from the file: every length is checked against the bytes that
// are actually present before anything is allocated.
#include "rnnlyap/npy.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>

#include "core/memory_limit.hpp"
#include "io/file_errors.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap {
namespace {

constexpr std::string_view kMagic{"\x93NUMPY", 6};
/// Headers longer than this are refused (NumPy itself refuses more than 10000 bytes by default).
constexpr std::size_t kMaxHeaderLen = std::size_t{1} << 20;
/// Deepest nesting of tuples and lists accepted in the header.
constexpr int kMaxNesting = 32;
/// Bytes read from a file at a time (a multiple of every item size).
constexpr std::size_t kChunk = std::size_t{1} << 22;
/// How far past the expected end a non-seekable stream is read to report trailing data.
constexpr std::size_t kStreamSlack = std::size_t{1} << 16;

/// `s` with control characters (and, with `ascii_only`, bytes above 0x7E) escaped as \xNN, so
/// that a message stays on one line; at most `max_len` bytes of `s` are shown.
using detail::fail;
using detail::printable;

// ---------------------------------------------------------------------------------------------
// Preamble: magic, version, header length.

struct Preamble {
  int major = 0;
  std::size_t prefix_len = 0;  ///< bytes before the header: 10 (v1.0) or 12 (v2.0, v3.0)
  std::size_t header_len = 0;
};

/// Parses the fixed-size start of the file. `start` holds the whole file or at least its first
/// 12 bytes.
Preamble parse_preamble(std::string_view start, const std::string& name) {
  if (start.empty()) fail(name, "not an .npy file (file is empty)");
  const std::size_t n = std::min(start.size(), kMagic.size());
  if (start.substr(0, n) != kMagic.substr(0, n)) fail(name, "not an .npy file (bad magic)");
  const auto truncated = [&] {
    fail(name, "truncated header: file is only " + std::to_string(start.size()) + " bytes long");
  };
  if (start.size() < kMagic.size() + 2) truncated();
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(start[i]); };
  const int major = byte(6);
  const int minor = byte(7);
  if (major < 1 || major > 3 || minor != 0) {
    fail(name, "unsupported .npy format version " + std::to_string(major) + "." +
                   std::to_string(minor) + " (expected 1.0, 2.0 or 3.0)");
  }
  Preamble p;
  p.major = major;
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  p.prefix_len = 8 + len_bytes;
  if (start.size() < p.prefix_len) truncated();
  for (std::size_t i = 0; i < len_bytes; ++i) p.header_len |= std::size_t{byte(8 + i)} << (8 * i);
  if (p.header_len > kMaxHeaderLen) {
    fail(name, "header too large (" + std::to_string(p.header_len) + " bytes; at most " +
                   std::to_string(kMaxHeaderLen) + " are accepted)");
  }
  return p;
}

void check_header_fits(const Preamble& p, std::size_t remaining, const std::string& name) {
  if (p.header_len > remaining) {
    fail(name, "truncated header: header length is " + std::to_string(p.header_len) +
                   " bytes, but only " + std::to_string(remaining) + " bytes follow");
  }
}

// ---------------------------------------------------------------------------------------------
// Header: a Python dict literal. Only the subset of Python literal syntax that a header can
// sensibly contain is accepted: strings without escapes, integers, True/False/None, tuples and
// lists.

struct PyValue {
  enum class Kind { kStr, kInt, kBool, kNone, kTuple, kList };
  Kind kind = Kind::kNone;
  std::string str;             ///< kStr
  bool negative = false;       ///< kInt: a minus sign (the value may still be zero)
  bool overflow = false;       ///< kInt: magnitude does not fit in 64 bits
  std::uint64_t mag = 0;       ///< kInt: magnitude
  bool boolean = false;        ///< kBool
  std::vector<PyValue> items;  ///< kTuple, kList
};

class HeaderParser {
 public:
  HeaderParser(std::string_view text, int major, const std::string& name)
      : text_(text), major_(major), name_(name) {}

  std::vector<std::pair<std::string, PyValue>> parse_dict() {
    std::vector<std::pair<std::string, PyValue>> entries;
    skip_ws();
    expect('{');
    skip_ws();
    while (peek() != '}') {
      if (peek() != '\'' && peek() != '"') unexpected();
      std::string key = parse_string();
      skip_ws();
      expect(':');
      skip_ws();
      PyValue value = parse_value(1);
      entries.emplace_back(std::move(key), std::move(value));
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        skip_ws();
      } else if (peek() != '}') {
        unexpected();
      }
    }
    ++pos_;  // '}'
    skip_ws();
    if (pos_ != text_.size()) unexpected();
    return entries;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail(name_, "malformed header: " + what);
  }

  [[noreturn]] void unexpected() const {
    if (pos_ >= text_.size()) error("unexpected end of header");
    const auto ch = static_cast<unsigned char>(text_[pos_]);
    const std::string where = " at offset " + std::to_string(pos_);
    if (ch >= 0x21 && ch < 0x7F) {
      error("unexpected character '" + std::string(1, static_cast<char>(ch)) + "'" + where);
    }
    static constexpr char kHex[] = "0123456789ABCDEF";
    error(std::string("unexpected byte 0x") + kHex[ch >> 4] + kHex[ch & 0xF] + where);
  }

  /// The current character, or '\0' at the end (a NUL inside the text is reported by
  /// unexpected() as a byte, since no rule accepts it).
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void expect(char c) {
    if (pos_ >= text_.size() || text_[pos_] != c) unexpected();
    ++pos_;
  }

  void skip_ws() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f') break;
      ++pos_;
    }
  }

  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  static bool is_ident_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  }

  std::string parse_string() {
    const char quote = text_[pos_];
    const std::size_t start = pos_;
    ++pos_;
    std::string out;
    for (;;) {
      if (pos_ >= text_.size() || text_[pos_] == '\n' || text_[pos_] == '\r') {
        error("unterminated string starting at offset " + std::to_string(start));
      }
      const char c = text_[pos_];
      if (c == '\\') {
        error("escape sequences in strings are not supported (offset " + std::to_string(pos_) +
              ")");
      }
      ++pos_;
      if (c == quote) return out;
      out += c;
    }
  }

  PyValue parse_int() {
    PyValue v;
    v.kind = PyValue::Kind::kInt;
    if (peek() == '+' || peek() == '-') {
      v.negative = peek() == '-';
      ++pos_;
      skip_ws();
    }
    if (!is_digit(peek())) unexpected();
    const std::size_t start = pos_;
    bool nonzero = false;
    while (is_digit(peek())) {
      const auto d = static_cast<std::uint64_t>(peek() - '0');
      nonzero = nonzero || d != 0;
      if (v.mag > (std::numeric_limits<std::uint64_t>::max() - d) / 10) v.overflow = true;
      if (!v.overflow) v.mag = v.mag * 10 + d;
      ++pos_;
    }
    if (text_[start] == '0' && pos_ - start > 1 && nonzero) {
      error("integer with leading zeros at offset " + std::to_string(start));
    }
    // Python 2 wrote long integers with an 'L' suffix; NumPy accepts it in 1.0 and 2.0 headers.
    if (major_ <= 2 && (peek() == 'L' || peek() == 'l')) ++pos_;
    return v;
  }

  /// Items of a tuple or list after the opening bracket and (for a tuple) the first item.
  void parse_items(PyValue& v, char close, int depth) {
    for (;;) {
      skip_ws();
      if (peek() == close) {
        ++pos_;
        return;
      }
      v.items.push_back(parse_value(depth + 1));
      skip_ws();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() == close) {
        ++pos_;
        return;
      } else {
        unexpected();
      }
    }
  }

  PyValue parse_value(int depth) {
    if (depth > kMaxNesting) error("nesting too deep at offset " + std::to_string(pos_));
    const char c = peek();
    if (pos_ >= text_.size()) unexpected();
    if (c == '\'' || c == '"') {
      PyValue v;
      v.kind = PyValue::Kind::kStr;
      v.str = parse_string();
      return v;
    }
    if (c == '(') {
      ++pos_;
      skip_ws();
      PyValue v;
      v.kind = PyValue::Kind::kTuple;
      if (peek() == ')') {
        ++pos_;
        return v;
      }
      PyValue first = parse_value(depth + 1);
      skip_ws();
      if (peek() == ')') {  // "(x)" is x, not a tuple
        ++pos_;
        return first;
      }
      expect(',');
      v.items.push_back(std::move(first));
      parse_items(v, ')', depth);
      return v;
    }
    if (c == '[') {
      ++pos_;
      PyValue v;
      v.kind = PyValue::Kind::kList;
      parse_items(v, ']', depth);
      return v;
    }
    if (is_digit(c) || c == '+' || c == '-') return parse_int();
    if (is_ident_start(c)) {
      const std::size_t start = pos_;
      while (is_ident_start(peek()) || is_digit(peek())) ++pos_;
      const std::string_view word = text_.substr(start, pos_ - start);
      PyValue v;
      if (word == "True" || word == "False") {
        v.kind = PyValue::Kind::kBool;
        v.boolean = word == "True";
        return v;
      }
      if (word == "None") return v;
      error("unexpected name '" + printable(word, 40, true) + "' at offset " +
            std::to_string(start));
    }
    unexpected();
  }

  std::string_view text_;
  int major_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

/// Which reader is asking: the matrix reader wants exactly two dimensions and stores the result in
/// column-major order; the array reader takes any rank of at least one and stores C order.
enum class Want { kMatrix, kArray };

/// NumPy's own limit on the number of dimensions (NPY_MAXDIMS in NumPy 2).
constexpr std::size_t kMaxRank = 64;

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

std::string format_int(const PyValue& v) {
  if (v.overflow) return v.negative ? "-<huge>" : "<huge>";
  std::string out = v.negative && v.mag != 0 ? "-" : "";
  out += std::to_string(v.mag);
  return out;
}

/// A shape tuple of integers as Python prints it: "(5,)", "(2, 3)".
std::string format_shape(const PyValue& shape) {
  constexpr std::size_t kMaxShown = 8;
  std::string out = "(";
  for (std::size_t i = 0; i < shape.items.size() && i < kMaxShown; ++i) {
    if (i > 0) out += ", ";
    out += format_int(shape.items[i]);
  }
  if (shape.items.size() > kMaxShown) out += ", ...";
  if (shape.items.size() == 1) out += ",";
  return out + ")";
}

HeaderInfo parse_header(std::string_view header, int major, Want want, const std::string& name) {
  if (header.empty() || header.back() != '\n') {
    fail(name, "malformed header: not terminated by a newline");
  }
  HeaderParser parser(header, major, name);
  const auto entries = parser.parse_dict();

  const PyValue* descr = nullptr;
  const PyValue* fortran = nullptr;
  const PyValue* shape = nullptr;
  for (const auto& [key, value] : entries) {
    const PyValue** slot = key == "descr"           ? &descr
                           : key == "fortran_order" ? &fortran
                           : key == "shape"         ? &shape
                                                    : nullptr;
    if (slot == nullptr)
      fail(name, "malformed header: unknown key '" + printable(key, 40, true) + "'");
    if (*slot != nullptr)
      fail(name, "malformed header: duplicate key '" + printable(key, 40, true) + "'");
    *slot = &value;
  }
  if (descr == nullptr) fail(name, "malformed header: missing key 'descr'");
  if (fortran == nullptr) fail(name, "malformed header: missing key 'fortran_order'");
  if (shape == nullptr) fail(name, "malformed header: missing key 'shape'");

  static const std::string kExpected = "(expected float64 '<f8' or float32 '<f4')";
  HeaderInfo info;
  info.want = want;
  if (descr->kind == PyValue::Kind::kList) {
    fail(name, "unsupported dtype: structured array " + kExpected);
  }
  if (descr->kind != PyValue::Kind::kStr) fail(name, "malformed header: 'descr' is not a string");
  if (descr->str == "<f8") {
    info.float32 = false;
    info.item = 8;
  } else if (descr->str == "<f4") {
    info.float32 = true;
    info.item = 4;
  } else {
    fail(name, "unsupported dtype '" + printable(descr->str, 40, true) + "' " + kExpected);
  }

  if (fortran->kind != PyValue::Kind::kBool) {
    fail(name, "malformed header: 'fortran_order' is not True or False");
  }
  info.fortran = fortran->boolean;

  const bool shape_ok = shape->kind == PyValue::Kind::kTuple &&
                        std::all_of(shape->items.begin(), shape->items.end(),
                                    [](const PyValue& v) { return v.kind == PyValue::Kind::kInt; });
  if (!shape_ok) fail(name, "malformed header: 'shape' is not a tuple of integers");
  const std::string shape_text = format_shape(*shape);
  for (const PyValue& d : shape->items) {
    if (d.negative && (d.mag != 0 || d.overflow)) {
      fail(name, "malformed header: negative dimension in shape " + shape_text);
    }
  }
  const std::size_t rank = shape->items.size();
  if (want == Want::kMatrix && rank != 2) {
    fail(name, "expected a 2-D matrix, got a " + std::to_string(rank) + "-D array of shape " +
                   shape_text);
  }
  if (want == Want::kArray && rank == 0) {
    fail(name, "expected an array of at least one dimension, got a 0-D array of shape ()");
  }
  if (rank > kMaxRank) {
    fail(name, "array of shape " + shape_text + " has " + std::to_string(rank) +
                   " dimensions (at most " + std::to_string(kMaxRank) + " are supported)");
  }
  const std::string too_large =
      std::string(info.noun()) + " of shape " + shape_text + " is too large";
  constexpr std::uint64_t kMaxSize = std::numeric_limits<std::size_t>::max();
  for (const PyValue& d : shape->items) {
    if (d.overflow || d.mag > kMaxSize) fail(name, too_large);
    info.shape.push_back(static_cast<std::size_t>(d.mag));
  }
  if (std::find(info.shape.begin(), info.shape.end(), std::size_t{0}) != info.shape.end()) {
    fail(name, std::string(info.noun()) + " is empty (shape " + shape_text + ")");
  }
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  info.count = 1;
  for (const std::size_t d : info.shape) {
    if (info.count > kMax / d) fail(name, too_large);
    info.count *= d;
  }
  if (info.count > kMax / info.item) fail(name, too_large);
  info.data_bytes = info.count * info.item;
  info.shape_text = shape_text;
  return info;
}

// ---------------------------------------------------------------------------------------------
// Data.

void check_data_size(const HeaderInfo& h, std::size_t available, const std::string& name) {
  if (available < h.data_bytes) {
    fail(name, "truncated data: expected " + std::to_string(h.data_bytes) + " bytes, found " +
                   std::to_string(available));
  }
  if (available > h.data_bytes) {
    fail(name, "trailing data: expected " + std::to_string(h.data_bytes) + " bytes, found " +
                   std::to_string(available));
  }
}

/// The elements, in the order the reader returns them (see Want).
std::vector<double> allocate(const HeaderInfo& h, const std::string& name) {
  std::vector<double> data;
  try {
    data.resize(h.count);
  } catch (const std::bad_alloc&) {
    fail(name, std::string(h.noun()) + " of shape " + h.shape_text + " does not fit in memory");
  } catch (const std::length_error&) {
    fail(name, std::string(h.noun()) + " of shape " + h.shape_text + " is too large");
  }
  return data;
}

double load(const unsigned char* p, bool float32) {
  if (float32) {
    std::uint32_t bits = 0;
    for (int i = 0; i < 4; ++i) bits |= std::uint32_t{p[i]} << (8 * i);
    return static_cast<double>(std::bit_cast<float>(bits));
  }
  std::uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits |= std::uint64_t{p[i]} << (8 * i);
  return std::bit_cast<double>(bits);
}

/// Decodes `count` elements, the elements first .. first+count-1 in the file's storage order,
/// into `out`, which is column-major for a matrix and C order for an array.
void decode(const unsigned char* src, std::size_t first, std::size_t count, const HeaderInfo& h,
            double* out) {
  const bool out_fortran = h.want == Want::kMatrix;
  const std::size_t rank = h.shape.size();
  if (h.fortran == out_fortran || rank <= 1) {  // same layout: a straight copy
    for (std::size_t k = 0; k < count; ++k) out[first + k] = load(src + k * h.item, h.float32);
    return;
  }
  // The other layout: walk the storage order with an odometer over the axes, fastest-varying
  // first, keeping the element's offset in `out` up to date.
  std::vector<std::size_t> axis(rank);    // axis[k]: the k-th fastest-varying axis in the file
  std::vector<std::size_t> stride(rank);  // stride[a]: step in `out` along axis a
  std::size_t step = 1;
  for (std::size_t k = 0; k < rank; ++k) {
    axis[k] = h.fortran ? k : rank - 1 - k;
    const std::size_t a = out_fortran ? k : rank - 1 - k;  // `out` varies fastest along a
    stride[a] = step;
    step *= h.shape[a];
  }
  std::vector<std::size_t> index(rank);  // index[k]: position along axis[k]
  std::size_t offset = 0;
  std::size_t rest = first;
  for (std::size_t k = 0; k < rank; ++k) {
    const std::size_t a = axis[k];
    index[k] = rest % h.shape[a];
    rest /= h.shape[a];
    offset += index[k] * stride[a];
  }
  for (std::size_t e = 0; e < count; ++e) {
    out[offset] = load(src + e * h.item, h.float32);
    for (std::size_t k = 0; k < rank; ++k) {
      const std::size_t a = axis[k];
      if (++index[k] < h.shape[a]) {
        offset += stride[a];
        break;
      }
      index[k] = 0;
      offset -= stride[a] * (h.shape[a] - 1);
    }
  }
}

/// Throws if an element is NaN or infinite, naming the first one in C (row-major) order.
void check_finite(const std::vector<double>& data, const HeaderInfo& h, const std::string& name) {
  const auto bad =
      std::find_if(data.begin(), data.end(), [](double x) { return !std::isfinite(x); });
  if (bad == data.end()) return;
  const auto describe = [](double x) { return std::isnan(x) ? "NaN" : x > 0 ? "inf" : "-inf"; };
  if (h.want == Want::kMatrix) {  // column-major: search again in row-major order
    const std::size_t rows = h.shape[0];
    const std::size_t cols = h.shape[1];
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t c = 0; c < cols; ++c) {
        const double x = data[r + c * rows];
        if (std::isfinite(x)) continue;
        fail(name, std::string("non-finite value ") + describe(x) + " at row " + std::to_string(r) +
                       ", column " + std::to_string(c) + " (0-based)");
      }
    }
  }
  // C order: the first one found is the first in row-major order.
  std::size_t flat = static_cast<std::size_t>(bad - data.begin());
  std::vector<std::size_t> index(h.shape.size());
  for (std::size_t a = h.shape.size(); a-- > 0;) {
    index[a] = flat % h.shape[a];
    flat /= h.shape[a];
  }
  std::string where;
  if (index.size() == 1) {
    where = std::to_string(index[0]);
  } else {
    where = "(";
    for (std::size_t a = 0; a < index.size(); ++a) {
      if (a > 0) where += ", ";
      where += std::to_string(index[a]);
    }
    where += ")";
  }
  fail(name,
       std::string("non-finite value ") + describe(*bad) + " at index " + where + " (0-based)");
}

/// A decoded .npy: its header and its elements (see Want for their order).
struct Decoded {
  HeaderInfo header;
  std::vector<double> data;
};

Decoded parse_npy(const std::string& bytes, Want want, const std::string& name) {
  const std::string_view all(bytes);
  const Preamble p = parse_preamble(all, name);
  check_header_fits(p, all.size() - p.prefix_len, name);
  Decoded d;
  d.header = parse_header(all.substr(p.prefix_len, p.header_len), p.major, want, name);
  const HeaderInfo& h = d.header;
  const std::size_t data_offset = p.prefix_len + p.header_len;
  check_data_size(h, all.size() - data_offset, name);
  d.data = allocate(h, name);
  decode(reinterpret_cast<const unsigned char*>(all.data() + data_offset), 0, h.count, h,
         d.data.data());
  check_finite(d.data, h, name);
  return d;
}

// ---------------------------------------------------------------------------------------------
// Files.

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

/// Reads up to `n` bytes into `dst`; returns how many were read (fewer only at end of file).
std::size_t read_some(std::FILE* f, char* dst, std::size_t n, const std::string& name) {
  std::size_t got = 0;
  while (got < n) {
    errno = 0;
    const std::size_t k = std::fread(dst + got, 1, n - got, f);
    if (k == 0) {
      if (std::ferror(f) != 0) fail(name, "cannot read: " + errno_text(errno != 0 ? errno : EIO));
      break;
    }
    got += k;
  }
  return got;
}

/// Appends up to `n` bytes from `f` to `out`, growing `out` only by what was actually read (so a
/// length taken from the file cannot make it allocate more than the file holds).
void append_up_to(std::FILE* f, std::string& out, std::size_t n, const std::string& name) {
  std::size_t total = 0;
  while (total < n) {
    const std::size_t want = std::min(n - total, kChunk);
    const std::size_t old = out.size();
    out.resize(old + want);
    const std::size_t got = read_some(f, out.data() + old, want, name);
    out.resize(old + got);
    total += got;
    if (got < want) break;
  }
}

/// Reads the data of a regular file of `file_size` bytes straight into the result.
Decoded read_regular(std::FILE* f, std::size_t file_size, std::size_t data_offset,
                     const HeaderInfo& h, const std::string& name) {
  check_data_size(h, file_size - data_offset, name);
  if (std::fseek(f, static_cast<long>(data_offset), SEEK_SET) != 0) {
    fail(name, "cannot read: " + errno_text(errno != 0 ? errno : EIO));
  }
  Decoded d{h, allocate(h, name)};
  std::string chunk(std::min(h.data_bytes, kChunk), '\0');
  std::size_t done = 0;
  while (done < h.data_bytes) {
    const std::size_t want = std::min(h.data_bytes - done, kChunk);
    const std::size_t got = read_some(f, chunk.data(), want, name);
    if (got < want) check_data_size(h, done + got, name);  // the file shrank meanwhile
    decode(reinterpret_cast<const unsigned char*>(chunk.data()), done / h.item, want / h.item, h,
           d.data.data());
    done += want;
  }
  char extra = 0;
  if (read_some(f, &extra, 1, name) != 0) {  // the file grew meanwhile
    fail(name, "trailing data: expected " + std::to_string(h.data_bytes) + " bytes, found more");
  }
  check_finite(d.data, h, name);
  return d;
}

Decoded read_npy(const std::string& path, Want want) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!ec && fs::is_directory(status)) fail(path, "cannot open: " + errno_text(EISDIR));
  errno = 0;
  const File file(std::fopen(path.c_str(), "rb"));
  if (!file) fail(path, "cannot open: " + errno_text(errno != 0 ? errno : ENOENT));
  std::FILE* f = file.get();

  try {
    // Preamble and header, read incrementally so that lengths taken from the file are checked
    // against what is there.
    std::string buf;
    append_up_to(f, buf, 12, path);
    const Preamble p = parse_preamble(buf, path);
    const std::size_t need = p.prefix_len + p.header_len;
    if (buf.size() < need) append_up_to(f, buf, need - buf.size(), path);
    check_header_fits(p, buf.size() - p.prefix_len, path);
    const HeaderInfo h =
        parse_header(std::string_view(buf).substr(p.prefix_len, p.header_len), p.major, want, path);

    if (!ec && fs::is_regular_file(status)) {
      const std::uintmax_t size = fs::file_size(path, ec);
      if (!ec && size >= need && size <= std::numeric_limits<std::size_t>::max() &&
          size <= static_cast<std::uintmax_t>(std::numeric_limits<long>::max())) {
        return read_regular(f, static_cast<std::size_t>(size), need, h, path);
      }
    }

    // A pipe or device: read what the header promises, plus a little to detect trailing data,
    // after checking that the bytes and the decoded array fit in the memory this process may use.
    const std::size_t avail = detail::available_memory_bytes("");
    if (avail > 0 && static_cast<double>(h.data_bytes) + 8.0 * static_cast<double>(h.count) >
                         static_cast<double>(avail)) {
      fail(path, std::string(h.noun()) + " of shape " + h.shape_text + " does not fit in memory");
    }
    const std::size_t limit =
        h.data_bytes > std::numeric_limits<std::size_t>::max() - need - kStreamSlack
            ? std::numeric_limits<std::size_t>::max()
            : need + h.data_bytes + kStreamSlack;
    append_up_to(f, buf, limit - buf.size(), path);
    if (buf.size() == limit && limit - need > h.data_bytes) {
      fail(path, "trailing data: expected " + std::to_string(h.data_bytes) +
                     " bytes, found at least " + std::to_string(limit - need));
    }
    return parse_npy(buf, want, path);
  } catch (const std::bad_alloc&) {
    fail(path, "file does not fit in memory");
  } catch (const std::length_error&) {
    fail(path, "file does not fit in memory");
  }
}

NpyMatrix to_matrix(Decoded&& d) {
  NpyMatrix m;
  m.rows = d.header.shape[0];
  m.cols = d.header.shape[1];
  m.data = std::move(d.data);
  return m;
}

NpyArray to_array(Decoded&& d) {
  NpyArray a;
  a.shape = std::move(d.header.shape);
  a.data = std::move(d.data);
  return a;
}

}  // namespace

NpyMatrix parse_npy_matrix(const std::string& bytes, const std::string& name) {
  return to_matrix(parse_npy(bytes, Want::kMatrix, name));
}

NpyMatrix read_npy_matrix(const std::string& path) {
  return to_matrix(read_npy(path, Want::kMatrix));
}

NpyArray parse_npy_array(const std::string& bytes, const std::string& name) {
  return to_array(parse_npy(bytes, Want::kArray, name));
}

NpyArray read_npy_array(const std::string& path) {
  return to_array(read_npy(path, Want::kArray));
}

}  // namespace rnnlyap
