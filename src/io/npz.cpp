// A strict reader and a writer for NumPy .npz archives (see rnnlyap/npy.hpp).
//
// An .npz file is a ZIP archive (PKWARE's APPNOTE.TXT) whose members are .npy files named
// "<key>.npy". The layout, all integers little-endian:
//
//   [local file header, member data] ... [central directory entries]
//   [ZIP64 end of central directory record] [ZIP64 end of central directory locator]  (optional)
//   [end of central directory record, with a comment of up to 65535 bytes]
//
// The end of central directory record (EOCD) is found by scanning backwards from the end of the
// file; it gives the number of central directory entries and the offset and size of the central
// directory. When some of these do not fit in its 16- and 32-bit fields, they are saturated
// (0xFFFF, 0xFFFFFFFF) and the true values are in the ZIP64 EOCD record, found through the ZIP64
// locator just before the EOCD. Each central directory entry gives a member's name, compression
// method, CRC-32, sizes and the offset of its local header; saturated sizes and offsets are again
// in a ZIP64 extra field (tag 0x0001) holding, in this order, only the saturated ones among the
// uncompressed size, compressed size, local header offset and disk number. A local header repeats
// the name and method (and, unless general purpose flag bit 3 says they follow the data in a data
// descriptor, the CRC-32 and sizes; Python puts both sizes in a ZIP64 extra field there whenever
// it writes one); the member's data follows it.
//
// Python's zipfile (which np.savez uses, with force_zip64=True) writes the local header, the data,
// then the central directory and the end records contiguously. This reader insists on that: the
// central directory must end where the end records begin, members may not overlap each other or
// the central directory, and every size is checked against the bytes actually present before
// anything is allocated. Deflated data is inflated incrementally, so memory grows only with the
// output actually produced, and never past the size the central directory claims (whose total is
// capped at kMaxTotalUncompressed).
#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "core/memory_limit.hpp"
#include "io/file_errors.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/npy.hpp"

namespace rnnlyap {
namespace {

/// The most bytes all members of an archive may inflate to, together.
constexpr std::uint64_t kMaxTotalUncompressed = std::uint64_t{16} << 30;
/// The largest archive accepted from a pipe or device (which has to be read into memory).
constexpr std::uint64_t kMaxStreamBytes = std::uint64_t{17} << 30;
/// Bytes read or inflated at a time.
constexpr std::size_t kChunk = std::size_t{1} << 20;

constexpr std::uint32_t kSigLocal = 0x04034b50;         // "PK\3\4"
constexpr std::uint32_t kSigCentral = 0x02014b50;       // "PK\1\2"
constexpr std::uint32_t kSigEocd = 0x06054b50;          // "PK\5\6"
constexpr std::uint32_t kSigZip64Eocd = 0x06064b50;     // "PK\6\6"
constexpr std::uint32_t kSigZip64Locator = 0x07064b50;  // "PK\6\7"
constexpr std::size_t kLocalSize = 30;                  // fixed part of a local header
constexpr std::size_t kCentralSize = 46;                // fixed part of a central directory entry
constexpr std::size_t kEocdSize = 22;                   // EOCD without its comment
constexpr std::size_t kZip64LocatorSize = 20;
constexpr std::size_t kZip64EocdSize = 56;  // ZIP64 EOCD record without extensible data
constexpr std::size_t kMaxComment = 0xFFFF;
constexpr std::uint16_t kZip64ExtraTag = 0x0001;
constexpr std::uint16_t kSat16 = 0xFFFF;
constexpr std::uint32_t kSat32 = 0xFFFFFFFF;

constexpr std::uint16_t kFlagEncrypted = 1u << 0;
constexpr std::uint16_t kFlagDataDescriptor = 1u << 3;
constexpr std::uint16_t kFlagStrongEncryption = 1u << 6;
constexpr std::uint16_t kFlagMaskedHeaders = 1u << 13;
constexpr std::uint16_t kMethodStored = 0;
constexpr std::uint16_t kMethodDeflate = 8;

/// `s` with control characters (and, with `ascii_only`, bytes above 0x7E) escaped as \xNN, so
/// that a message stays on one line; at most `max_len` bytes of `s` are shown. (The .npy reader
/// escapes names the same way.)
using detail::fail;
using detail::printable;

std::string hex32(std::uint32_t v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) out += kHex[(v >> shift) & 0xF];
  return out;
}

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

std::uint16_t u16(std::string_view b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) |
                                    static_cast<unsigned char>(b[at + 1]) << 8);
}

std::uint32_t u32(std::string_view b, std::size_t at) {
  return static_cast<std::uint32_t>(u16(b, at)) | static_cast<std::uint32_t>(u16(b, at + 2)) << 16;
}

std::uint64_t u64(std::string_view b, std::size_t at) {
  return static_cast<std::uint64_t>(u32(b, at)) | static_cast<std::uint64_t>(u32(b, at + 4)) << 32;
}

// ---------------------------------------------------------------------------------------------
// Random access to the archive's bytes.

class Source {
 public:
  explicit Source(const std::string& name) : name_(name) {}
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;
  virtual ~Source() = default;

  virtual std::uint64_t size() const = 0;

  /// Reads the `n` bytes at `offset` into `dst`; `what` names them in the message if they lie
  /// outside the archive.
  void read(std::uint64_t offset, char* dst, std::size_t n, const std::string& what) {
    if (offset > size() || n > size() - offset) {
      fail(name_, what + " (offset " + std::to_string(offset) + ", " + std::to_string(n) +
                      " bytes) lies outside the " + std::to_string(size()) + "-byte archive");
    }
    read_within(offset, dst, n);
  }

  std::string read(std::uint64_t offset, std::size_t n, const std::string& what) {
    if (offset > size() || n > size() - offset) read(offset, nullptr, n, what);  // throws
    std::string out(n, '\0');
    read(offset, out.data(), n, what);
    return out;
  }

  const std::string& name() const { return name_; }

 protected:
  virtual void read_within(std::uint64_t offset, char* dst, std::size_t n) = 0;

 private:
  const std::string& name_;
};

class MemorySource final : public Source {
 public:
  MemorySource(std::string_view bytes, const std::string& name) : Source(name), bytes_(bytes) {}
  std::uint64_t size() const override { return bytes_.size(); }

 protected:
  void read_within(std::uint64_t offset, char* dst, std::size_t n) override {
    std::copy_n(bytes_.data() + offset, n, dst);
  }

 private:
  std::string_view bytes_;
};

class FileSource final : public Source {
 public:
  FileSource(std::FILE* f, std::uint64_t size, const std::string& name)
      : Source(name), f_(f), size_(size) {}
  std::uint64_t size() const override { return size_; }

 protected:
  void read_within(std::uint64_t offset, char* dst, std::size_t n) override {
    if (n == 0) return;
    errno = 0;
    if (offset > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()) ||
        ::fseeko(f_, static_cast<off_t>(offset), SEEK_SET) != 0) {
      fail(name(), "cannot read: " + errno_text(errno != 0 ? errno : EIO));
    }
    std::size_t got = 0;
    while (got < n) {
      errno = 0;
      const std::size_t k = std::fread(dst + got, 1, n - got, f_);
      if (k == 0) {
        if (std::ferror(f_) != 0) {
          fail(name(), "cannot read: " + errno_text(errno != 0 ? errno : EIO));
        }
        fail(name(), "unexpected end of file (the file shrank while it was read)");
      }
      got += k;
    }
  }

 private:
  std::FILE* f_;
  std::uint64_t size_;
};

// ---------------------------------------------------------------------------------------------
// End records.

struct Directory {
  std::uint64_t entries = 0;
  std::uint64_t offset = 0;  ///< of the central directory
  std::uint64_t size = 0;    ///< of the central directory
};

/// What an archive may start with: a local header, or for an archive without members an end
/// record.
constexpr std::array<std::string_view, 3> kStartSignatures = {std::string_view("PK\x03\x04", 4),
                                                              std::string_view("PK\x06\x06", 4),
                                                              std::string_view("PK\x05\x06", 4)};

/// Checks the first bytes, so that something that is not a ZIP archive gets a clear message.
void check_signature(Source& src) {
  const std::string& name = src.name();
  if (src.size() == 0) fail(name, "not a ZIP archive (file is empty)");
  const std::string start = src.read(
      0, static_cast<std::size_t>(std::min<std::uint64_t>(src.size(), 6)), "start of file");
  if (start == std::string_view("\x93NUMPY", 6)) {
    fail(name, "not a ZIP archive (this is an .npy file, not an .npz archive)");
  }
  const std::string_view head = std::string_view(start).substr(0, 4);
  const bool zip_like =
      std::any_of(kStartSignatures.begin(), kStartSignatures.end(),
                  [&](std::string_view sig) { return head == sig.substr(0, head.size()); });
  if (!zip_like) fail(name, "not a ZIP archive (bad signature)");
  if (src.size() < kEocdSize) {
    fail(name,
         "truncated ZIP archive (file is only " + std::to_string(src.size()) + " bytes long)");
  }
}

Directory find_directory(Source& src) {
  const std::string& name = src.name();
  const std::uint64_t size = src.size();
  const std::size_t tail_len =
      static_cast<std::size_t>(std::min<std::uint64_t>(size, kEocdSize + kMaxComment));
  const std::uint64_t tail_at = size - tail_len;
  const std::string tail = src.read(tail_at, tail_len, "end of central directory record");

  // The EOCD is the last signature whose comment runs exactly to the end of the file.
  std::size_t at = tail_len - kEocdSize + 1;
  bool found = false;
  while (at-- > 0) {
    if (u32(tail, at) == kSigEocd && u16(tail, at + 20) == tail_len - at - kEocdSize) {
      found = true;
      break;
    }
  }
  if (!found) {
    fail(name, "truncated or corrupt ZIP archive (no end of central directory record)");
  }
  const std::uint64_t eocd_at = tail_at + at;
  const std::uint16_t disk = u16(tail, at + 4);
  const std::uint16_t dir_disk = u16(tail, at + 6);
  const std::uint16_t disk_entries = u16(tail, at + 8);
  const std::uint16_t entries = u16(tail, at + 10);
  const std::uint32_t dir_size = u32(tail, at + 12);
  const std::uint32_t dir_offset = u32(tail, at + 16);

  Directory d;
  std::uint64_t dir_end = eocd_at;
  if (eocd_at >= kZip64LocatorSize &&
      u32(src.read(eocd_at - kZip64LocatorSize, 4, "ZIP64 end of central directory locator"), 0) ==
          kSigZip64Locator) {
    const std::uint64_t loc_at = eocd_at - kZip64LocatorSize;
    const std::string loc =
        src.read(loc_at, kZip64LocatorSize, "ZIP64 end of central directory locator");
    const std::uint32_t z_disk = u32(loc, 4);
    const std::uint64_t z_at = u64(loc, 8);
    const std::uint32_t disks = u32(loc, 16);
    if (z_disk != 0 || disks > 1) fail(name, "multi-disk ZIP archives are not supported");
    if (z_at > loc_at || loc_at - z_at < kZip64EocdSize) {
      fail(name, "corrupt ZIP64 end of central directory locator (record offset " +
                     std::to_string(z_at) + ")");
    }
    const std::string rec = src.read(z_at, kZip64EocdSize, "ZIP64 end of central directory record");
    if (u32(rec, 0) != kSigZip64Eocd) {
      fail(name, "corrupt ZIP64 end of central directory record (bad signature)");
    }
    if (u64(rec, 4) != loc_at - z_at - 12) {
      fail(name, "corrupt ZIP64 end of central directory record (its size, " +
                     std::to_string(u64(rec, 4)) + " bytes, does not reach the locator)");
    }
    if (u32(rec, 16) != 0 || u32(rec, 20) != 0 || u64(rec, 24) != u64(rec, 32)) {
      fail(name, "multi-disk ZIP archives are not supported");
    }
    d.entries = u64(rec, 32);
    d.size = u64(rec, 40);
    d.offset = u64(rec, 48);
    // The 16- and 32-bit fields must be saturated or agree with the ZIP64 ones.
    const bool agree = (disk == kSat16 || disk == 0) && (dir_disk == kSat16 || dir_disk == 0) &&
                       (disk_entries == kSat16 || disk_entries == d.entries) &&
                       (entries == kSat16 || entries == d.entries) &&
                       (dir_size == kSat32 || dir_size == d.size) &&
                       (dir_offset == kSat32 || dir_offset == d.offset);
    if (!agree) {
      fail(name,
           "corrupt ZIP archive (the end of central directory record and the ZIP64 record "
           "disagree)");
    }
    dir_end = z_at;
  } else {
    if (disk != 0 || dir_disk != 0 || disk_entries != entries) {
      fail(name, "multi-disk ZIP archives are not supported");
    }
    d.entries = entries;
    d.size = dir_size;
    d.offset = dir_offset;
  }
  if (d.offset > dir_end || d.size != dir_end - d.offset) {
    fail(name, "corrupt ZIP archive (the central directory, " + std::to_string(d.size) +
                   " bytes at offset " + std::to_string(d.offset) + ", does not end at offset " +
                   std::to_string(dir_end) + " where the end records begin)");
  }
  if (d.entries > d.size / kCentralSize) {
    fail(name, "corrupt ZIP archive (a central directory of " + std::to_string(d.size) +
                   " bytes cannot hold " + std::to_string(d.entries) + " entries)");
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// Central directory and local headers.

struct Member {
  std::string name;   ///< as stored (bytes)
  std::string label;  ///< "member '<name>'", escaped, for messages
  std::uint16_t flags = 0;
  std::uint16_t method = 0;
  std::uint32_t crc = 0;
  std::uint64_t compressed = 0;
  std::uint64_t uncompressed = 0;
  std::uint64_t header_at = 0;  ///< offset of the local header
  std::uint64_t data_at = 0;    ///< offset of the data, from the local header
};

/// Finds the extra field with tag `tag` in `extra`: returns whether there is one and sets `out`
/// to its contents. Throws if the extra fields are malformed or the tag appears twice.
bool find_extra(std::string_view extra, std::uint16_t tag, std::string_view& out,
                const std::string& name, const std::string& where) {
  bool found = false;
  std::size_t at = 0;
  while (at < extra.size()) {
    if (extra.size() - at < 4) fail(name, where + ": malformed extra field");
    const std::uint16_t id = u16(extra, at);
    const std::uint16_t len = u16(extra, at + 2);
    if (extra.size() - at - 4 < len) fail(name, where + ": malformed extra field");
    if (id == tag) {
      if (found) fail(name, where + ": duplicate ZIP64 extra field");
      found = true;
      out = extra.substr(at + 4, len);
    }
    at += 4 + std::size_t{len};
  }
  return found;
}

const char* method_name(std::uint16_t method) {
  switch (method) {
    case 1:
      return " (shrink)";
    case 6:
      return " (implode)";
    case 9:
      return " (deflate64)";
    case 12:
      return " (bzip2)";
    case 14:
      return " (LZMA)";
    case 93:
      return " (Zstandard)";
    case 95:
      return " (XZ)";
    case 98:
      return " (PPMd)";
    default:
      return "";
  }
}

std::vector<Member> read_directory(Source& src, const Directory& d) {
  const std::string& name = src.name();
  const std::string dir = src.read(d.offset, static_cast<std::size_t>(d.size), "central directory");
  std::vector<Member> members;
  members.reserve(static_cast<std::size_t>(d.entries));
  std::size_t at = 0;
  std::uint64_t total = 0;
  for (std::uint64_t i = 0; i < d.entries; ++i) {
    const std::string entry = "central directory entry " + std::to_string(i);
    if (dir.size() - at < kCentralSize) fail(name, entry + " is truncated");
    if (u32(dir, at) != kSigCentral) fail(name, entry + " has a bad signature");
    Member m;
    m.flags = u16(dir, at + 8);
    m.method = u16(dir, at + 10);
    m.crc = u32(dir, at + 16);
    const std::uint32_t compressed = u32(dir, at + 20);
    const std::uint32_t uncompressed = u32(dir, at + 24);
    const std::size_t name_len = u16(dir, at + 28);
    const std::size_t extra_len = u16(dir, at + 30);
    const std::size_t comment_len = u16(dir, at + 32);
    const std::uint16_t disk = u16(dir, at + 34);
    const std::uint32_t header_at = u32(dir, at + 42);
    if (dir.size() - at - kCentralSize < name_len + extra_len + comment_len) {
      fail(name, entry + " is truncated");
    }
    m.name = dir.substr(at + kCentralSize, name_len);
    if (m.name.empty()) fail(name, entry + " has an empty name");
    m.label = "member '" + printable(m.name, 200, true) + "'";
    const std::string_view extra =
        std::string_view(dir).substr(at + kCentralSize + name_len, extra_len);
    at += kCentralSize + name_len + extra_len + comment_len;

    // ZIP64 extra field: the saturated fields, in this order.
    m.uncompressed = uncompressed;
    m.compressed = compressed;
    m.header_at = header_at;
    std::uint64_t disk64 = disk;
    std::string_view z;
    const bool has_z = find_extra(extra, kZip64ExtraTag, z, name, m.label);
    std::size_t z_at = 0;
    const auto take = [&](std::uint64_t& field, std::size_t width) {
      if (!has_z)
        fail(name, m.label +
                       ": a size or offset is saturated but there is no ZIP64 "
                       "extra field");
      if (z.size() - z_at < width) fail(name, m.label + ": ZIP64 extra field is too short");
      field = width == 8 ? u64(z, z_at) : u32(z, z_at);
      z_at += width;
    };
    if (uncompressed == kSat32) take(m.uncompressed, 8);
    if (compressed == kSat32) take(m.compressed, 8);
    if (header_at == kSat32) take(m.header_at, 8);
    if (disk == kSat16) take(disk64, 4);
    if (disk64 != 0) fail(name, "multi-disk ZIP archives are not supported");

    if ((m.flags & (kFlagEncrypted | kFlagStrongEncryption | kFlagMaskedHeaders)) != 0 ||
        m.method == 99) {
      fail(name, m.label + " is encrypted (encrypted archives are not supported)");
    }
    if (m.method != kMethodStored && m.method != kMethodDeflate) {
      fail(name, m.label + " uses compression method " + std::to_string(m.method) +
                     method_name(m.method) + " (only stored and deflate are supported)");
    }
    if (m.method == kMethodStored && m.compressed != m.uncompressed) {
      fail(name, m.label + " is stored, but its compressed size (" + std::to_string(m.compressed) +
                     ") differs from its size (" + std::to_string(m.uncompressed) + ")");
    }
    if (m.uncompressed > kMaxTotalUncompressed - total) {
      fail(name, "archive is too large: its members would take more than " +
                     std::to_string(kMaxTotalUncompressed) + " bytes uncompressed");
    }
    total += m.uncompressed;
    members.push_back(std::move(m));
  }
  if (at != dir.size()) {
    fail(name, "corrupt ZIP archive (" + std::to_string(dir.size() - at) +
                   " unexpected bytes after the last central directory entry)");
  }
  return members;
}

/// Reads the local header of `m`, checks it against the central directory and sets m.data_at.
void read_local_header(Source& src, const Directory& d, Member& m) {
  const std::string& name = src.name();
  const std::string what = m.label + ": local header";
  if (m.header_at > d.offset || d.offset - m.header_at < kLocalSize) {
    fail(name, what + " (offset " + std::to_string(m.header_at) +
                   ") does not lie before the central directory");
  }
  const std::string fixed = src.read(m.header_at, kLocalSize, what);
  if (u32(fixed, 0) != kSigLocal) fail(name, what + " has a bad signature");
  const std::uint16_t flags = u16(fixed, 6);
  const std::uint16_t method = u16(fixed, 8);
  const std::uint32_t crc = u32(fixed, 14);
  const std::uint32_t compressed = u32(fixed, 18);
  const std::uint32_t uncompressed = u32(fixed, 22);
  const std::size_t name_len = u16(fixed, 26);
  const std::size_t extra_len = u16(fixed, 28);
  const std::uint64_t room = d.offset - m.header_at - kLocalSize;
  if (name_len + extra_len > room) {
    fail(name, what + " runs into the central directory");
  }
  const std::string rest = src.read(m.header_at + kLocalSize, name_len + extra_len, what);
  const auto mismatch = [&](const std::string& field) {
    fail(name, what + " does not match the central directory (" + field + ")");
  };
  if (std::string_view(rest).substr(0, name_len) != m.name) mismatch("name");
  if (method != m.method) mismatch("compression method");
  if ((flags & kFlagEncrypted) != (m.flags & kFlagEncrypted)) mismatch("encryption flag");
  if ((flags & kFlagDataDescriptor) == 0) {
    // Sizes and CRC are in the header (otherwise they follow the data; the central directory
    // has them anyway).
    if (crc != m.crc) mismatch("CRC-32");
    std::string_view z;
    const bool has_z =
        find_extra(std::string_view(rest).substr(name_len), kZip64ExtraTag, z, name, what);
    if (has_z && z.size() < 16) fail(name, what + ": ZIP64 extra field is too short");
    if ((uncompressed == kSat32 || compressed == kSat32) && !has_z) {
      fail(name, what + ": a size is saturated but there is no ZIP64 extra field");
    }
    if (uncompressed != kSat32 && uncompressed != m.uncompressed) mismatch("size");
    if (compressed != kSat32 && compressed != m.compressed) mismatch("compressed size");
    if (has_z && (u64(z, 0) != m.uncompressed || u64(z, 8) != m.compressed)) {
      mismatch("ZIP64 sizes");
    }
  }
  m.data_at = m.header_at + kLocalSize + name_len + extra_len;
  if (m.compressed > d.offset - m.data_at) {
    fail(name, m.label + ": data (" + std::to_string(m.compressed) + " bytes at offset " +
                   std::to_string(m.data_at) + ") runs into the central directory");
  }
}

/// Members' local headers and data may not overlap (an overlap is how "zip bombs" reuse data).
void check_no_overlap(const std::vector<Member>& members, const std::string& name) {
  std::vector<const Member*> order;
  order.reserve(members.size());
  for (const Member& m : members) order.push_back(&m);
  std::sort(order.begin(), order.end(),
            [](const Member* a, const Member* b) { return a->header_at < b->header_at; });
  for (std::size_t i = 1; i < order.size(); ++i) {
    const Member& a = *order[i - 1];
    const Member& b = *order[i];
    if (a.data_at + a.compressed > b.header_at) {
      fail(name, "corrupt ZIP archive (" + a.label + " and " + b.label + " overlap)");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Member data.

std::uint32_t crc32_of(const std::string& bytes) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  const auto* p = reinterpret_cast<const Bytef*>(bytes.data());
  std::size_t left = bytes.size();
  while (left > 0) {
    const std::size_t n = std::min(left, kChunk);
    crc = ::crc32(crc, p, static_cast<uInt>(n));
    p += n;
    left -= n;
  }
  return static_cast<std::uint32_t>(crc);
}

struct InflateEnd {
  void operator()(z_stream* zs) const noexcept { ::inflateEnd(zs); }
};

std::string inflate_member(Source& src, const Member& m) {
  const std::string& name = src.name();
  z_stream zs{};
  if (::inflateInit2(&zs, -MAX_WBITS) != Z_OK) fail(name, "cannot initialise zlib");
  const std::unique_ptr<z_stream, InflateEnd> guard(&zs);

  const std::size_t limit = static_cast<std::size_t>(m.uncompressed);
  std::string out;
  std::size_t produced = 0;
  std::string in(static_cast<std::size_t>(std::min<std::uint64_t>(m.compressed, kChunk)), '\0');
  std::uint64_t in_at = m.data_at;
  std::uint64_t in_left = m.compressed;
  unsigned char sink = 0;
  for (;;) {
    if (zs.avail_in == 0 && in_left > 0) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(in_left, kChunk));
      src.read(in_at, in.data(), n, m.label + ": data");
      in_at += n;
      in_left -= n;
      zs.next_in = reinterpret_cast<Bytef*>(in.data());
      zs.avail_in = static_cast<uInt>(n);
    }
    if (produced == out.size() && out.size() < limit) {  // grow with what is produced
      out.resize(std::min(limit, std::max(out.size() * 2, kChunk)));
    }
    const bool to_sink = produced == out.size();
    if (to_sink) {  // room for one byte too many, to detect output beyond the claimed size
      zs.next_out = &sink;
      zs.avail_out = 1;
    } else {
      zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
      zs.avail_out = static_cast<uInt>(std::min(out.size() - produced, kChunk));
    }
    const uInt room = zs.avail_out;
    const int ret = ::inflate(&zs, Z_NO_FLUSH);
    const std::size_t made = room - zs.avail_out;
    if (to_sink && made > 0) {
      fail(name, m.label + " inflates to more than the " + std::to_string(m.uncompressed) +
                     " bytes the central directory gives as its size");
    }
    produced += made;
    if (ret == Z_STREAM_END) break;
    if (ret == Z_OK) continue;
    if (ret == Z_BUF_ERROR) fail(name, m.label + ": deflate data is truncated");
    if (ret == Z_MEM_ERROR) fail(name, m.label + ": out of memory while inflating");
    fail(name, m.label + ": corrupt deflate data" +
                   (zs.msg != nullptr ? " (" + printable(zs.msg, 100, true) + ")" : ""));
  }
  if (zs.avail_in != 0 || in_left != 0) {
    fail(name, m.label + ": " + std::to_string(zs.avail_in + in_left) +
                   " bytes of compressed data after the end of the deflate stream");
  }
  if (produced != limit) {
    fail(name, m.label + " inflates to " + std::to_string(produced) +
                   " bytes, but the central directory gives its size as " +
                   std::to_string(m.uncompressed));
  }
  return out;
}

/// The uncompressed bytes of member `m`, CRC-checked.
std::string extract(Source& src, const Member& m) {
  const std::string& name = src.name();
  std::string bytes;
  try {
    if (m.uncompressed > std::numeric_limits<std::size_t>::max()) throw std::length_error("");
    bytes = m.method == kMethodStored
                ? src.read(m.data_at, static_cast<std::size_t>(m.compressed), m.label + ": data")
                : inflate_member(src, m);
  } catch (const std::bad_alloc&) {
    fail(name, m.label + " does not fit in memory");
  } catch (const std::length_error&) {
    fail(name, m.label + " does not fit in memory");
  }
  const std::uint32_t crc = crc32_of(bytes);
  if (crc != m.crc) {
    fail(name, m.label + ": CRC-32 mismatch (the archive says " + hex32(m.crc) +
                   ", the data gives " + hex32(crc) + ")");
  }
  return bytes;
}

std::map<std::string, NpyArray> parse(Source& src) {
  const std::string& name = src.name();
  check_signature(src);
  const Directory d = find_directory(src);
  std::vector<Member> members = read_directory(src, d);

  // Keys first: np.load drops a ".npy" suffix.
  std::map<std::string, const Member*> keys;
  for (const Member& m : members) {
    const std::string_view suffix = ".npy";
    const std::string key =
        m.name.size() >= suffix.size() && std::string_view(m.name).ends_with(suffix)
            ? m.name.substr(0, m.name.size() - suffix.size())
            : m.name;
    const auto [it, inserted] = keys.emplace(key, &m);
    if (!inserted) {
      fail(name, "duplicate key '" + printable(key, 200, true) + "' (" + it->second->label +
                     " and " + m.label + ")");
    }
  }
  for (Member& m : members) read_local_header(src, d, m);
  check_no_overlap(members, name);

  std::map<std::string, NpyArray> out;
  for (const auto& [key, m] : keys) {
    const std::string bytes = extract(src, *m);
    out.emplace(key, parse_npy_array(bytes, name + ": " + m->label));
  }
  return out;
}

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

}  // namespace

std::map<std::string, NpyArray> parse_npz(const std::string& bytes, const std::string& name) {
  MemorySource src(bytes, name);
  try {
    return parse(src);
  } catch (const std::bad_alloc&) {
    fail(name, "archive does not fit in memory");
  } catch (const std::length_error&) {
    fail(name, "archive does not fit in memory");
  }
}

std::map<std::string, NpyArray> read_npz(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!ec && fs::is_directory(status)) fail(path, "cannot open: " + errno_text(EISDIR));
  errno = 0;
  const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) fail(path, "cannot open: " + errno_text(errno != 0 ? errno : ENOENT));
  std::FILE* f = file.get();

  try {
    if (!ec && fs::is_regular_file(status)) {
      const std::uintmax_t size = fs::file_size(path, ec);
      if (ec) fail(path, "cannot read: " + ec.message());
      FileSource src(f, size, path);
      return parse(src);
    }
    // A pipe or device: ZIP needs random access, so read it all, a chunk at a time (so memory
    // grows only with what is there), stopping early if it does not start like a ZIP archive.
    // At most what this process may allocate, so a stream that never ends stops with a message.
    const std::uint64_t avail = detail::available_memory_bytes("");
    const std::uint64_t max_bytes = avail > 0 ? std::min(kMaxStreamBytes, avail) : kMaxStreamBytes;
    std::string bytes;
    for (;;) {
      const std::size_t old = bytes.size();
      const std::size_t want = old < 6 ? 6 - old : kChunk;
      bytes.resize(old + want);
      errno = 0;
      const std::size_t got = std::fread(bytes.data() + old, 1, want, f);
      bytes.resize(old + got);
      if (got == 0) {
        if (std::ferror(f) != 0) fail(path, "cannot read: " + errno_text(errno != 0 ? errno : EIO));
        break;
      }
      const std::string_view head = std::string_view(bytes).substr(0, 4);
      if (old < 6 && bytes.size() >= 4 &&
          std::find(kStartSignatures.begin(), kStartSignatures.end(), head) ==
              kStartSignatures.end()) {
        break;  // not a ZIP archive: parse() says what it is
      }
      if (bytes.size() > max_bytes) {
        fail(path, "archive is too large (more than " + std::to_string(max_bytes) +
                       " bytes read from a stream)");
      }
    }
    MemorySource src(bytes, path);
    return parse(src);
  } catch (const std::bad_alloc&) {
    fail(path, "archive does not fit in memory");
  } catch (const std::length_error&) {
    fail(path, "archive does not fit in memory");
  }
}

// --- writing ---------------------------------------------------------------------------------
//
// An archive of stored members, each "<name>.npy" holding an .npy file of format 1.0: the magic
// "\x93NUMPY", the version bytes 1 0, the header's length (uint16) and the header, a Python dict
// literal padded with spaces and ended by '\n' so that the data starts at a multiple of 64 bytes.
// Then the central directory and the end record; no ZIP64, hence the 4 GiB limit.

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

std::string npy_file(const NpzMember& m) {
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
  return out + header + m.data;
}

void put16(std::string& s, std::uint32_t v) {
  s += static_cast<char>(v & 0xFF);
  s += static_cast<char>((v >> 8) & 0xFF);
}
void put32(std::string& s, std::uint32_t v) {
  put16(s, v & 0xFFFF);
  put16(s, v >> 16);
}

}  // namespace

NpzMember npz_float64(std::string name, std::vector<std::size_t> shape,
                      std::span<const double> values) {
  return {std::move(name), "<f8", std::move(shape), le_bytes(values)};
}
NpzMember npz_int64(std::string name, std::vector<std::size_t> shape,
                    std::span<const std::int64_t> values) {
  return {std::move(name), "<i8", std::move(shape), le_bytes(values)};
}
NpzMember npz_uint64(std::string name, std::vector<std::size_t> shape,
                     std::span<const std::uint64_t> values) {
  return {std::move(name), "<u8", std::move(shape), le_bytes(values)};
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
          le_bytes(std::span<const std::uint32_t>(cps))};
}

std::string npy_bytes(const NpzMember& m) {
  const std::size_t width = m.descr.rfind("<U", 0) == 0 ? 4 * std::stoul(m.descr.substr(2)) : 8;
  if (m.data.size() != elements(m.shape) * width)
    throw InvalidInput("the array " + m.name + " has data that does not match its shape");
  return npy_file(m);
}

std::string npz_bytes(const std::vector<NpzMember>& members) {
  std::string out, directory;
  std::vector<std::string> names;
  for (const NpzMember& m : members) {
    if (m.name.empty()) throw InvalidInput("an .npz member needs a name");
    if (std::find(names.begin(), names.end(), m.name) != names.end())
      throw InvalidInput("the .npz member " + m.name + " is given twice");
    names.push_back(m.name);
    const std::size_t width = m.descr.rfind("<U", 0) == 0 ? 4 * std::stoul(m.descr.substr(2)) : 8;
    if (m.data.size() != elements(m.shape) * width)
      throw InvalidInput("the .npz member " + m.name + " has data that does not match its shape");
    const std::string file = npy_file(m);
    const std::string entry = m.name + ".npy";
    if (out.size() + file.size() + entry.size() + 30 >= 0xFFFFFFFFull)
      throw InvalidInput("the .npz archive would exceed 4 GiB");
    const std::uint32_t crc = crc32_of(file), size = static_cast<std::uint32_t>(file.size());
    const std::uint32_t offset = static_cast<std::uint32_t>(out.size());
    // Local header: signature, version 2.0, flags, method 0 (stored), time, date, CRC, sizes,
    // name length, extra length; then the name and the data.
    put32(out, 0x04034b50);
    put16(out, 20);
    put16(out, 0);
    put16(out, 0);
    put16(out, 0);
    put16(out, 0x21);  // 1980-01-01: the archive does not depend on the clock
    put32(out, crc);
    put32(out, size);
    put32(out, size);
    put16(out, static_cast<std::uint32_t>(entry.size()));
    put16(out, 0);
    out += entry;
    out += file;
    // Central directory entry: as the local header, plus made-by version, comment length, disk,
    // attributes and the local header's offset.
    put32(directory, 0x02014b50);
    put16(directory, 20);
    put16(directory, 20);
    put16(directory, 0);
    put16(directory, 0);
    put16(directory, 0);
    put16(directory, 0x21);
    put32(directory, crc);
    put32(directory, size);
    put32(directory, size);
    put16(directory, static_cast<std::uint32_t>(entry.size()));
    put16(directory, 0);
    put16(directory, 0);
    put16(directory, 0);
    put16(directory, 0);
    put32(directory, 0);
    put32(directory, offset);
    directory += entry;
  }
  if (out.size() + directory.size() + 22 >= 0xFFFFFFFFull || members.size() >= 0xFFFF)
    throw InvalidInput("the .npz archive would exceed 4 GiB or 65535 members");
  const std::uint32_t dir_offset = static_cast<std::uint32_t>(out.size());
  out += directory;
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<std::uint32_t>(members.size()));
  put16(out, static_cast<std::uint32_t>(members.size()));
  put32(out, static_cast<std::uint32_t>(directory.size()));
  put32(out, dir_offset);
  put16(out, 0);
  return out;
}

}  // namespace rnnlyap
