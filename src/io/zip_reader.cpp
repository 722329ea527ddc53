// The strict ZIP reader (io/zip.hpp).
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
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
#include "io/zip.hpp"

namespace rnnlyap::io {
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
// Sources.

class MemorySource final : public ZipSource {
 public:
  MemorySource(std::string_view bytes, const std::string& name) : ZipSource(name), bytes_(bytes) {}
  /// Holds the bytes (read from a stream).
  MemorySource(std::string&& owned, const std::string& name)
      : ZipSource(name), owned_(std::move(owned)), bytes_(owned_) {}
  std::uint64_t size() const override { return bytes_.size(); }

 protected:
  void read_within(std::uint64_t offset, char* dst, std::size_t n) override {
    std::copy_n(bytes_.data() + offset, n, dst);
  }

 private:
  std::string owned_;
  std::string_view bytes_;
};

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

class FileSource final : public ZipSource {
 public:
  FileSource(File f, std::uint64_t size, const std::string& name)
      : ZipSource(name), f_(std::move(f)), size_(size) {}
  std::uint64_t size() const override { return size_; }

 protected:
  void read_within(std::uint64_t offset, char* dst, std::size_t n) override {
    if (n == 0) return;
    errno = 0;
    if (offset > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()) ||
        ::fseeko(f_.get(), static_cast<off_t>(offset), SEEK_SET) != 0) {
      fail(name(), "cannot read: " + errno_text(errno != 0 ? errno : EIO));
    }
    std::size_t got = 0;
    while (got < n) {
      errno = 0;
      const std::size_t k = std::fread(dst + got, 1, n - got, f_.get());
      if (k == 0) {
        if (std::ferror(f_.get()) != 0) {
          fail(name(), "cannot read: " + errno_text(errno != 0 ? errno : EIO));
        }
        fail(name(), "unexpected end of file (the file shrank while it was read)");
      }
      got += k;
    }
  }

 private:
  File f_;
  std::uint64_t size_;
};

/// What an archive may start with: a local header, or for an archive without members an end
/// record.
constexpr std::array<std::string_view, 3> kStartSignatures = {std::string_view("PK\x03\x04", 4),
                                                              std::string_view("PK\x06\x06", 4),
                                                              std::string_view("PK\x05\x06", 4)};

/// A pipe or device, read to its end: a chunk at a time (so memory grows only with what is
/// there), stopping early if it does not start like a ZIP archive (read_zip_directory then says
/// what it is), and at most `max_bytes`, so a stream that never ends stops with a message.
std::string read_stream(std::FILE* f, const std::string& path, std::uint64_t max_bytes) {
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
      return bytes;
    }
    const std::string_view head = std::string_view(bytes).substr(0, 4);
    if (old < 6 && bytes.size() >= 4 &&
        std::find(kStartSignatures.begin(), kStartSignatures.end(), head) ==
            kStartSignatures.end()) {
      return bytes;
    }
    if (bytes.size() > max_bytes) {
      fail(path, "archive is too large (more than " + std::to_string(max_bytes) +
                     " bytes read from a stream)");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// End records.

/// Checks the first bytes, so that something that is not a ZIP archive gets a clear message.
void check_signature(ZipSource& src) {
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

/// The end of central directory record's fields.
struct EndRecord {
  std::uint64_t at = 0;  ///< its offset
  std::uint16_t disk = 0, dir_disk = 0, disk_entries = 0, entries = 0;
  std::uint32_t dir_size = 0, dir_offset = 0;
};

/// The central directory's place and number of entries, as the end records give them.
struct Directory {
  std::uint64_t entries = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

/// The EOCD: the last signature whose comment runs exactly to the end of the file.
EndRecord find_end_record(ZipSource& src) {
  const std::uint64_t size = src.size();
  const std::size_t tail_len =
      static_cast<std::size_t>(std::min<std::uint64_t>(size, kEocdSize + kMaxComment));
  const std::uint64_t tail_at = size - tail_len;
  const std::string tail = src.read(tail_at, tail_len, "end of central directory record");
  std::size_t at = tail_len - kEocdSize + 1;
  bool found = false;
  while (at-- > 0) {
    if (u32(tail, at) == kSigEocd && u16(tail, at + 20) == tail_len - at - kEocdSize) {
      found = true;
      break;
    }
  }
  if (!found) {
    fail(src.name(), "truncated or corrupt ZIP archive (no end of central directory record)");
  }
  EndRecord e;
  e.at = tail_at + at;
  e.disk = u16(tail, at + 4);
  e.dir_disk = u16(tail, at + 6);
  e.disk_entries = u16(tail, at + 8);
  e.entries = u16(tail, at + 10);
  e.dir_size = u32(tail, at + 12);
  e.dir_offset = u32(tail, at + 16);
  return e;
}

bool has_zip64_locator(ZipSource& src, const EndRecord& e) {
  return e.at >= kZip64LocatorSize &&
         u32(src.read(e.at - kZip64LocatorSize, 4, "ZIP64 end of central directory locator"), 0) ==
             kSigZip64Locator;
}

/// The offset of the ZIP64 EOCD record, from the locator at `loc_at`.
std::uint64_t read_zip64_locator(ZipSource& src, std::uint64_t loc_at) {
  const std::string& name = src.name();
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
  return z_at;
}

/// The directory as the ZIP64 EOCD record at `z_at` gives it; the EOCD's 16- and 32-bit fields
/// must be saturated or agree with it.
Directory read_zip64_end(ZipSource& src, const EndRecord& e, std::uint64_t z_at,
                         std::uint64_t loc_at) {
  const std::string& name = src.name();
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
  Directory d;
  d.entries = u64(rec, 32);
  d.size = u64(rec, 40);
  d.offset = u64(rec, 48);
  const bool agree = (e.disk == kSat16 || e.disk == 0) &&
                     (e.dir_disk == kSat16 || e.dir_disk == 0) &&
                     (e.disk_entries == kSat16 || e.disk_entries == d.entries) &&
                     (e.entries == kSat16 || e.entries == d.entries) &&
                     (e.dir_size == kSat32 || e.dir_size == d.size) &&
                     (e.dir_offset == kSat32 || e.dir_offset == d.offset);
  if (!agree) {
    fail(name,
         "corrupt ZIP archive (the end of central directory record and the ZIP64 record "
         "disagree)");
  }
  return d;
}

Directory find_directory(ZipSource& src) {
  const std::string& name = src.name();
  const EndRecord e = find_end_record(src);
  Directory d;
  std::uint64_t dir_end = e.at;  // where the end records begin
  if (has_zip64_locator(src, e)) {
    const std::uint64_t loc_at = e.at - kZip64LocatorSize;
    const std::uint64_t z_at = read_zip64_locator(src, loc_at);
    d = read_zip64_end(src, e, z_at, loc_at);
    dir_end = z_at;
  } else {
    if (e.disk != 0 || e.dir_disk != 0 || e.disk_entries != e.entries) {
      fail(name, "multi-disk ZIP archives are not supported");
    }
    d.entries = e.entries;
    d.size = e.dir_size;
    d.offset = e.dir_offset;
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

/// The fields of a central directory entry that a ZIP64 extra field may replace.
struct Saturable {
  std::uint32_t compressed, uncompressed, header_at;
  std::uint16_t disk;
};

/// Sets e's sizes and offset from the entry's fields, or from its ZIP64 extra field where they are
/// saturated (the saturated ones only, in this order); the member must be on disk 0.
void apply_zip64_extra(ZipEntry& e, const Saturable& f, std::string_view extra,
                       const std::string& name) {
  e.uncompressed = f.uncompressed;
  e.compressed = f.compressed;
  e.header_at = f.header_at;
  std::uint64_t disk64 = f.disk;
  std::string_view z;
  const bool has_z = find_extra(extra, kZip64ExtraTag, z, name, e.label);
  std::size_t z_at = 0;
  const auto take = [&](std::uint64_t& field, std::size_t width) {
    if (!has_z)
      fail(name, e.label +
                     ": a size or offset is saturated but there is no ZIP64 "
                     "extra field");
    if (z.size() - z_at < width) fail(name, e.label + ": ZIP64 extra field is too short");
    field = width == 8 ? u64(z, z_at) : u32(z, z_at);
    z_at += width;
  };
  if (f.uncompressed == kSat32) take(e.uncompressed, 8);
  if (f.compressed == kSat32) take(e.compressed, 8);
  if (f.header_at == kSat32) take(e.header_at, 8);
  if (f.disk == kSat16) take(disk64, 4);
  if (disk64 != 0) fail(name, "multi-disk ZIP archives are not supported");
}

/// Refuses encryption, methods other than stored and deflate, and a stored member whose two sizes
/// differ.
void check_supported(const ZipEntry& e, const std::string& name) {
  if ((e.flags & (kFlagEncrypted | kFlagStrongEncryption | kFlagMaskedHeaders)) != 0 ||
      e.method == 99) {
    fail(name, e.label + " is encrypted (encrypted archives are not supported)");
  }
  if (e.method != kMethodStored && e.method != kMethodDeflate) {
    fail(name, e.label + " uses compression method " + std::to_string(e.method) +
                   method_name(e.method) + " (only stored and deflate are supported)");
  }
  if (e.method == kMethodStored && e.compressed != e.uncompressed) {
    fail(name, e.label + " is stored, but its compressed size (" + std::to_string(e.compressed) +
                   ") differs from its size (" + std::to_string(e.uncompressed) + ")");
  }
}

/// Central directory entry `i`, at `at` in `dir`; moves `at` past it.
ZipEntry read_central_entry(std::string_view dir, std::size_t& at, std::uint64_t i,
                            const std::string& name) {
  const std::string entry = "central directory entry " + std::to_string(i);
  if (dir.size() - at < kCentralSize) fail(name, entry + " is truncated");
  if (u32(dir, at) != kSigCentral) fail(name, entry + " has a bad signature");
  ZipEntry e;
  e.flags = u16(dir, at + 8);
  e.method = u16(dir, at + 10);
  e.crc = u32(dir, at + 16);
  const Saturable f{u32(dir, at + 20), u32(dir, at + 24), u32(dir, at + 42), u16(dir, at + 34)};
  const std::size_t name_len = u16(dir, at + 28);
  const std::size_t extra_len = u16(dir, at + 30);
  const std::size_t comment_len = u16(dir, at + 32);
  if (dir.size() - at - kCentralSize < name_len + extra_len + comment_len) {
    fail(name, entry + " is truncated");
  }
  e.name = dir.substr(at + kCentralSize, name_len);
  if (e.name.empty()) fail(name, entry + " has an empty name");
  e.label = "member '" + printable(e.name, 200, true) + "'";
  const std::string_view extra = dir.substr(at + kCentralSize + name_len, extra_len);
  at += kCentralSize + name_len + extra_len + comment_len;
  apply_zip64_extra(e, f, extra, name);
  check_supported(e, name);
  return e;
}

std::vector<ZipEntry> read_directory(ZipSource& src, const Directory& d) {
  const std::string& name = src.name();
  const std::string dir = src.read(d.offset, static_cast<std::size_t>(d.size), "central directory");
  std::vector<ZipEntry> entries;
  entries.reserve(static_cast<std::size_t>(d.entries));
  std::size_t at = 0;
  std::uint64_t total = 0;
  for (std::uint64_t i = 0; i < d.entries; ++i) {
    ZipEntry e = read_central_entry(dir, at, i, name);
    if (e.uncompressed > kMaxTotalUncompressed - total) {
      fail(name, "archive is too large: its members would take more than " +
                     std::to_string(kMaxTotalUncompressed) + " bytes uncompressed");
    }
    total += e.uncompressed;
    entries.push_back(std::move(e));
  }
  if (at != dir.size()) {
    fail(name, "corrupt ZIP archive (" + std::to_string(dir.size() - at) +
                   " unexpected bytes after the last central directory entry)");
  }
  return entries;
}

/// The CRC-32 and sizes of a local header without a data descriptor must be the central
/// directory's (both sizes in a ZIP64 extra field where one is given).
void check_local_sizes(std::string_view fixed, std::string_view extra, const ZipEntry& m,
                       const std::string& name, const std::string& what) {
  const auto mismatch = [&](const std::string& field) {
    fail(name, what + " does not match the central directory (" + field + ")");
  };
  const std::uint32_t crc = u32(fixed, 14);
  const std::uint32_t compressed = u32(fixed, 18);
  const std::uint32_t uncompressed = u32(fixed, 22);
  if (crc != m.crc) mismatch("CRC-32");
  std::string_view z;
  const bool has_z = find_extra(extra, kZip64ExtraTag, z, name, what);
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

/// Reads the local header of `m`, checks it against the central directory (which begins at
/// `dir_at`) and sets m.data_at.
void read_local_header(ZipSource& src, std::uint64_t dir_at, ZipEntry& m) {
  const std::string& name = src.name();
  const std::string what = m.label + ": local header";
  if (m.header_at > dir_at || dir_at - m.header_at < kLocalSize) {
    fail(name, what + " (offset " + std::to_string(m.header_at) +
                   ") does not lie before the central directory");
  }
  const std::string fixed = src.read(m.header_at, kLocalSize, what);
  if (u32(fixed, 0) != kSigLocal) fail(name, what + " has a bad signature");
  const std::uint16_t flags = u16(fixed, 6);
  const std::uint16_t method = u16(fixed, 8);
  const std::size_t name_len = u16(fixed, 26);
  const std::size_t extra_len = u16(fixed, 28);
  const std::uint64_t room = dir_at - m.header_at - kLocalSize;
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
  // Without a data descriptor, the sizes and CRC are in the header (otherwise they follow the
  // data; the central directory has them anyway).
  if ((flags & kFlagDataDescriptor) == 0) {
    check_local_sizes(fixed, std::string_view(rest).substr(name_len), m, name, what);
  }
  m.data_at = m.header_at + kLocalSize + name_len + extra_len;
  if (m.compressed > dir_at - m.data_at) {
    fail(name, m.label + ": data (" + std::to_string(m.compressed) + " bytes at offset " +
                   std::to_string(m.data_at) + ") runs into the central directory");
  }
}

/// Members' local headers and data may not overlap (an overlap is how "zip bombs" reuse data).
void check_no_overlap(const std::vector<ZipEntry>& members, const std::string& name) {
  std::vector<const ZipEntry*> order;
  order.reserve(members.size());
  for (const ZipEntry& m : members) order.push_back(&m);
  std::sort(order.begin(), order.end(),
            [](const ZipEntry* a, const ZipEntry* b) { return a->header_at < b->header_at; });
  for (std::size_t i = 1; i < order.size(); ++i) {
    const ZipEntry& a = *order[i - 1];
    const ZipEntry& b = *order[i];
    if (a.data_at + a.compressed > b.header_at) {
      fail(name, "corrupt ZIP archive (" + a.label + " and " + b.label + " overlap)");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Member data.

struct InflateEnd {
  void operator()(z_stream* zs) const noexcept { ::inflateEnd(zs); }
};

std::string inflate_member(ZipSource& src, const ZipEntry& m) {
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

}  // namespace

void ZipSource::read(std::uint64_t offset, char* dst, std::size_t n, const std::string& what) {
  if (offset > size() || n > size() - offset) {
    fail(name_, what + " (offset " + std::to_string(offset) + ", " + std::to_string(n) +
                    " bytes) lies outside the " + std::to_string(size()) + "-byte archive");
  }
  read_within(offset, dst, n);
}

std::string ZipSource::read(std::uint64_t offset, std::size_t n, const std::string& what) {
  if (offset > size() || n > size() - offset) read(offset, nullptr, n, what);  // throws
  std::string out(n, '\0');
  read(offset, out.data(), n, what);
  return out;
}

std::unique_ptr<ZipSource> zip_in_memory(std::string_view bytes, const std::string& name) {
  return std::make_unique<MemorySource>(bytes, name);
}

std::unique_ptr<ZipSource> zip_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!ec && fs::is_directory(status)) fail(path, "cannot open: " + errno_text(EISDIR));
  errno = 0;
  File file(std::fopen(path.c_str(), "rb"));
  if (!file) fail(path, "cannot open: " + errno_text(errno != 0 ? errno : ENOENT));
  if (!ec && fs::is_regular_file(status)) {
    const std::uintmax_t size = fs::file_size(path, ec);
    if (ec) fail(path, "cannot read: " + ec.message());
    return std::make_unique<FileSource>(std::move(file), size, path);
  }
  const std::uint64_t avail = detail::available_memory_bytes("");
  const std::uint64_t max_bytes = avail > 0 ? std::min(kMaxStreamBytes, avail) : kMaxStreamBytes;
  return std::make_unique<MemorySource>(read_stream(file.get(), path, max_bytes), path);
}

ZipDirectory read_zip_directory(ZipSource& src) {
  check_signature(src);
  const Directory d = find_directory(src);
  ZipDirectory out;
  out.offset = d.offset;
  out.size = d.size;
  out.entries = read_directory(src, d);
  return out;
}

void check_local_headers(ZipSource& src, ZipDirectory& dir) {
  for (ZipEntry& e : dir.entries) read_local_header(src, dir.offset, e);
  check_no_overlap(dir.entries, src.name());
}

std::string zip_extract(ZipSource& src, const ZipEntry& m) {
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
  const std::uint32_t crc = crc32_of({bytes});
  if (crc != m.crc) {
    fail(name, m.label + ": CRC-32 mismatch (the archive says " + hex32(m.crc) +
                   ", the data gives " + hex32(crc) + ")");
  }
  return bytes;
}

}  // namespace rnnlyap::io
