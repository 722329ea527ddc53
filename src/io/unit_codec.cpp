// Unit lines and head lines (unit_codec.hpp).
#include "io/unit_codec.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>

#include "core/options_json.hpp"
#include "io/hash.hpp"
#include "io/timing_json.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::io {

using nlohmann::json;

namespace {

constexpr const char* kFormat = "rnnlyap units 1";

json number_json(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}
double number_from(const json& j) {
  if (j.is_number()) return j.get<double>();
  const std::string s = j.get<std::string>();
  if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  throw InvalidInput("not a number: " + s);
}
json numbers_json(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(number_json(x));
  return a;
}
std::vector<double> numbers_from(const json& j) {
  std::vector<double> v;
  for (const auto& x : j) v.push_back(number_from(x));
  return v;
}

std::string hex16(std::uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// Each line carries the hash of the rest of it.
std::string line_check(const json& j) {
  return hash_text(j.dump());
}
std::string with_check(json j) {
  j["check"] = line_check(j);
  return j.dump();
}
bool check_holds(json& j) {
  if (!j.is_object() || !j.contains("check") || !j["check"].is_string()) return false;
  const std::string check = j["check"].get<std::string>();
  j.erase("check");
  return line_check(j) == check;
}

json summary_json(const SpectrumSummary& s) {
  return {{"max_exponent", number_json(s.max_exponent)},
          {"mean_exponent", number_json(s.mean_exponent)},
          {"sum", number_json(s.sum)},
          {"n_positive", s.n_positive},
          {"ky_dimension", number_json(s.ky_dimension)},
          {"ky_is_lower_bound", s.ky_is_lower_bound},
          {"ks_entropy", number_json(s.ks_entropy)}};
}

json summary_stderr_json(const SpectrumSummary& s) {
  return {{"max_exponent", number_json(s.max_exponent)},
          {"mean_exponent", number_json(s.mean_exponent)},
          {"sum", number_json(s.sum)},
          {"ky_dimension", number_json(s.ky_dimension)},
          {"ks_entropy", number_json(s.ks_entropy)}};
}

// A member's result, every field exactly.
json result_json(const SpectrumResult& r) {
  json ftle = json::array();
  for (const auto& w : r.ftle) ftle.push_back(numbers_json(w));
  return {{"exponents", numbers_json(r.exponents)},
          {"stderr", numbers_json(r.stderr_)},
          {"summary", summary_json(r.summary)},
          {"summary_stderr", summary_stderr_json(r.summary_stderr)},
          {"options", detail::options_to_json(r.options)},
          {"schedule",
           {{"warmup_steps", r.schedule.warmup_steps},
            {"steps_per_ons", r.schedule.steps_per_ons},
            {"ons_warmup", r.schedule.ons_warmup},
            {"ons_sim", r.schedule.ons_sim},
            {"step_time", r.schedule.step_time}}},
          {"backend", r.backend},
          {"device", r.device},
          {"timing", detail::timing_to_json(r.timing)},
          {"warnings", r.warnings},
          {"sequence", r.sequence},
          {"ftle", ftle}};
}

void read_summary(const json& s, SpectrumSummary& out) {
  out.max_exponent = number_from(s.at("max_exponent"));
  out.mean_exponent = number_from(s.at("mean_exponent"));
  out.sum = number_from(s.at("sum"));
  out.n_positive = s.at("n_positive").get<int>();
  out.ky_dimension = number_from(s.at("ky_dimension"));
  out.ky_is_lower_bound = s.at("ky_is_lower_bound").get<bool>();
  out.ks_entropy = number_from(s.at("ks_entropy"));
}

// Units written before the summary had error bars lack them: NaN, as for one block.
void read_summary_stderr(const json& j, SpectrumSummary& out) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  out.max_exponent = out.mean_exponent = out.sum = out.ky_dimension = out.ks_entropy = nan;
  if (!j.contains("summary_stderr")) return;
  const json& se = j.at("summary_stderr");
  out.max_exponent = number_from(se.at("max_exponent"));
  out.mean_exponent = number_from(se.at("mean_exponent"));
  out.sum = number_from(se.at("sum"));
  out.ky_dimension = number_from(se.at("ky_dimension"));
  out.ks_entropy = number_from(se.at("ks_entropy"));
}

}  // namespace

std::string hash_text(const std::string& text) {
  return hex16(detail::fnv1a(text.data(), text.size()));
}

std::string file_hash(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InvalidInput("cannot read " + path);
  std::uint64_t h = 0xcbf29ce484222325ull;
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h = detail::fnv1a(buf.data(), static_cast<std::size_t>(f.gcount()), h);
  }
  return hex16(h);
}

std::string head_line(json identity, const SpectrumOptions& params, const json& grid) {
  identity["format"] = kFormat;
  identity["params"] = detail::options_to_json(params);
  identity["k"] = params.k ? json(*params.k) : json(nullptr);
  identity["grid"] = grid;
  return with_check(identity);
}

UnitHead read_head_line(const std::string& line, const std::string& file) {
  json h;
  try {
    h = json::parse(line);
  } catch (const json::exception&) {
    throw InvalidInput(file + ": not a unit file of rnnlyap");
  }
  if (!h.is_object() || h.value("format", std::string()) != kFormat)
    throw InvalidInput(file +
                       ": not a unit file of this version of rnnlyap (a partial file of another "
                       "version: delete it to start over)");
  if (!check_holds(h)) throw InvalidInput(file + ": its first line was edited (its check fails)");
  try {
    UnitHead head;
    head.params = detail::options_from_json(h.at("params"));
    head.params.k = h.at("k").is_null() ? std::nullopt : std::optional<int>(h.at("k").get<int>());
    head.kind = h.at("kind").get<std::string>();
    head.files = h.at("files");
    if (head.kind == "sweep") {
      head.g = h.at("grid").at("g").get<std::vector<double>>();
      head.alpha = h.at("grid").at("alpha").get<std::vector<double>>();
      head.n = h.at("grid").at("n").get<std::vector<int>>();
      return head;
    }
    if (head.kind != "ensemble" && head.kind != "sequences")
      throw InvalidInput("unknown kind " + head.kind);
    head.units = h.at("units").get<std::size_t>();
    return head;
  } catch (const json::exception& e) {
    throw InvalidInput(file + ": its first line lacks a field (" + std::string(e.what()) + ")");
  }
}

std::string unit_line(const std::string& run, json key, const SpectrumResult& result) {
  return with_check({{"run", run}, {"unit", std::move(key)}, {"result", result_json(result)}});
}

json read_unit_line(const std::string& line) {
  json j = json::parse(line);
  if (!check_holds(j)) throw InvalidInput("check failed");
  return j;
}

SpectrumResult unit_result(const json& j) {
  SpectrumResult r;
  r.exponents = numbers_from(j.at("exponents"));
  r.stderr_ = numbers_from(j.at("stderr"));
  if (r.exponents.empty() || r.stderr_.size() != r.exponents.size())
    throw InvalidInput("exponents and standard errors do not match");
  read_summary(j.at("summary"), r.summary);
  read_summary_stderr(j, r.summary_stderr);
  r.options = detail::options_from_json(j.at("options"));
  const json& sc = j.at("schedule");
  r.schedule.warmup_steps = sc.at("warmup_steps").get<std::int64_t>();
  r.schedule.steps_per_ons = sc.at("steps_per_ons").get<std::int64_t>();
  r.schedule.ons_warmup = sc.at("ons_warmup").get<std::int64_t>();
  r.schedule.ons_sim = sc.at("ons_sim").get<std::int64_t>();
  r.schedule.step_time = sc.at("step_time").get<double>();
  r.backend = j.at("backend").get<std::string>();
  r.device = j.at("device").get<std::string>();
  r.timing = detail::timing_from_json(j.at("timing"));
  r.warnings = j.at("warnings").get<std::vector<std::string>>();
  r.sequence = j.at("sequence").get<int>();
  for (const auto& w : j.at("ftle")) {
    r.ftle.push_back(numbers_from(w));
    if (r.ftle.back().size() != r.exponents.size()) throw InvalidInput("ftle of the wrong width");
  }
  return r;
}

}  // namespace rnnlyap::io
