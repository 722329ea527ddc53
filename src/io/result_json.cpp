// Result → JSON and .npz (README, "Using rnnlyap"; other tools parse these keys: keep them stable).
#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/options_json.hpp"
#include "io/timing_json.hpp"
#include "rnnlyap/arrays.hpp"
#include "rnnlyap/json.hpp"
#include "rnnlyap/npy.hpp"

namespace rnnlyap {
namespace {

using nlohmann::json;

json summary_json(const SpectrumSummary& s) {
  return {
      {"max_exponent", s.max_exponent},
      {"mean_exponent", s.mean_exponent},
      {"sum", s.sum},
      {"n_positive", s.n_positive},
      {"ky_dimension", s.ky_dimension},
      {"ky_dimension_is_lower_bound", s.ky_is_lower_bound},
      {"ks_entropy", s.ks_entropy},
  };
}

// A single run's summary errors: the summary's keys without n_positive and the lower-bound flag.
json summary_stderr_json(const SpectrumSummary& s) {
  json j = summary_json(s);
  j.erase("n_positive");
  j.erase("ky_dimension_is_lower_bound");
  return j;
}

json schedule_json(const Schedule& sc) {
  return {{"warmup_steps", sc.warmup_steps}, {"steps_per_ons", sc.steps_per_ons},
          {"ons_warmup", sc.ons_warmup},     {"ons_sim", sc.ons_sim},
          {"step_time", sc.step_time},       {"averaged_time", sc.averaged_time()}};
}

// The distribution of the finite-time estimates of every exponent over the windows of the given
// runs (pooled): quantiles (linear interpolation, as numpy's default), mean and standard deviation.
json ftle_json(const std::vector<const SpectrumResult*>& runs) {
  static const double kQ[] = {0.05, 0.25, 0.5, 0.75, 0.95};
  const std::size_t k = runs.front()->ftle.front().size();
  json quantiles = json::array(), mean = json::array(), sd = json::array();
  std::size_t windows = 0;
  for (const SpectrumResult* r : runs) windows += r->ftle.size();
  for (std::size_t i = 0; i < k; ++i) {
    std::vector<double> v;
    v.reserve(windows);
    for (const SpectrumResult* r : runs)
      for (const auto& w : r->ftle) v.push_back(w[i]);
    std::sort(v.begin(), v.end());
    json q = json::array();
    for (double p : kQ) {
      const double at = p * static_cast<double>(v.size() - 1);
      const std::size_t lo = static_cast<std::size_t>(at);
      const std::size_t hi = std::min(lo + 1, v.size() - 1);
      q.push_back(v[lo] + (at - static_cast<double>(lo)) * (v[hi] - v[lo]));
    }
    quantiles.push_back(q);
    double s = 0, ss = 0;
    for (double x : v) s += x;
    const double m = s / static_cast<double>(v.size());
    for (double x : v) ss += (x - m) * (x - m);
    mean.push_back(m);
    // One window has no spread to estimate: NaN (null), not 0.
    sd.push_back(v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1))
                              : std::numeric_limits<double>::quiet_NaN());
  }
  return {{"window", runs.front()->options.ftle_window},
          {"windows", windows},
          {"q", json(std::vector<double>(std::begin(kQ), std::end(kQ)))},
          {"quantiles", quantiles},
          {"mean", mean},
          {"std", sd}};
}

// Covariant Lyapunov vectors (README, "Covariant Lyapunov vectors"): the window and, with
// --clv-stats, the localisation, the angles between the unstable and stable subspaces and the
// growth-rate exponents. The vectors themselves go to --clv's .npy (and the .npz).
json clv_json(const ClvResult& c) {
  json j = {{"window", c.window},
            {"window_time", static_cast<double>(c.window) * c.ons_time},
            {"transient", c.transient},
            {"transient_time", static_cast<double>(c.transient) * c.ons_time},
            {"rows", c.rows}};
  if (c.instant >= 0) {
    j["instant"] = c.instant;
    j["instant_time"] = static_cast<double>(c.instant) * c.ons_time;
  }
  j["convergence"] = c.convergence;
  j["convergence_tolerance"] = c.convergence_tolerance;
  if (!c.has_stats) return j;
  std::vector<double> n_ipr;
  for (double v : c.ipr) n_ipr.push_back(v * c.rows);
  j["instants"] = c.instants;
  j["ipr"] = c.ipr;
  j["n_ipr"] = n_ipr;
  j["exponents"] = c.exponents;
  j["stderr"] = c.stderr_;
  j["n_unstable"] = c.n_unstable;
  j["n_stable"] = c.n_stable;
  j["n_neutral"] = c.n_neutral;
  if (c.angle_quantiles.empty())
    j["angle"] = nullptr;
  else
    j["angle"] = {{"q", {0.05, 0.25, 0.5, 0.75, 0.95}},
                  {"quantiles", c.angle_quantiles},
                  {"min", c.angle_min}};
  return j;
}

// Column-major rows × cols → C order.
std::vector<double> c_order(const std::vector<double>& col_major, std::size_t rows) {
  const std::size_t cols = rows ? col_major.size() / rows : 0;
  std::vector<double> out(col_major.size());
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) out[i * cols + j] = col_major[j * rows + i];
  return out;
}

}  // namespace

std::vector<double> clv_vectors_c_order(const ClvResult& c) {
  return c_order(c.vectors, static_cast<std::size_t>(c.rows));
}

std::string to_json(const SpectrumResult& r, int indent) {
  const json j = {
      {"exponents", r.exponents},
      {"stderr", r.stderr_},
      {"summary", summary_json(r.summary)},
      {"summary_stderr", summary_stderr_json(r.summary_stderr)},
      {"params", detail::options_to_json(r.options)},
      {"backend", r.backend},
      {"device", r.device},
      {"precision", to_string(r.options.precision)},
      {"timing", detail::timing_to_json(r.timing)},
      {"schedule", schedule_json(r.schedule)},
      {"warnings", r.warnings},
  };
  if (r.ftle.empty() && !r.clv) return j.dump(indent);
  json with = j;
  if (!r.ftle.empty()) with["ftle"] = ftle_json({&r});
  if (r.clv) with["clv"] = clv_json(*r.clv);
  return with.dump(indent);
}

std::string to_json(const EnsembleResult& e, int indent) {
  if (e.members.empty()) return "{}";
  const SpectrumResult& first = e.members.front();
  SpectrumOptions params = first.options;
  params.seed = first.options.seed;  // the ensemble's first seed
  json summary = summary_json(e.mean_summary);
  summary["n_positive"] = e.mean_n_positive;  // a mean over members: not an integer
  json summary_se = summary_json(e.stderr_summary);
  summary_se["n_positive"] = e.stderr_n_positive;
  summary_se.erase("ky_dimension_is_lower_bound");
  json members = json::array();
  std::vector<std::string> warnings;
  for (const SpectrumResult& m : e.members)
    for (const std::string& w : m.warnings)
      warnings.push_back((m.sequence >= 0 ? "sequence " + std::to_string(m.sequence)
                                          : "seed " + std::to_string(m.options.seed)) +
                         ": " + w);
  for (const SpectrumResult& m : e.members) {
    json member = {{"seed", m.options.seed},
                   {"exponents", m.exponents},
                   {"stderr", m.stderr_},
                   {"summary", summary_json(m.summary)},
                   {"summary_stderr", summary_stderr_json(m.summary_stderr)},
                   {"seconds", m.timing.seconds}};
    if (m.sequence >= 0) member["sequence"] = m.sequence;
    if (!m.ftle.empty()) member["ftle"] = ftle_json({&m});
    if (m.clv) member["clv"] = clv_json(*m.clv);
    members.push_back(member);
  }
  const json j = {
      {"exponents", e.mean_exponents},
      {"stderr", e.stderr_exponents},
      {"summary", summary},
      {"summary_stderr", summary_se},
      {"params", detail::options_to_json(params)},
      {"backend", first.backend},
      {"device", first.device},
      {"precision", to_string(params.precision)},
      {"timing", detail::timing_to_json(e.timing)},
      {"schedule", schedule_json(first.schedule)},
      {"members", members},
      {"warnings", warnings},
  };
  if (first.ftle.empty()) return j.dump(indent);
  std::vector<const SpectrumResult*> all;
  for (const SpectrumResult& m : e.members) all.push_back(&m);
  json with = j;
  with["ftle"] = ftle_json(all);  // every member's windows together
  return with.dump(indent);
}

namespace {

// Rows one after another (C order).
std::vector<double> flat(const std::vector<std::vector<double>>& rows) {
  std::vector<double> out;
  for (const auto& row : rows) out.insert(out.end(), row.begin(), row.end());
  return out;
}

void add_summary(std::vector<NpzMember>& m, const SpectrumSummary& s, const std::string& suffix,
                 double n_positive) {
  const std::pair<const char*, double> values[] = {{"max_exponent", s.max_exponent},
                                                   {"mean_exponent", s.mean_exponent},
                                                   {"sum", s.sum},
                                                   {"n_positive", n_positive},
                                                   {"ky_dimension", s.ky_dimension},
                                                   {"ks_entropy", s.ks_entropy}};
  for (const auto& [name, v] : values) m.push_back(npz_float64(name + suffix, {}, {&v, 1}));
}

}  // namespace

std::string to_npz(const SpectrumResult& r, const Trace* trace) {
  std::vector<NpzMember> m;
  m.push_back(npz_float64("exponents", {r.exponents.size()}, r.exponents));
  m.push_back(npz_float64("stderr", {r.stderr_.size()}, r.stderr_));
  add_summary(m, r.summary, "", r.summary.n_positive);
  const SpectrumSummary& se = r.summary_stderr;
  const std::pair<const char*, double> errors[] = {{"max_exponent_stderr", se.max_exponent},
                                                   {"mean_exponent_stderr", se.mean_exponent},
                                                   {"sum_stderr", se.sum},
                                                   {"ky_dimension_stderr", se.ky_dimension},
                                                   {"ks_entropy_stderr", se.ks_entropy}};
  for (const auto& [name, v] : errors) m.push_back(npz_float64(name, {}, {&v, 1}));
  if (!r.ftle.empty())
    m.push_back(npz_float64("ftle", {r.ftle.size(), r.ftle.front().size()}, flat(r.ftle)));
  if (r.clv && !r.clv->vectors.empty())
    m.push_back(npz_float64(
        "clv_vectors", {static_cast<std::size_t>(r.clv->rows), r.clv->vectors.size() / r.clv->rows},
        clv_vectors_c_order(*r.clv)));
  if (r.clv && !r.clv->convergence.empty())
    m.push_back(npz_float64("clv_convergence", {r.clv->convergence.size()}, r.clv->convergence));
  if (r.clv && r.clv->has_stats) {
    m.push_back(npz_float64("clv_exponents", {r.clv->exponents.size()}, r.clv->exponents));
    m.push_back(npz_float64("clv_ipr", {r.clv->ipr.size()}, r.clv->ipr));
  }
  if (trace) {
    m.push_back(npz_float64("trace_time", {trace->time.size()}, trace->time));
    m.push_back(npz_float64("trace", {trace->time.size(), static_cast<std::size_t>(trace->k)},
                            trace->estimates));
  }
  m.push_back(npz_text("result_json", to_json(r)));
  return npz_bytes(m);
}

std::string to_npz(const EnsembleResult& e) {
  std::vector<NpzMember> m;
  m.push_back(npz_float64("exponents", {e.mean_exponents.size()}, e.mean_exponents));
  m.push_back(npz_float64("stderr", {e.stderr_exponents.size()}, e.stderr_exponents));
  add_summary(m, e.mean_summary, "", e.mean_n_positive);
  add_summary(m, e.stderr_summary, "_stderr", e.stderr_n_positive);
  const std::size_t b = e.members.size(), k = e.mean_exponents.size();
  std::vector<double> ex, se;
  std::vector<std::uint64_t> seeds;
  std::vector<std::int64_t> sequences;
  for (const SpectrumResult& r : e.members) {
    ex.insert(ex.end(), r.exponents.begin(), r.exponents.end());
    se.insert(se.end(), r.stderr_.begin(), r.stderr_.end());
    seeds.push_back(r.options.seed);
    sequences.push_back(r.sequence);
  }
  m.push_back(npz_float64("members", {b, k}, ex));
  if (b > 0 && !e.members.front().ftle.empty()) {
    std::vector<double> f;
    for (const SpectrumResult& r : e.members) {
      const std::vector<double> rows = flat(r.ftle);
      f.insert(f.end(), rows.begin(), rows.end());
    }
    m.push_back(npz_float64("members_ftle", {b, e.members.front().ftle.size(), k}, f));
  }
  m.push_back(npz_float64("members_stderr", {b, k}, se));
  if (b > 0 && e.members.front().sequence >= 0)
    m.push_back(npz_int64("sequences", {b}, sequences));
  else
    m.push_back(npz_uint64("seeds", {b}, seeds));
  m.push_back(npz_text("result_json", to_json(e)));
  return npz_bytes(m);
}

}  // namespace rnnlyap
