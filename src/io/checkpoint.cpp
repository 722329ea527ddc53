// Binary checkpoint: magic line, format version, a JSON header (options, counters, sizes), the
// arrays as little-endian float64, and an FNV-1a checksum of everything before it.
#include "io/checkpoint.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <new>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/options_json.hpp"
#include "io/file_errors.hpp"
#include "io/output_file.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {
namespace {

static_assert(std::endian::native == std::endian::little, "checkpoints are little-endian");

constexpr char kMagic[] = "RNNLYAP-CHECKPOINT\n";
constexpr std::uint32_t kVersion = 1;

void put(std::string& out, const void* p, std::size_t size) {
  out.append(static_cast<const char*>(p), size);
}
void put_doubles(std::string& out, const std::vector<double>& v) {
  put(out, v.data(), v.size() * sizeof(double));
}

class Reader {
 public:
  Reader(const std::string& bytes, const std::string& path) : b_(bytes), path_(path) {}
  void get(void* p, std::size_t size) {
    if (size > b_.size() - pos_) throw InvalidInput(path_ + ": truncated checkpoint");
    std::memcpy(p, b_.data() + pos_, size);
    pos_ += size;
  }
  std::vector<double> doubles(std::size_t count) {
    if (count > (b_.size() - pos_) / sizeof(double))
      throw InvalidInput(path_ + ": truncated checkpoint");
    std::vector<double> v(count);
    get(v.data(), count * sizeof(double));
    return v;
  }
  std::size_t pos() const { return pos_; }

 private:
  const std::string& b_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

}  // namespace

std::uint64_t network_hash(const Network& net) {
  std::uint64_t h = fnv1a(net.j.data(), net.j.size() * sizeof(double));
  return fnv1a(net.bias.data(), net.bias.size() * sizeof(double), h);
}

std::uint64_t network_hash(int n, const std::function<void(int, int, double*)>& columns,
                           const std::vector<double>& bias) {
  const std::size_t rows = static_cast<std::size_t>(n);
  const int piece = static_cast<int>(std::max<std::size_t>(1, (std::size_t{1} << 22) / rows));
  std::vector<double> buf;
  std::uint64_t h = fnv1a(nullptr, 0);
  for (int c0 = 0; c0 < n; c0 += piece) {
    const int c1 = std::min(n, c0 + piece);
    buf.resize(rows * static_cast<std::size_t>(c1 - c0));
    columns(c0, c1, buf.data());
    h = fnv1a(buf.data(), buf.size() * sizeof(double), h);
  }
  return fnv1a(bias.data(), bias.size() * sizeof(double), h);
}

void write_checkpoint(const std::string& path, const Checkpoint& c) {
  const RunState& r = c.run;
  nlohmann::json header = {
      {"options", options_to_json(c.options)},
      {"network_hash", c.network_hash},
      {"step", r.step},
      {"warmup_done", r.warmup_done},
      {"basis_started", r.basis_started},
      {"ons_warmup_done", r.ons_warmup_done},
      {"ons_done", r.ons_done},
      {"blocks_done", r.block_rates.size()},
      {"seconds", r.seconds},
      {"n_state", c.state.size()},
      {"n_basis", c.basis.size()},
      {"k", r.total.size()},
  };
  const std::string h = header.dump();
  std::string out(kMagic);
  put(out, &kVersion, sizeof kVersion);
  const std::uint64_t len = h.size();
  put(out, &len, sizeof len);
  out += h;
  put_doubles(out, c.state);
  put_doubles(out, c.basis);
  put_doubles(out, r.total);
  put_doubles(out, r.block);
  for (const auto& b : r.block_rates) put_doubles(out, b);
  put_doubles(out, r.block_times);
  const std::uint64_t sum = fnv1a(out.data(), out.size());
  put(out, &sum, sizeof sum);

  // Written to a temporary of this process beside the real target (symlinks followed, so a link
  // stays a link) and renamed over it (io/output_file.hpp).
  const std::string why = io::replace_file(path, out);
  if (!why.empty()) throw Error("cannot write checkpoint " + printable(path) + ": " + why);
}

namespace {

/// The whole file, if it is a regular file (symlinks followed): a FIFO or device is refused when
/// opened (O_NONBLOCK: opening a FIFO without a writer does not wait), and at most the size seen
/// then is read, so a file that grows meanwhile is reported, not followed.
std::string read_regular_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) fail(path, std::string("cannot open checkpoint: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(path, std::string("cannot read: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    fail(path, std::string("cannot read checkpoint: it is ") + file_type_name(st.st_mode) +
                   ", not a regular file");
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > (std::uint64_t{1} << 40)) fail(path, "not an rnnlyap checkpoint (too large)");
  std::string bytes;
  try {
    bytes.resize(static_cast<std::size_t>(size) + 1);
  } catch (const std::bad_alloc&) {
    fail(path, "checkpoint does not fit in memory");
  } catch (const std::length_error&) {
    fail(path, "checkpoint does not fit in memory");
  }
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t r = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail(path, std::string("cannot read: ") + std::strerror(errno));
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  if (got != size) fail(path, "checkpoint changed while it was read");
  bytes.resize(got);
  return bytes;
}

}  // namespace

Checkpoint read_checkpoint(const std::string& path) {
  const std::string bytes = read_regular_file(path);
  const std::size_t magic = sizeof(kMagic) - 1;
  if (bytes.size() < magic + 12 + 8 || bytes.compare(0, magic, kMagic) != 0)
    throw InvalidInput(path + ": not an rnnlyap checkpoint");
  std::uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  if (stored != fnv1a(bytes.data(), bytes.size() - 8))
    throw InvalidInput(path + ": checkpoint is corrupt (checksum mismatch)");
  const std::string body = bytes.substr(0, bytes.size() - 8);
  Reader rd(body, path);
  std::string skip(magic, '\0');
  rd.get(skip.data(), magic);
  std::uint32_t version = 0;
  rd.get(&version, sizeof version);
  if (version != kVersion)
    throw InvalidInput(path + ": checkpoint format version " + std::to_string(version) +
                       " is not supported");
  std::uint64_t len = 0;
  rd.get(&len, sizeof len);
  if (len > body.size()) throw InvalidInput(path + ": truncated checkpoint");
  std::string h(len, '\0');
  rd.get(h.data(), len);
  Checkpoint c;
  try {
    const auto j = nlohmann::json::parse(h);
    c.options = options_from_json(j.at("options"));
    c.network_hash = j.at("network_hash").get<std::uint64_t>();
    RunState& r = c.run;
    r.step = j.at("step").get<std::int64_t>();
    r.warmup_done = j.at("warmup_done").get<std::int64_t>();
    r.basis_started = j.at("basis_started").get<bool>();
    r.ons_warmup_done = j.at("ons_warmup_done").get<std::int64_t>();
    r.ons_done = j.at("ons_done").get<std::int64_t>();
    r.seconds = j.at("seconds").get<double>();
    const auto blocks = j.at("blocks_done").get<std::size_t>();
    const auto k = j.at("k").get<std::size_t>();
    c.state = rd.doubles(j.at("n_state").get<std::size_t>());
    c.basis = rd.doubles(j.at("n_basis").get<std::size_t>());
    r.total = rd.doubles(k);
    r.block = rd.doubles(k);
    for (std::size_t b = 0; b < blocks; ++b) r.block_rates.push_back(rd.doubles(k));
    r.block_times = rd.doubles(blocks);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidInput(path + ": malformed checkpoint header: " + e.what());
  }
  if (rd.pos() != body.size()) throw InvalidInput(path + ": checkpoint has trailing data");
  return c;
}

void validate_checkpoint(const Checkpoint& c, const Schedule& s, std::int64_t max_blocks,
                         const std::string& path) {
  const RunState& r = c.run;
  auto corrupt = [&](const std::string& why) {
    throw InvalidInput(printable(path) + ": checkpoint is corrupt (" + why + ")");
  };
  auto in_range = [&](const char* what, std::int64_t v, std::int64_t hi) {
    if (v < 0 || v > hi)
      corrupt(std::string(what) + " " + std::to_string(v) + " outside 0 .. " + std::to_string(hi) +
              " of the schedule");
  };
  in_range("state warm-up steps", r.warmup_done, s.warmup_steps);
  in_range("discarded re-orthonormalisations", r.ons_warmup_done, s.ons_warmup);
  in_range("averaged re-orthonormalisations", r.ons_done, s.ons_sim);
  // The phases run in order: the basis starts after the state warm-up, the averaging after the
  // basis warm-up.
  if (r.basis_started && r.warmup_done != s.warmup_steps)
    corrupt("basis started before the state warm-up ended");
  if (!r.basis_started && (r.ons_warmup_done > 0 || r.ons_done > 0))
    corrupt("re-orthonormalisations counted before the basis started");
  if (r.ons_done > 0 && r.ons_warmup_done != s.ons_warmup)
    corrupt("averaging started before the basis warm-up ended");
  if (!r.basis_started && !c.basis.empty()) corrupt("a basis saved before the basis started");
  const std::int64_t steps = r.warmup_done + (r.ons_warmup_done + r.ons_done) * s.steps_per_ons;
  if (r.step != steps)
    corrupt("step " + std::to_string(r.step) + " does not match the phases done (" +
            std::to_string(steps) + ")");
  // Finished averaging blocks: block b ends after ons_sim (b + 1) / n_blocks re-orthonormalisations
  // (run/benettin_run.cpp); floor(q n + rem)(b + 1) / n) computed without overflow.
  const std::int64_t n_blocks = std::min(s.ons_sim, max_blocks);
  std::int64_t blocks = 0;
  if (n_blocks > 0) {
    const std::int64_t q = s.ons_sim / n_blocks, rem = s.ons_sim % n_blocks;
    while (blocks < n_blocks && q * (blocks + 1) + rem * (blocks + 1) / n_blocks <= r.ons_done)
      ++blocks;
  }
  if (static_cast<std::int64_t>(r.block_rates.size()) != blocks)
    corrupt(std::to_string(r.block_rates.size()) + " averaging blocks done, expected " +
            std::to_string(blocks));
  for (double t : r.block_times)
    if (!(t > 0) || !std::isfinite(t)) corrupt("a block time is not a positive number");
  if (!(r.seconds >= 0) || !std::isfinite(r.seconds)) corrupt("elapsed time is not >= 0");
  for (const std::vector<double>* v : {&c.state, &c.basis})
    for (double x : *v)
      if (!std::isfinite(x)) corrupt("a saved state or basis value is not finite");
  // −inf is a legitimate log|R_ii| (an exactly singular tangent map); NaN and +inf are not.
  auto sums_ok = [](const std::vector<double>& v) {
    return std::none_of(v.begin(), v.end(), [](double x) {
      return std::isnan(x) || x == std::numeric_limits<double>::infinity();
    });
  };
  if (!sums_ok(r.total) || !sums_ok(r.block)) corrupt("a saved sum is NaN or +inf");
  for (const auto& b : r.block_rates)
    if (b.size() != r.total.size()) corrupt("a block has the wrong number of exponents");
}

}  // namespace rnnlyap::detail
