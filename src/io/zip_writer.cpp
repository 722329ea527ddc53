// The ZIP writer (io/zip.hpp): stored members, as np.savez writes them.
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/zip.hpp"

namespace rnnlyap::io {
namespace {

/// Bytes given to zlib's crc32 at a time (its length is a uInt).
constexpr std::size_t kChunk = std::size_t{1} << 20;
/// 1980-01-01 00:00 in MS-DOS date format (the time field is 0): the earliest date ZIP can hold.
constexpr std::uint32_t kDosDate = 0x21;

void put16(std::string& s, std::uint32_t v) {
  s += static_cast<char>(v & 0xFF);
  s += static_cast<char>((v >> 8) & 0xFF);
}
void put32(std::string& s, std::uint32_t v) {
  put16(s, v & 0xFFFF);
  put16(s, v >> 16);
}

std::size_t size_of(const std::vector<std::string_view>& parts) {
  std::size_t n = 0;
  for (std::string_view part : parts) n += part.size();
  return n;
}

/// What a local header and its central directory entry share from the version needed on: version
/// 2.0, no flags, method 0 (stored), the fixed time and date, CRC, both sizes, name length and no
/// extra field.
void put_common(std::string& s, std::uint32_t crc, std::uint32_t size, std::size_t name_len) {
  put16(s, 20);
  put16(s, 0);
  put16(s, 0);
  put16(s, 0);
  put16(s, kDosDate);
  put32(s, crc);
  put32(s, size);
  put32(s, size);
  put16(s, static_cast<std::uint32_t>(name_len));
  put16(s, 0);
}

}  // namespace

std::uint32_t crc32_of(const std::vector<std::string_view>& parts) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  for (std::string_view part : parts) {
    const auto* p = reinterpret_cast<const Bytef*>(part.data());
    std::size_t left = part.size();
    while (left > 0) {
      const std::size_t n = std::min(left, kChunk);
      crc = ::crc32(crc, p, static_cast<uInt>(n));
      p += n;
      left -= n;
    }
  }
  return static_cast<std::uint32_t>(crc);
}

std::string zip_stored(const std::vector<ZipFileParts>& files) {
  std::size_t total = 22;
  for (const ZipFileParts& f : files) total += 30 + 46 + 2 * f.name.size() + size_of(f.parts);
  std::string out, directory;
  out.reserve(total);
  for (const ZipFileParts& f : files) {
    const std::uint32_t crc = crc32_of(f.parts);
    const auto size = static_cast<std::uint32_t>(size_of(f.parts));
    const auto offset = static_cast<std::uint32_t>(out.size());
    // Local header, then the name and the data.
    put32(out, 0x04034b50);
    put_common(out, crc, size, f.name.size());
    out += f.name;
    for (std::string_view part : f.parts) out += part;
    // Central directory entry: made-by version, the same fields, then comment length, disk,
    // attributes and the local header's offset.
    put32(directory, 0x02014b50);
    put16(directory, 20);
    put_common(directory, crc, size, f.name.size());
    put16(directory, 0);
    put16(directory, 0);
    put16(directory, 0);
    put32(directory, 0);
    put32(directory, offset);
    directory += f.name;
  }
  const auto dir_offset = static_cast<std::uint32_t>(out.size());
  out += directory;
  // End of central directory record.
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<std::uint32_t>(files.size()));
  put16(out, static_cast<std::uint32_t>(files.size()));
  put32(out, static_cast<std::uint32_t>(directory.size()));
  put32(out, dir_offset);
  put16(out, 0);
  return out;
}

}  // namespace rnnlyap::io
