// Sweeps: a grid of ensembles, resumable through a JSON-lines file of finished points.
#include "rnnlyap/sweep.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "options_json.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/network.hpp"
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
double num(const json& j) {
  return j.is_null() ? kNaN : j.get<double>();
}

json spec_json(const SweepSpec& s) {
  return {{"base", detail::options_to_json(s.base)}, {"g", s.g}, {"alpha", s.alpha}, {"n", s.n}};
}

json point_json(const SweepPoint& p) {
  return {{"g", p.g},
          {"alpha", opt_json(p.alpha)},
          {"n", p.n},
          {"ensemble", p.ensemble},
          {"max_exponent", p.max_exponent},
          {"max_exponent_stderr", p.max_exponent_stderr},
          {"ky_dimension", p.ky_dimension},
          {"ky_dimension_stderr", p.ky_dimension_stderr},
          {"ky_dimension_per_n", p.ky_dimension / p.n},
          {"ks_entropy", p.ks_entropy},
          {"ks_entropy_stderr", p.ks_entropy_stderr},
          {"ks_entropy_per_n", p.ks_entropy / p.n},
          {"fraction_positive", p.fraction_positive},
          {"fraction_positive_stderr", p.fraction_positive_stderr},
          {"mean_exponent", p.mean_exponent},
          {"mean_exponent_stderr", p.mean_exponent_stderr},
          {"seconds", p.seconds}};
}

SweepPoint point_from(const json& j) {
  SweepPoint p;
  p.g = j.at("g").get<double>();
  p.alpha = opt_from(j.at("alpha"));
  p.n = j.at("n").get<int>();
  p.ensemble = j.at("ensemble").get<int>();
  p.max_exponent = num(j.at("max_exponent"));
  p.max_exponent_stderr = num(j.at("max_exponent_stderr"));
  p.ky_dimension = num(j.at("ky_dimension"));
  p.ky_dimension_stderr = num(j.at("ky_dimension_stderr"));
  p.ks_entropy = num(j.at("ks_entropy"));
  p.ks_entropy_stderr = num(j.at("ks_entropy_stderr"));
  p.fraction_positive = num(j.at("fraction_positive"));
  p.fraction_positive_stderr = num(j.at("fraction_positive_stderr"));
  p.mean_exponent = num(j.at("mean_exponent"));
  p.mean_exponent_stderr = num(j.at("mean_exponent_stderr"));
  p.seconds = num(j.at("seconds"));
  return p;
}

// The points of a partial file written for `spec`, in order; a torn last line is ignored.
std::vector<SweepPoint> read_partial(const std::string& path, const SweepSpec& spec) {
  std::ifstream f(path);
  if (!f) return {};
  std::string line;
  if (!std::getline(f, line)) return {};
  json head;
  try {
    head = json::parse(line);
  } catch (const json::exception&) {
    throw InvalidInput(path + ": not a partial sweep file; delete it to start over");
  }
  if (!head.contains("spec") || head["spec"] != spec_json(spec))
    throw InvalidInput(path +
                       ": a partial sweep with other options; delete it or choose another --out");
  std::vector<SweepPoint> points;
  while (std::getline(f, line)) {
    try {
      points.push_back(point_from(json::parse(line)));
    } catch (const json::exception&) {
      break;  // interrupted while writing this line
    }
  }
  return points;
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
    // Exactly three fields: "1:2:0.5:9" is not a range with an ignored tail.
    if (std::getline(ss, extra, ':') || text.back() == ':')
      throw InvalidInput(flag + " " + text + ": expected START:STOP:STEP (three fields)");
    const double lo = number(a), hi = number(b), step = number(c);
    if (!(step > 0) || hi < lo)
      throw InvalidInput(flag + " " + text +
                         ": expected START:STOP:STEP with STEP > 0 and STOP >= START");
    const double count = std::floor((hi - lo) / step + 1e-3) + 1;
    if (count > 100000) throw InvalidInput(flag + " " + text + ": more than 100000 values");
    for (int i = 0; i < static_cast<int>(count); ++i) v.push_back(lo + i * step);
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
  // Validate every grid point before running any.
  for (const Job& j : jobs) validate(options_for(j));

  SweepResult r;
  r.spec = spec;
  if (!partial_path.empty()) r.grid = read_partial(partial_path, spec);
  if (r.grid.size() > jobs.size())
    throw InvalidInput(partial_path + ": more points than the sweep has");
  std::ofstream partial;
  if (!partial_path.empty()) {
    const bool fresh = r.grid.empty();
    partial.open(partial_path, fresh ? std::ios::trunc : std::ios::app);
    if (!partial) throw InvalidInput("cannot write " + partial_path);
    if (fresh) partial << json{{"spec", spec_json(spec)}}.dump() << "\n" << std::flush;
  }
  for (std::size_t i = r.grid.size(); i < jobs.size(); ++i) {
    if (stop_requested && stop_requested())
      throw Interrupted("sweep interrupted after " + std::to_string(i) + " of " +
                        std::to_string(jobs.size()) +
                        " points; run the same command again to continue");
    const Job& j = jobs[i];
    std::ostringstream label;
    label << "g=" << j.g << " N=" << j.n;
    if (j.alpha) label << " alpha=" << *j.alpha;
    if (progress) progress(static_cast<int>(i), static_cast<int>(jobs.size()), label.str());
    const SweepPoint p = sweep_point(compute_ensemble(options_for(j)), j.g, j.alpha, j.n);
    r.grid.push_back(p);
    if (partial.is_open()) partial << point_json(p).dump() << "\n" << std::flush;
  }
  if (progress) progress(static_cast<int>(jobs.size()), static_cast<int>(jobs.size()), "done");
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
                  {"g_star_predicted", opt_json(t.g_star_predicted)}});
  json params = detail::options_to_json(r.spec.base);
  params["g"] = r.spec.g;
  params["alpha"] = r.spec.alpha;
  params["n"] = r.spec.n;
  return json{{"grid", grid}, {"transition", tr}, {"params", params}}.dump(indent);
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

}  // namespace rnnlyap
