// Sweeps: a grid of ensembles, resumable through a JSON-lines file of finished points.
#include "rnnlyap/sweep.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "checkpoint.hpp"
#include "options_json.hpp"
#include "propagator.hpp"
#include "rnnlyap/arrays.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/network.hpp"
#include "rnnlyap/npy.hpp"
#include "rnnlyap/spectrum.hpp"

namespace rnnlyap {
namespace {

using nlohmann::json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

json opt_json(std::optional<double> v) {
  return v ? json(*v) : json(nullptr);
}
std::optional<double> opt_from(const json& j) {
  return j.is_null() ? std::nullopt : std::optional<double>(j.get<double>());
}

// Numbers in partial files: finite ones as JSON numbers, the others as "nan", "inf", "-inf", so
// that a resumed sweep holds exactly what the uninterrupted one would (a map with g = 0 has −∞
// exponents).
json number_json(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}
double number_from(const json& j) {
  if (j.is_number()) return j.get<double>();
  const std::string s = j.get<std::string>();
  if (s == "nan") return kNaN;
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  throw InvalidInput("not a number: " + s);
}

// The options that decide a point's numbers, besides its (g, alpha, n): the sweep's base without
// the grid and without where it runs (backend, device, threads may change on resume, as for
// checkpoints).
json base_json(const SpectrumOptions& base) {
  json j = detail::options_to_json(base);
  for (const char* key : {"g", "n", "alpha", "backend", "device", "threads"}) j.erase(key);
  j["k"] = base.k ? json(*base.k) : json(nullptr);
  return j;
}

// The measured quantities of a grid point, named as in the JSON, the partial file and the .npz.
struct PointField {
  const char* name;
  double SweepPoint::*value;
};
constexpr PointField kPointFields[] = {
    {"max_exponent", &SweepPoint::max_exponent},
    {"max_exponent_stderr", &SweepPoint::max_exponent_stderr},
    {"ky_dimension", &SweepPoint::ky_dimension},
    {"ky_dimension_stderr", &SweepPoint::ky_dimension_stderr},
    {"ks_entropy", &SweepPoint::ks_entropy},
    {"ks_entropy_stderr", &SweepPoint::ks_entropy_stderr},
    {"fraction_positive", &SweepPoint::fraction_positive},
    {"fraction_positive_stderr", &SweepPoint::fraction_positive_stderr},
    {"mean_exponent", &SweepPoint::mean_exponent},
    {"mean_exponent_stderr", &SweepPoint::mean_exponent_stderr},
    {"seconds", &SweepPoint::seconds}};

// A point's parameters and quantities, each number written by `number` (the members' too).
template <class F>
json point_fields(const SweepPoint& p, F number) {
  json j = {
      {"g", p.g}, {"alpha", opt_json(p.alpha)}, {"n", p.n}, {"k", p.k}, {"ensemble", p.ensemble}};
  for (const PointField& f : kPointFields) j[f.name] = number(p.*f.value);
  json members = json::array();
  for (const auto& m : p.members) {
    json row = json::array();
    for (double v : m) row.push_back(number(v));
    members.push_back(row);
  }
  j["members"] = members;
  return j;
}

// The fields of a point as the JSON output shows them (non-finite numbers become null).
json point_json(const SweepPoint& p) {
  json j = point_fields(p, [](double v) { return json(v); });
  j["ky_dimension_per_n"] = p.ky_dimension / p.n;
  j["ks_entropy_per_n"] = p.ks_entropy / p.n;
  return j;
}

// Each line of a partial file carries the FNV-1a hash of the rest of the line, so that an edited
// or torn line is recognised.
std::string line_check(const json& j) {
  const std::string text = j.dump();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(detail::fnv1a(text.data(), text.size())));
  return buf;
}
std::string with_check(json j) {
  j["check"] = line_check(j);
  return j.dump();
}
// True when the line's check is that of the rest of it (then removed from `j`).
bool check_holds(json& j) {
  if (!j.is_object() || !j.contains("check") || !j["check"].is_string()) return false;
  const std::string check = j["check"].get<std::string>();
  j.erase("check");
  return line_check(j) == check;
}

constexpr const char* kPartialFormat = "rnnlyap sweep partial 2";

// A line of the partial file: every field exactly (non-finite numbers spelled out), and the check.
std::string partial_line(const SweepPoint& p) {
  return with_check(point_fields(p, number_json));
}

// The point of a partial line; throws for a line whose check fails or that lacks a field.
SweepPoint point_from_line(const std::string& line) {
  json j = json::parse(line);
  if (!check_holds(j)) throw InvalidInput("check failed");
  SweepPoint p;
  p.g = j.at("g").get<double>();
  p.alpha = opt_from(j.at("alpha"));
  p.n = j.at("n").get<int>();
  p.k = j.at("k").get<int>();
  p.ensemble = j.at("ensemble").get<int>();
  for (const PointField& f : kPointFields) p.*f.value = number_from(j.at(f.name));
  for (const auto& row : j.at("members")) {
    std::vector<double> m;
    for (const auto& v : row) m.push_back(number_from(v));
    if (static_cast<int>(m.size()) != p.k) throw InvalidInput("member of the wrong length");
    p.members.push_back(std::move(m));
  }
  if (static_cast<int>(p.members.size()) != p.ensemble) throw InvalidInput("members missing");
  return p;
}

std::string head_line(const SpectrumOptions& base) {
  return with_check({{"format", kPartialFormat}, {"base", base_json(base)}});
}

// The lines of a partial file written with `base`, after its head (none when there is no file).
// A file of another format or with other options throws InvalidInput.
std::vector<std::string> read_partial_lines(const std::string& path, const SpectrumOptions& base) {
  std::ifstream f(path);
  if (!f) return {};
  std::string line;
  if (!std::getline(f, line)) return {};  // empty: as if absent
  json head;
  try {
    head = json::parse(line);
  } catch (const json::exception&) {
    throw InvalidInput(path + ": not a partial sweep file; delete it to start over");
  }
  if (!head.is_object() || head.value("format", std::string()) != kPartialFormat)
    throw InvalidInput(path +
                       ": not a partial sweep file of this version of rnnlyap; delete it to start "
                       "over");
  // The head carries a check too: an edited head is not taken for these options' file.
  if (!check_holds(head))
    throw InvalidInput(path + ": its first line was edited (its check fails); delete it to start " +
                       "over");
  if (!head.contains("base") || head["base"] != base_json(base))
    throw InvalidInput(path +
                       ": a partial sweep with other options; delete it or choose another --out");
  std::vector<std::string> lines;
  while (std::getline(f, line)) lines.push_back(line);
  return lines;
}

}  // namespace

std::vector<double> parse_grid(const std::string& text, const std::string& flag) {
  auto number = [&](const std::string& s) {
    try {
      std::size_t used = 0;
      const double v = std::stod(s, &used);
      if (used != s.size() || !std::isfinite(v)) throw std::invalid_argument(s);
      return v;
    } catch (const std::exception&) {
      throw InvalidInput(flag + ": '" + s + "' is not a number");
    }
  };
  std::vector<double> v;
  if (text.find(':') != std::string::npos) {
    std::stringstream ss(text);
    std::string a, b, c, extra;
    std::getline(ss, a, ':');
    std::getline(ss, b, ':');
    std::getline(ss, c, ':');
    // Exactly three fields: "1:2:0.5:9" is not a range with an ignored tail, "1:2" not one at all.
    if (std::getline(ss, extra, ':') || text.back() == ':' ||
        std::count(text.begin(), text.end(), ':') != 2)
      throw InvalidInput(flag + " " + text + ": expected START:STOP:STEP (three fields)");
    const double lo = number(a), hi = number(b), step = number(c);
    if (!(step > 0) || hi < lo)
      throw InvalidInput(flag + " " + text +
                         ": expected START:STOP:STEP with STEP > 0 and STOP >= START");
    const double count = std::floor((hi - lo) / step + 1e-3) + 1;
    if (count > 100000) throw InvalidInput(flag + " " + text + ": more than 100000 values");
    // lo + i·step carries the rounding of step (0.7 + 0.1 = 0.7999999999999999): each value is
    // rounded to 12 significant digits, so that grids written differently share their points.
    for (int i = 0; i < static_cast<int>(count); ++i) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.12g", lo + i * step);
      v.push_back(std::strtod(buf, nullptr));
    }
  } else {
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) v.push_back(number(item));
  }
  if (v.empty()) throw InvalidInput(flag + ": no values");
  return v;
}

SweepPoint sweep_point(const EnsembleResult& e, double g, std::optional<double> alpha, int n) {
  SweepPoint p;
  p.g = g;
  p.alpha = alpha;
  p.n = n;
  p.ensemble = static_cast<int>(e.members.size());
  p.k = e.members.empty() ? 0 : static_cast<int>(e.members.front().exponents.size());
  for (const auto& m : e.members) p.members.push_back(m.exponents);
  p.max_exponent = e.mean_summary.max_exponent;
  p.ky_dimension = e.mean_summary.ky_dimension;
  p.ks_entropy = e.mean_summary.ks_entropy;
  p.mean_exponent = e.mean_summary.mean_exponent;
  p.seconds = e.timing.seconds;
  // Fraction of positive exponents among those computed.
  double fsum = 0, fss = 0;
  for (const auto& m : e.members) {
    const double f =
        static_cast<double>(m.summary.n_positive) / static_cast<double>(m.exponents.size());
    fsum += f;
    fss += f * f;
  }
  const double b = static_cast<double>(e.members.size());
  p.fraction_positive = fsum / b;
  if (e.members.size() > 1) {
    p.max_exponent_stderr = e.stderr_summary.max_exponent;
    p.ky_dimension_stderr = e.stderr_summary.ky_dimension;
    p.ks_entropy_stderr = e.stderr_summary.ks_entropy;
    p.mean_exponent_stderr = e.stderr_summary.mean_exponent;
    p.fraction_positive_stderr = std::sqrt(std::max(0.0, (fss - fsum * fsum / b) / (b - 1) / b));
  } else {
    // One network: the time-average's own error for λ_max (its largest exponent's), none else.
    const auto& r = e.members.front();
    std::size_t imax = 0;
    for (std::size_t i = 1; i < r.exponents.size(); ++i)
      if (r.exponents[i] > r.exponents[imax]) imax = i;
    p.max_exponent_stderr = r.stderr_[imax];
    p.ky_dimension_stderr = p.ks_entropy_stderr = p.mean_exponent_stderr =
        p.fraction_positive_stderr = kNaN;
  }
  return p;
}

std::vector<Transition> find_transitions(const std::vector<SweepPoint>& grid,
                                         const SpectrumOptions& base) {
  std::vector<Transition> out;
  std::vector<std::pair<std::optional<double>, int>> keys;
  for (const auto& p : grid)
    if (std::find(keys.begin(), keys.end(), std::pair{p.alpha, p.n}) == keys.end())
      keys.emplace_back(p.alpha, p.n);
  for (const auto& [alpha, n] : keys) {
    std::vector<SweepPoint> line;
    for (const auto& p : grid)
      if (p.alpha == alpha && p.n == n) line.push_back(p);
    std::sort(line.begin(), line.end(), [](const auto& a, const auto& b) { return a.g < b.g; });
    Transition t;
    t.alpha = alpha;
    t.n = n;
    for (std::size_t i = 0; i + 1 < line.size(); ++i) {
      const double l1 = line[i].max_exponent, l2 = line[i + 1].max_exponent;
      if (l1 < 0 && l2 >= 0) {
        // g_c = g1 + (g2 - g1) f, f = -λ1/(λ2 - λ1); ∂f/∂λ1 = -λ2/d², ∂f/∂λ2 = λ1/d².
        const double g1 = line[i].g, g2 = line[i + 1].g, d = l2 - l1;
        const double s1 = line[i].max_exponent_stderr, s2 = line[i + 1].max_exponent_stderr;
        t.g_cross = g1 + (g2 - g1) * (-l1 / d);
        t.g_cross_stderr = (g2 - g1) / (d * d) * std::sqrt(l2 * l2 * s1 * s1 + l1 * l1 * s2 * s2);
        break;
      }
    }
    // Significantly positive from line[first] on, and the neutral points before it.
    const double z = kSignificance;
    auto positive = [z](const SweepPoint& p) { return p.max_exponent > z * p.max_exponent_stderr; };
    auto negative = [z](const SweepPoint& p) {
      return p.max_exponent < -z * p.max_exponent_stderr;
    };
    std::size_t first = line.size();
    while (first > 0 && positive(line[first - 1])) --first;
    if (first < line.size()) {
      t.g_significant = line[first].g;
      if (first > 0) t.g_significant_after = line[first - 1].g;
      std::size_t from = first;
      while (from > 0 && !negative(line[from - 1])) --from;
      std::optional<double> lo, hi;
      for (std::size_t i = from; i < first; ++i)
        if (!positive(line[i]) && !negative(line[i])) {
          if (!lo) lo = line[i].g;
          hi = line[i].g;
        }
      if (lo) t.neutral_window = std::pair{*lo, *hi};
    }
    if (alpha)
      t.g_star_predicted = levy_transition_gain(n, *alpha, base.seed, 200);
    else if (base.input_std == 0)
      t.g_star_predicted = 1.0;
    out.push_back(t);
  }
  return out;
}

SweepResult run_sweep(const SweepSpec& spec, const std::string& partial_path,
                      const std::function<void(int, int, const std::string&)>& progress,
                      const std::function<bool()>& stop_requested) {
  if (spec.g.empty() || spec.n.empty())
    throw InvalidInput("a sweep needs at least one g and one n");
  for (int n : spec.n)
    if (n < 1) throw InvalidInput("--n must be at least 1, got " + std::to_string(n));
  // A value given twice would be one grid point computed twice (and matched once on resume).
  auto once = [](auto values, const char* flag) {
    std::sort(values.begin(), values.end());
    const auto twice = std::adjacent_find(values.begin(), values.end());
    if (twice != values.end()) {
      std::ostringstream v;
      v << *twice;
      throw InvalidInput(std::string(flag) + ": " + v.str() + " is given twice");
    }
  };
  once(spec.g, "--g");
  once(spec.alpha, "--alpha");
  once(spec.n, "--n");
  struct Job {
    double g;
    std::optional<double> alpha;
    int n;
  };
  std::vector<Job> jobs;
  const std::vector<std::optional<double>> alphas =
      spec.alpha.empty() ? std::vector<std::optional<double>>{std::nullopt}
                         : std::vector<std::optional<double>>(spec.alpha.begin(), spec.alpha.end());
  for (const auto& a : alphas)
    for (int n : spec.n)
      for (double g : spec.g) jobs.push_back({g, a, n});
  auto options_for = [&spec](const Job& j) {
    SpectrumOptions o = spec.base;
    o.g = j.g;
    o.n = j.n;
    if (j.alpha) {
      o.weights = WeightKind::levy;
      o.alpha = *j.alpha;
    }
    return o;
  };
  // Every grid point is validated, and its weights' memory checked, before any is computed: a
  // sweep refused (exit 2) has computed nothing and written nothing.
  for (const Job& j : jobs) {
    const SpectrumOptions o = options_for(j);
    validate(o);
    detail::check_weights_fit(o);
  }

  SweepResult r;
  r.spec = spec;
  // Kept points, matched to the grid by their parameters (never by position).
  std::vector<std::optional<SweepPoint>> kept(jobs.size());
  const std::vector<std::string> lines = partial_path.empty()
                                             ? std::vector<std::string>{}
                                             : read_partial_lines(partial_path, spec.base);
  int torn = 0, duplicates = 0, foreign = 0;
  // The same value up to the last digits of a decimal written differently.
  auto same = [](double a, double b) {
    return std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(a));
  };
  for (std::size_t l = 0; l < lines.size(); ++l) {
    SweepPoint p;
    try {
      p = point_from_line(lines[l]);
    } catch (const std::exception&) {  // json or InvalidInput: an edited or torn line
      ++torn;
      continue;
    }
    std::size_t at = jobs.size();
    for (std::size_t i = 0; i < jobs.size(); ++i)
      if (same(jobs[i].g, p.g) && jobs[i].alpha.has_value() == p.alpha.has_value() &&
          (!p.alpha || same(*jobs[i].alpha, *p.alpha)) && jobs[i].n == p.n)
        at = i;
    const SpectrumOptions o = at < jobs.size() ? options_for(jobs[at]) : spec.base;
    if (at == jobs.size() || p.ensemble != o.ensemble || p.k != o.num_exponents()) {
      ++foreign;
    } else if (kept[at]) {
      ++duplicates;
    } else {
      kept[at] = std::move(p);
      ++r.resumed_points;
    }
  }
  auto note = [&](int count, const char* what) {
    if (count > 0)
      r.warnings.push_back(partial_path + ": " + std::to_string(count) + " line" +
                           (count == 1 ? " " : "s ") + what + " ignored");
  };
  note(torn, "whose check failed (edited or cut short)");
  note(duplicates, "repeating a point already read");
  note(foreign, "for points not on this grid");

  // The partial file is (re)written from the kept points when the first point finishes, so that a
  // sweep that stops before finishing any point leaves nothing behind, and ignored lines go.
  std::ofstream partial;
  auto append = [&](const SweepPoint& p) {
    if (partial_path.empty()) return;
    if (!partial.is_open()) {
      partial.open(partial_path, std::ios::trunc);
      if (!partial) throw InvalidInput("cannot write " + partial_path);
      partial << head_line(spec.base) << "\n";
      for (const auto& k : kept)
        if (k) partial << partial_line(*k) << "\n";
    }
    partial << partial_line(p) << "\n" << std::flush;
    if (!partial) throw Error("writing " + partial_path + " failed");
  };
  std::size_t done = static_cast<std::size_t>(r.resumed_points);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (kept[i]) continue;
    if (stop_requested && stop_requested())
      throw Interrupted("sweep interrupted after " + std::to_string(done) + " of " +
                        std::to_string(jobs.size()) +
                        " points; run the same command again to continue");
    const Job& j = jobs[i];
    std::ostringstream label;
    label << "g=" << j.g << " N=" << j.n;
    if (j.alpha) label << " alpha=" << *j.alpha;
    if (progress) progress(static_cast<int>(done), static_cast<int>(jobs.size()), label.str());
    // A stop request ends the point being computed too (its members poll it), so that a job at its
    // time limit stops within a re-orthonormalisation; the finished points are kept.
    RunControl control;
    control.stop_requested = stop_requested;
    SweepPoint p = sweep_point(compute_ensemble(options_for(j), {}, control), j.g, j.alpha, j.n);
    append(p);
    kept[i] = std::move(p);
    ++done;
  }
  if (progress) progress(static_cast<int>(jobs.size()), static_cast<int>(jobs.size()), "done");
  for (auto& p : kept) r.grid.push_back(std::move(*p));
  r.transitions = find_transitions(r.grid, spec.base);
  return r;
}

std::string sweep_json(const SweepResult& r, int indent) {
  json grid = json::array(), tr = json::array();
  for (const auto& p : r.grid) grid.push_back(point_json(p));
  for (const auto& t : r.transitions)
    tr.push_back({{"alpha", opt_json(t.alpha)},
                  {"n", t.n},
                  {"g_cross", opt_json(t.g_cross)},
                  {"g_cross_stderr", opt_json(t.g_cross_stderr)},
                  {"g_star_predicted", opt_json(t.g_star_predicted)},
                  {"g_significant", opt_json(t.g_significant)},
                  {"g_significant_after", opt_json(t.g_significant_after)},
                  {"neutral_window", t.neutral_window
                                         ? json{t.neutral_window->first, t.neutral_window->second}
                                         : json(nullptr)},
                  {"significance_stderr", kSignificance}});
  // params: the options used, with the grid's lists; k is the one given, or null when each point
  // computed its full spectrum (grid[i].k says how many).
  SpectrumOptions base = r.spec.base;
  if (!r.spec.alpha.empty()) base.weights = WeightKind::levy;
  json params = detail::options_to_json(base);
  params["g"] = r.spec.g;
  params["alpha"] = r.spec.alpha;
  params["n"] = r.spec.n;
  params["k"] = r.spec.base.k ? json(*r.spec.base.k) : json(nullptr);
  json warnings = r.warnings;
  return json{{"grid", grid}, {"transition", tr}, {"params", params}, {"warnings", warnings}}.dump(
      indent);
}

std::string sweep_csv(const SweepResult& r) {
  std::ostringstream s;
  s << "g,alpha,n,ensemble,max_exponent,max_exponent_stderr,ky_dimension,ky_dimension_stderr,"
       "ky_dimension_per_n,ks_entropy,ks_entropy_stderr,ks_entropy_per_n,fraction_positive,"
       "fraction_positive_stderr,mean_exponent,mean_exponent_stderr,seconds\n";
  s.precision(10);
  for (const auto& p : r.grid) {
    s << p.g << ',';
    if (p.alpha) s << *p.alpha;
    s << ',' << p.n << ',' << p.ensemble << ',' << p.max_exponent << ',' << p.max_exponent_stderr
      << ',' << p.ky_dimension << ',' << p.ky_dimension_stderr << ',' << p.ky_dimension / p.n << ','
      << p.ks_entropy << ',' << p.ks_entropy_stderr << ',' << p.ks_entropy / p.n << ','
      << p.fraction_positive << ',' << p.fraction_positive_stderr << ',' << p.mean_exponent << ','
      << p.mean_exponent_stderr << ',' << p.seconds << '\n';
  }
  return s.str();
}

std::string sweep_npz(const SweepResult& r) {
  const SweepSpec& s = r.spec;
  const std::size_t gs = s.g.size(), as = std::max<std::size_t>(1, s.alpha.size()), ns = s.n.size();
  std::size_t members = 0, kmax = 0;
  for (const auto& p : r.grid) {
    members = std::max(members, p.members.size());
    kmax = std::max(kmax, static_cast<std::size_t>(p.k));
  }
  // The index of a point in (n, alpha, g) order.
  auto cell = [&](const SweepPoint& p) {
    const std::size_t gi =
        static_cast<std::size_t>(std::find(s.g.begin(), s.g.end(), p.g) - s.g.begin());
    const std::size_t ai =
        p.alpha ? static_cast<std::size_t>(std::find(s.alpha.begin(), s.alpha.end(), *p.alpha) -
                                           s.alpha.begin())
                : 0;
    const std::size_t ni =
        static_cast<std::size_t>(std::find(s.n.begin(), s.n.end(), p.n) - s.n.begin());
    return (ni * as + ai) * gs + gi;
  };
  const std::size_t cells = ns * as * gs;
  std::vector<NpzMember> m;
  m.push_back(npz_float64("g", {gs}, s.g));
  m.push_back(npz_float64("alpha", {s.alpha.size()}, s.alpha));
  std::vector<std::int64_t> n(s.n.begin(), s.n.end());
  m.push_back(npz_int64("n", {ns}, n));
  const std::vector<std::size_t> shape = {ns, as, gs};
  for (const PointField& f : kPointFields) {
    std::vector<double> v(cells, kNaN);
    for (const auto& p : r.grid) v[cell(p)] = p.*f.value;
    m.push_back(npz_float64(f.name, shape, v));
  }
  std::vector<std::int64_t> k(cells, 0);
  for (const auto& p : r.grid) k[cell(p)] = p.k;
  m.push_back(npz_int64("k", shape, k));
  std::vector<double> all(cells * members * kmax, kNaN);
  for (const auto& p : r.grid)
    for (std::size_t b = 0; b < p.members.size(); ++b)
      std::copy(p.members[b].begin(), p.members[b].end(),
                all.begin() + static_cast<std::ptrdiff_t>((cell(p) * members + b) * kmax));
  m.push_back(npz_float64("members", {ns, as, gs, members, kmax}, all));
  m.push_back(npz_text("sweep_json", sweep_json(r)));
  return npz_bytes(m);
}

}  // namespace rnnlyap
