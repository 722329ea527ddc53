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

#include "io/checkpoint.hpp"
#include "io/output_file.hpp"
#include "options_json.hpp"
#include "propagator.hpp"
#include "rnnlyap/arrays.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/network.hpp"
#include "rnnlyap/npy.hpp"
#include "rnnlyap/spectrum.hpp"
#include "rnnlyap/units.hpp"

namespace rnnlyap {
namespace {

using nlohmann::json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

json opt_json(std::optional<double> v) {
  return v ? json(*v) : json(nullptr);
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
    // One network: the time average's own errors (batch means); none for the fraction.
    const SpectrumSummary& se = e.members.front().summary_stderr;
    p.max_exponent_stderr = se.max_exponent;
    p.ky_dimension_stderr = se.ky_dimension;
    p.ks_entropy_stderr = se.ks_entropy;
    p.mean_exponent_stderr = se.mean_exponent;
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
  const UnitPlan plan = UnitPlan::sweep(spec);  // validates every point first
  // Read back and replaced (a symlink's target): a regular file or none yet, checked before
  // anything is computed (InvalidInput naming it).
  if (!partial_path.empty()) io::check_file_to_read_back(partial_path, "partial file");
  UnitStore store(plan, partial_path);
  // Finished units (each member of each point) are kept in the partial file; the points are
  // computed whole (a GPU batch or CPU threads for the ensemble), only their missing members.
  const std::size_t per = plan.per_point(), points = plan.size() / per;
  const auto runs = plan.runs(store.missing());
  std::size_t done = points;  // points complete
  for (std::size_t r = 0; r < runs.size(); ++r)
    if (r == 0 || runs[r].first / per != runs[r - 1].first / per) --done;
  // A stop request ends the point being computed too (its members poll it), so that a job at its
  // time limit stops within a re-orthonormalisation; the finished units are kept.
  RunControl control;
  control.stop_requested = stop_requested;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const auto [first, count] = runs[r];
    const bool starts_point = r == 0 || first / per != runs[r - 1].first / per;
    if (starts_point && r > 0) ++done;
    if (starts_point && stop_requested && stop_requested())
      throw Interrupted("sweep interrupted after " + std::to_string(done) + " of " +
                        std::to_string(points) + " points; run the same command again to continue");
    if (starts_point && progress) {
      std::string label = plan.label(first - first % per);
      if (per > 1) label = label.substr(0, label.rfind(" member"));
      progress(static_cast<int>(done), static_cast<int>(points), label);
    }
    for (const std::string& line : plan.compute(first, count, {}, control)) store.add(line);
  }
  if (progress) progress(static_cast<int>(points), static_cast<int>(points), "done");
  return store.sweep_result();
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
