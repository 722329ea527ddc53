// Strict readers for NumPy .npy files holding a real matrix or N-dimensional array (see
// rnnlyap/npy.hpp): the preamble and header (io/npy_header.hpp), then the data, decoded to float64
// in the order the caller wants and checked to be finite.
//
// Nothing here trusts a size read from the file: every length is checked against the bytes that
// are actually present before anything is allocated.
#include "rnnlyap/npy.hpp"

#include <fcntl.h>
#include <unistd.h>

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
#include "io/npy_columns.hpp"
#include "io/npy_header.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap {
namespace {

/// Bytes read from a file at a time (a multiple of every item size).
constexpr std::size_t kChunk = std::size_t{1} << 22;
/// How far past the expected end a non-seekable stream is read to report trailing data.
constexpr std::size_t kStreamSlack = std::size_t{1} << 16;

using detail::fail;
using io::HeaderInfo;
using io::Preamble;
using io::Want;

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
  const Preamble p = io::parse_preamble(all, name);
  io::check_header_fits(p, all.size() - p.prefix_len, name);
  Decoded d;
  d.header = io::parse_header(all.substr(p.prefix_len, p.header_len), p.major, want, name);
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

/// An .npy file opened, its preamble and header read incrementally (lengths taken from the file
/// are checked against what is there).
struct OpenedNpy {
  File file;
  std::error_code ec;  ///< from reading the file's status
  std::filesystem::file_status status;
  std::string bytes;  ///< the preamble and header
  HeaderInfo header;
  std::size_t data_offset = 0;
};

OpenedNpy open_npy(const std::string& path, Want want) {
  namespace fs = std::filesystem;
  OpenedNpy o;
  o.status = fs::status(path, o.ec);
  if (!o.ec && fs::is_directory(o.status)) fail(path, "cannot open: " + errno_text(EISDIR));
  errno = 0;
  o.file.reset(std::fopen(path.c_str(), "rb"));
  if (!o.file) fail(path, "cannot open: " + errno_text(errno != 0 ? errno : ENOENT));
  std::string& buf = o.bytes;
  append_up_to(o.file.get(), buf, 12, path);
  const Preamble p = io::parse_preamble(buf, path);
  o.data_offset = p.prefix_len + p.header_len;
  if (buf.size() < o.data_offset) append_up_to(o.file.get(), buf, o.data_offset - buf.size(), path);
  io::check_header_fits(p, buf.size() - p.prefix_len, path);
  o.header = io::parse_header(std::string_view(buf).substr(p.prefix_len, p.header_len), p.major,
                              want, path);
  return o;
}

Decoded read_npy(const std::string& path, Want want) {
  namespace fs = std::filesystem;
  try {
    OpenedNpy o = open_npy(path, want);
    std::FILE* f = o.file.get();
    std::error_code& ec = o.ec;
    std::string& buf = o.bytes;
    const HeaderInfo& h = o.header;
    const std::size_t need = o.data_offset;

    if (!ec && fs::is_regular_file(o.status)) {
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

namespace io {

NpyColumns::NpyColumns(const std::string& path) : path_(path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(fs::status(path, ec)) && !ec && fs::exists(path, ec))
    fail(path, "not a regular file (one network over many ranks reads its weights in pieces)");
  const OpenedNpy o = open_npy(path, Want::kMatrix);
  h_ = o.header;
  data_offset_ = o.data_offset;
  const std::size_t need = data_offset_;
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec || size < need) fail(path, "cannot read its size");
  check_data_size(h_, static_cast<std::size_t>(size) - need, path);
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail(path, "cannot open: " + errno_text(errno));
}

NpyColumns::~NpyColumns() {
  if (fd_ >= 0) ::close(fd_);
}

void NpyColumns::columns(std::size_t c0, std::size_t c1, double* out) const {
  const std::size_t r = rows(), n = cols(), width = c1 - c0, item = h_.item;
  if (c0 > c1 || c1 > n) throw std::logic_error("NpyColumns: columns out of range");
  // Fortran order: the columns are one run of bytes; C order: a run per row.
  const std::size_t runs = h_.fortran ? 1 : r, run = (h_.fortran ? r * width : width) * item;
  std::vector<unsigned char> bytes(run);
  for (std::size_t k = 0; k < runs; ++k) {
    const std::size_t at = data_offset_ + (h_.fortran ? c0 * r : k * n + c0) * item;
    std::size_t got = 0;
    while (got < run) {
      const ssize_t m = ::pread(fd_, bytes.data() + got, run - got, static_cast<off_t>(at + got));
      if (m < 0 && errno == EINTR) continue;
      if (m <= 0)
        fail(path_, m == 0 ? std::string("truncated data") : "cannot read: " + errno_text(errno));
      got += static_cast<std::size_t>(m);
    }
    for (std::size_t e = 0; e < run / item; ++e) {
      const std::size_t row = h_.fortran ? e % r : k, col = h_.fortran ? e / r : e;
      out[col * r + row] = load(bytes.data() + e * item, h_.float32);
    }
  }
  // The first non-finite entry row by row, as read_npy_matrix names it.
  for (std::size_t row = 0; row < r; ++row)
    for (std::size_t col = 0; col < width; ++col) {
      const double x = out[col * r + row];
      if (std::isfinite(x)) continue;
      fail(path_, std::string("non-finite value ") +
                      (std::isnan(x) ? "NaN"
                       : x > 0       ? "inf"
                                     : "-inf") +
                      " at row " + std::to_string(row) + ", column " + std::to_string(c0 + col) +
                      " (0-based)");
    }
}

}  // namespace io
}  // namespace rnnlyap
