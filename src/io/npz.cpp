// NumPy .npz archives (rnnlyap/npy.hpp): a ZIP archive (io/zip.hpp) whose members are .npy files
// named "<key>.npy". Reading keeps every member's key and array (io/npy.cpp's strict reader);
// writing stores the members uncompressed, as np.savez does.
#include <algorithm>
#include <map>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "io/file_errors.hpp"
#include "io/npy_writer.hpp"
#include "io/zip.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/npy.hpp"

namespace rnnlyap {
namespace {

using detail::fail;
using detail::printable;

/// The key of a member: np.load drops a ".npy" suffix.
std::string key_of(const std::string& member) {
  const std::string_view suffix = ".npy";
  return std::string_view(member).ends_with(suffix)
             ? member.substr(0, member.size() - suffix.size())
             : member;
}

std::map<std::string, NpyArray> parse(io::ZipSource& src) {
  const std::string& name = src.name();
  io::ZipDirectory dir = io::read_zip_directory(src);
  // Keys first, so that a duplicate is named before any member is read.
  std::map<std::string, const io::ZipEntry*> keys;
  for (const io::ZipEntry& m : dir.entries) {
    const std::string key = key_of(m.name);
    const auto [it, inserted] = keys.emplace(key, &m);
    if (!inserted) {
      fail(name, "duplicate key '" + printable(key, 200, true) + "' (" + it->second->label +
                     " and " + m.label + ")");
    }
  }
  io::check_local_headers(src, dir);

  std::map<std::string, NpyArray> out;
  for (const auto& [key, m] : keys) {
    const std::string bytes = io::zip_extract(src, *m);
    out.emplace(key, parse_npy_array(bytes, name + ": " + m->label));
  }
  return out;
}

/// Runs `read`, reporting an archive that does not fit in memory as such.
template <class F>
std::map<std::string, NpyArray> in_memory(const std::string& name, F&& read) {
  try {
    return read();
  } catch (const std::bad_alloc&) {
    fail(name, "archive does not fit in memory");
  } catch (const std::length_error&) {
    fail(name, "archive does not fit in memory");
  }
}

}  // namespace

std::map<std::string, NpyArray> parse_npz(const std::string& bytes, const std::string& name) {
  return in_memory(name, [&] { return parse(*io::zip_in_memory(bytes, name)); });
}

std::map<std::string, NpyArray> read_npz(const std::string& path) {
  return in_memory(path, [&] { return parse(*io::zip_file(path)); });
}

std::string npz_bytes(const std::vector<NpzMember>& members) {
  // Checked as the archive is laid out (no ZIP64, hence the 4 GiB limit), before it is written.
  std::vector<std::string> headers, names;
  std::vector<io::ZipFileParts> files;
  std::uint64_t at = 0, directory = 0;
  for (const NpzMember& m : members) {
    if (m.name.empty()) throw InvalidInput("an .npz member needs a name");
    if (std::find(names.begin(), names.end(), m.name) != names.end())
      throw InvalidInput("the .npz member " + m.name + " is given twice");
    names.push_back(m.name);
    if (!io::data_matches_shape(m))
      throw InvalidInput("the .npz member " + m.name + " has data that does not match its shape");
    headers.push_back(io::npy_header(m));
    const std::string entry = m.name + ".npy";
    const std::uint64_t file = headers.back().size() + m.data.size();
    if (at + file + entry.size() + 30 >= 0xFFFFFFFFull)
      throw InvalidInput("the .npz archive would exceed 4 GiB");
    at += 30 + entry.size() + file;
    directory += 46 + entry.size();
    files.push_back({entry, {}});
  }
  if (at + directory + 22 >= 0xFFFFFFFFull || members.size() >= 0xFFFF)
    throw InvalidInput("the .npz archive would exceed 4 GiB or 65535 members");
  for (std::size_t i = 0; i < members.size(); ++i) files[i].parts = {headers[i], members[i].data};
  return io::zip_stored(files);
}

}  // namespace rnnlyap
