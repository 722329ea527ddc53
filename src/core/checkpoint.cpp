// Binary checkpoint: magic line, format version, a JSON header (options, counters, sizes), the
// arrays as little-endian float64, and an FNV-1a checksum of everything before it.
#include "checkpoint.hpp"

#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "options_json.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {
namespace {

static_assert(std::endian::native == std::endian::little, "checkpoints are little-endian");

constexpr char kMagic[] = "RNNLYAP-CHECKPOINT\n";
constexpr std::uint32_t kVersion = 1;

std::uint64_t fnv1a(const void* data, std::size_t size, std::uint64_t h = 0xcbf29ce484222325ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

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

  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(out.data(), static_cast<std::streamsize>(out.size()));
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      throw InvalidInput("cannot write checkpoint " + path + ": " + std::strerror(errno));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw InvalidInput("cannot write checkpoint " + path + ": " + why);
  }
}

Checkpoint read_checkpoint(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InvalidInput(path + ": cannot open checkpoint: " + std::strerror(errno));
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string bytes = ss.str();
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

}  // namespace rnnlyap::detail
