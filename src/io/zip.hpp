// The ZIP layer of .npz archives (io/npz.cpp): a strict reader, and a writer of stored members.
//
// A ZIP archive (PKWARE's APPNOTE.TXT) is laid out as, all integers little-endian:
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
// then the central directory and the end records contiguously. The reader insists on that: the
// central directory must end where the end records begin, members may not overlap each other or
// the central directory, and every size is checked against the bytes actually present before
// anything is allocated. Deflated data is inflated incrementally, so memory grows only with the
// output actually produced, and never past the size the central directory claims (whose total is
// capped at 16 GiB). Every problem throws InvalidInput "<name>: <what>" on one printable line,
// naming the member where one is at fault.
//
// (libzip was measured as a replacement and not taken: it accepts bytes after a deflate stream's
// end, reports most structural faults as one "Zip archive inconsistent" without naming the member
// or field, and read no faster.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rnnlyap::io {

/// Random access to an archive's bytes; its name starts every message.
class ZipSource {
 public:
  explicit ZipSource(std::string name) : name_(std::move(name)) {}
  ZipSource(const ZipSource&) = delete;
  ZipSource& operator=(const ZipSource&) = delete;
  virtual ~ZipSource() = default;

  virtual std::uint64_t size() const = 0;

  /// Reads the `n` bytes at `offset` into `dst`; `what` names them in the message if they lie
  /// outside the archive.
  void read(std::uint64_t offset, char* dst, std::size_t n, const std::string& what);
  std::string read(std::uint64_t offset, std::size_t n, const std::string& what);

  const std::string& name() const { return name_; }

 protected:
  virtual void read_within(std::uint64_t offset, char* dst, std::size_t n) = 0;

 private:
  std::string name_;
};

/// An archive in memory: `bytes` are not copied and must outlive the source.
std::unique_ptr<ZipSource> zip_in_memory(std::string_view bytes, const std::string& name);

/// An archive file. A regular file is read where needed; a pipe or a device (ZIP needs random
/// access) is read into memory first, a chunk at a time, stopping early if it does not start like
/// a ZIP archive, and at most what this process may allocate (and 17 GiB). Throws InvalidInput
/// "PATH: cannot open: ..." for a missing file or a directory.
std::unique_ptr<ZipSource> zip_file(const std::string& path);

/// One member, as its central directory entry (and, after check_local_headers, its local header)
/// gives it.
struct ZipEntry {
  std::string name;   ///< as stored (bytes)
  std::string label;  ///< "member '<name>'", escaped, for messages
  std::uint16_t flags = 0;
  std::uint16_t method = 0;  ///< 0 (stored) or 8 (deflate): others are refused
  std::uint32_t crc = 0;
  std::uint64_t compressed = 0;
  std::uint64_t uncompressed = 0;
  std::uint64_t header_at = 0;  ///< offset of the local header
  std::uint64_t data_at = 0;    ///< offset of the data (check_local_headers sets it)
};

/// The central directory: where it lies and its entries in order.
struct ZipDirectory {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::vector<ZipEntry> entries;
};

/// Checks that the source is a ZIP archive, finds its end records and reads the central
/// directory: every entry named, of a supported method, unencrypted, on one disk, all together no
/// more than 16 GiB uncompressed.
ZipDirectory read_zip_directory(ZipSource& src);

/// Reads each entry's local header, checks it against the central directory and sets data_at;
/// checks that no two members overlap.
void check_local_headers(ZipSource& src, ZipDirectory& dir);

/// The uncompressed bytes of a member, CRC-checked.
std::string zip_extract(ZipSource& src, const ZipEntry& entry);

/// A file to store: its name and its bytes, given as parts that follow one another.
struct ZipFileParts {
  std::string name;
  std::vector<std::string_view> parts;
};

/// A ZIP archive of stored (uncompressed) files, as np.savez writes them, dated 1980-01-01 so that
/// the archive does not depend on the clock. No ZIP64: the caller keeps the archive below 4 GiB
/// and 65535 files.
std::string zip_stored(const std::vector<ZipFileParts>& files);

/// CRC-32 (zlib's) of the concatenation of `parts`, fed to zlib in chunks that fit its uInt.
std::uint32_t crc32_of(const std::vector<std::string_view>& parts);

}  // namespace rnnlyap::io
