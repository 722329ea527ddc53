// The strict .npy header parser (io/npy_header.hpp). Nothing here trusts a size read from the
// file: the header length is checked against the bytes actually present before it is parsed.
#include "io/npy_header.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "io/file_errors.hpp"

namespace rnnlyap::io {
namespace {

constexpr std::string_view kMagic{"\x93NUMPY", 6};
/// Headers longer than this are refused (NumPy itself refuses more than 10000 bytes by default).
constexpr std::size_t kMaxHeaderLen = std::size_t{1} << 20;
/// Deepest nesting of tuples and lists accepted in the header.
constexpr int kMaxNesting = 32;
using detail::fail;
using detail::printable;

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

std::string too_large(const HeaderInfo& info) {
  return std::string(info.noun()) + " of shape " + info.shape_text + " is too large";
}

/// The three values of the header's dict; any other key, or one given twice, is refused.
struct HeaderValues {
  const PyValue* descr = nullptr;
  const PyValue* fortran = nullptr;
  const PyValue* shape = nullptr;
};

HeaderValues find_values(const std::vector<std::pair<std::string, PyValue>>& entries,
                         const std::string& name) {
  HeaderValues v;
  for (const auto& [key, value] : entries) {
    const PyValue** slot = key == "descr"           ? &v.descr
                           : key == "fortran_order" ? &v.fortran
                           : key == "shape"         ? &v.shape
                                                    : nullptr;
    if (slot == nullptr)
      fail(name, "malformed header: unknown key '" + printable(key, 40, true) + "'");
    if (*slot != nullptr)
      fail(name, "malformed header: duplicate key '" + printable(key, 40, true) + "'");
    *slot = &value;
  }
  if (v.descr == nullptr) fail(name, "malformed header: missing key 'descr'");
  if (v.fortran == nullptr) fail(name, "malformed header: missing key 'fortran_order'");
  if (v.shape == nullptr) fail(name, "malformed header: missing key 'shape'");
  return v;
}

/// The element type: '<f8' or '<f4' only.
void read_dtype(const PyValue& descr, HeaderInfo& info, const std::string& name) {
  static const std::string kExpected = "(expected float64 '<f8' or float32 '<f4')";
  if (descr.kind == PyValue::Kind::kList) {
    fail(name, "unsupported dtype: structured array " + kExpected);
  }
  if (descr.kind != PyValue::Kind::kStr) fail(name, "malformed header: 'descr' is not a string");
  if (descr.str == "<f8") {
    info.float32 = false;
    info.item = 8;
  } else if (descr.str == "<f4") {
    info.float32 = true;
    info.item = 4;
  } else {
    fail(name, "unsupported dtype '" + printable(descr.str, 40, true) + "' " + kExpected);
  }
}

/// The dimensions: a tuple of non-negative integers, of the rank the reader wants, none zero.
void read_shape(const PyValue& shape, HeaderInfo& info, const std::string& name) {
  const bool shape_ok = shape.kind == PyValue::Kind::kTuple &&
                        std::all_of(shape.items.begin(), shape.items.end(),
                                    [](const PyValue& v) { return v.kind == PyValue::Kind::kInt; });
  if (!shape_ok) fail(name, "malformed header: 'shape' is not a tuple of integers");
  const std::string shape_text = format_shape(shape);
  for (const PyValue& d : shape.items) {
    if (d.negative && (d.mag != 0 || d.overflow)) {
      fail(name, "malformed header: negative dimension in shape " + shape_text);
    }
  }
  const std::size_t rank = shape.items.size();
  if (info.want == Want::kMatrix && rank != 2) {
    fail(name, "expected a 2-D matrix, got a " + std::to_string(rank) + "-D array of shape " +
                   shape_text);
  }
  if (info.want == Want::kArray && rank == 0) {
    fail(name, "expected an array of at least one dimension, got a 0-D array of shape ()");
  }
  if (rank > kMaxRank) {
    fail(name, "array of shape " + shape_text + " has " + std::to_string(rank) +
                   " dimensions (at most " + std::to_string(kMaxRank) + " are supported)");
  }
  info.shape_text = shape_text;
  constexpr std::uint64_t kMaxSize = std::numeric_limits<std::size_t>::max();
  for (const PyValue& d : shape.items) {
    if (d.overflow || d.mag > kMaxSize) fail(name, too_large(info));
    info.shape.push_back(static_cast<std::size_t>(d.mag));
  }
  if (std::find(info.shape.begin(), info.shape.end(), std::size_t{0}) != info.shape.end()) {
    fail(name, std::string(info.noun()) + " is empty (shape " + shape_text + ")");
  }
}

/// The number of elements and of data bytes, refusing sizes that do not fit in a size_t.
void count_elements(HeaderInfo& info, const std::string& name) {
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  info.count = 1;
  for (const std::size_t d : info.shape) {
    if (info.count > kMax / d) fail(name, too_large(info));
    info.count *= d;
  }
  if (info.count > kMax / info.item) fail(name, too_large(info));
  info.data_bytes = info.count * info.item;
}

}  // namespace

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

HeaderInfo parse_header(std::string_view header, int major, Want want, const std::string& name) {
  if (header.empty() || header.back() != '\n') {
    fail(name, "malformed header: not terminated by a newline");
  }
  HeaderParser parser(header, major, name);
  const auto entries = parser.parse_dict();
  const HeaderValues v = find_values(entries, name);
  HeaderInfo info;
  info.want = want;
  read_dtype(*v.descr, info, name);
  if (v.fortran->kind != PyValue::Kind::kBool) {
    fail(name, "malformed header: 'fortran_order' is not True or False");
  }
  info.fortran = v.fortran->boolean;
  read_shape(*v.shape, info, name);
  count_elements(info, name);
  return info;
}

}  // namespace rnnlyap::io
