// Build and machine information for `rnnlyap info`, and the memory this process may still use.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>

#include "backends.hpp"
#include "executor.hpp"
#include "memory_limit.hpp"
#include "parallel.hpp"
#include "rnnlyap/info.hpp"

#ifndef RNNLYAP_VERSION
#define RNNLYAP_VERSION "0.0.0"
#endif

namespace rnnlyap {

std::string version() {
  return RNNLYAP_VERSION;
}

// In the order of the public BackendKind (cpu first), whatever auto's order of preference.
std::vector<std::string> compiled_backends() {
  std::vector<const detail::Backend*> all = detail::backends();
  std::sort(all.begin(), all.end(), [](const detail::Backend* a, const detail::Backend* b) {
    return static_cast<int>(a->kind) < static_cast<int>(b->kind);
  });
  std::vector<std::string> out;
  for (const detail::Backend* b : all)
    if (b->compiled) out.emplace_back(to_string(b->kind));
  return out;
}

std::string blas_info() {
  return cpu::blas_description();
}

std::string blas_warning() {
  return cpu::blas_core_warning();
}

std::string cpu_threads_info() {
  const int t = detail::run_threads(0);
  if (t > detail::kMaxRunThreads) return std::to_string(t) + ", the BLAS library's threading";
  return t > 1 ? std::to_string(t) + ", rnnlyap's own team (the BLAS single-threaded meanwhile)"
               : "1";
}

namespace {
std::atomic<int> g_host_share{1};
}

void set_host_memory_share(int processes) {
  g_host_share = processes < 1 ? 1 : processes;
}

std::size_t host_memory_bytes() {
  return detail::available_memory_bytes("") / static_cast<std::size_t>(g_host_share.load());
}

namespace detail {
namespace {

// cgroup v1 reports "no limit" as the largest page-aligned counter (9223372036854771712 with 4 KiB
// pages); anything from 2^60 bytes up is taken as no limit.
constexpr unsigned long long kNoLimit = 1ULL << 60;

std::optional<unsigned long long> parse_number(const std::string& s) {
  unsigned long long v = 0;
  const char* end = s.data() + s.size();
  const auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || p == s.data()) return std::nullopt;
  return v;
}

// The first word of a one-value file ("max", "123456"); nullopt when the file cannot be read.
std::optional<std::string> read_word(const std::string& path) {
  std::ifstream f(path);
  std::string w;
  if (!(f >> w)) return std::nullopt;
  return w;
}

// A key's value in a "key value" file (memory.stat); 0 when absent.
unsigned long long stat_value(const std::string& path, const std::string& key) {
  std::ifstream f(path);
  std::string k;
  unsigned long long v = 0;
  while (f >> k >> v)
    if (k == key) return v;
  return 0;
}

std::optional<unsigned long long> mem_available(const std::string& root) {
  std::ifstream f(root + "/proc/meminfo");
  std::string key, unit;
  unsigned long long kib = 0;
  while (f >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  if (!root.empty()) return std::nullopt;
  // No MemAvailable (a kernel before 3.14): the physical memory.
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return std::nullopt;
  return static_cast<unsigned long long>(pages) * static_cast<unsigned long long>(page);
}

// The smallest limit − usage over DIR/PATH and its ancestors up to DIR itself.
std::optional<unsigned long long> chain_headroom(const std::string& dir, std::string path,
                                                 const char* limit_file, const char* usage_file,
                                                 const char* inactive_key) {
  std::optional<unsigned long long> best;
  while (!path.empty() && path.back() == '/') path.pop_back();
  for (;;) {
    const std::string d = dir + path + "/";
    const auto limit_word = read_word(d + limit_file);
    const auto limit = limit_word ? parse_number(*limit_word) : std::nullopt;  // "max": none
    if (limit && *limit < kNoLimit) {
      unsigned long long usage = 0;
      if (const auto u = read_word(d + usage_file))
        if (const auto n = parse_number(*u)) usage = *n;
      const unsigned long long inactive = stat_value(d + "memory.stat", inactive_key);
      usage = usage > inactive ? usage - inactive : 0;
      const unsigned long long room = *limit > usage ? *limit - usage : 0;
      if (!best || room < *best) best = room;
    }
    if (path.empty()) break;
    path.erase(path.rfind('/'));
  }
  return best;
}

}  // namespace

std::size_t available_memory_bytes(const std::string& root) {
  std::optional<unsigned long long> have = mem_available(root);
  const auto bound = [&](std::optional<unsigned long long> v) {
    if (v && (!have || *v < *have)) have = v;
  };
  // /proc/self/cgroup: "0::/path" (v2) and "N:controllers:/path" (v1). A hybrid system has both,
  // with v2 mounted elsewhere; the files that do not exist are skipped.
  std::ifstream f(root + "/proc/self/cgroup");
  std::string line;
  while (std::getline(f, line)) {
    const auto a = line.find(':');
    const auto b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    if (path.empty() || path.front() != '/') continue;
    if (const auto d = path.find(" (deleted)"); d != std::string::npos) path.erase(d);
    if (line.compare(0, a, "0") == 0 && controllers.empty()) {
      bound(chain_headroom(root + "/sys/fs/cgroup", path, "memory.max", "memory.current",
                           "inactive_file"));
      continue;
    }
    std::stringstream list(controllers);
    std::string c;
    while (std::getline(list, c, ','))
      if (c == "memory")
        bound(chain_headroom(root + "/sys/fs/cgroup/memory", path, "memory.limit_in_bytes",
                             "memory.usage_in_bytes", "total_inactive_file"));
  }
  if (!have) return 0;
  return *have > std::numeric_limits<std::size_t>::max() ? std::numeric_limits<std::size_t>::max()
                                                         : static_cast<std::size_t>(*have);
}

}  // namespace detail
}  // namespace rnnlyap
