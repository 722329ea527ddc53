#include "report.hpp"

#include <cstdio>

#include "rnnlyap/arrays.hpp"
#include "rnnlyap/json.hpp"

namespace rnnlyap::cli {

void warn(const std::string& warning) {
  std::fprintf(stderr, "rnnlyap: warning: %s\n", warning.c_str());
}

std::string report_single(const SpectrumResult& r, bool quiet) {
  for (const std::string& w : r.warnings) warn(w);
  if (!quiet) {
    const auto &s = r.summary, &se = r.summary_stderr;
    // D_KY's error is not defined for a lower bound ("D_KY=k+").
    char ky_error[32] = "";
    if (!s.ky_is_lower_bound) std::snprintf(ky_error, sizeof ky_error, " +- %.2g", se.ky_dimension);
    std::fprintf(stderr,
                 "rnnlyap: N=%d k=%d  lambda_max=%.5g +- %.2g  mean=%.5g +- %.2g  D_KY=%.4g%s%s  "
                 "H=%.5g +- %.2g  (%s, %.2f s)\n",
                 r.options.n, r.options.num_exponents(), s.max_exponent, se.max_exponent,
                 s.mean_exponent, se.mean_exponent, s.ky_dimension, s.ky_is_lower_bound ? "+" : "",
                 ky_error, s.ks_entropy, se.ks_entropy, r.backend.c_str(), r.timing.seconds);
  }
  return to_json(r) + "\n";
}

namespace {

// Each member's warnings, named by its sequence (a trained network) or its seed.
void warn_members(const EnsembleResult& e, bool trained) {
  for (const SpectrumResult& m : e.members)
    for (const std::string& w : m.warnings) {
      if (trained)
        std::fprintf(stderr, "rnnlyap: warning: sequence %d: %s\n", m.sequence, w.c_str());
      else
        std::fprintf(stderr, "rnnlyap: warning: seed %llu: %s\n",
                     static_cast<unsigned long long>(m.options.seed), w.c_str());
    }
}

void summarise_members(const EnsembleResult& e, bool trained) {
  const SpectrumResult& first = e.members.front();
  const SpectrumOptions& o = first.options;
  if (trained) {
    std::fprintf(
        stderr,
        "rnnlyap: %s N=%d, %zu sequence(s), k=%d  lambda_max=%.5g  mean=%.5g  (%s, %.2f s)\n",
        std::string(to_string(o.model)).c_str(), o.n, e.members.size(), o.num_exponents(),
        e.mean_summary.max_exponent, e.mean_summary.mean_exponent, first.backend.c_str(),
        e.timing.seconds);
    return;
  }
  const auto &m = e.mean_summary, &se = e.stderr_summary;
  std::fprintf(stderr,
               "rnnlyap: %zu networks N=%d k=%d  lambda_max=%.5g +- %.2g  D_KY=%.4g +- %.2g  "
               "H=%.5g +- %.2g  (%s, %.2f s)\n",
               e.members.size(), o.n, o.num_exponents(), m.max_exponent, se.max_exponent,
               m.ky_dimension, se.ky_dimension, m.ks_entropy, se.ks_entropy, first.backend.c_str(),
               e.timing.seconds);
}

}  // namespace

std::string report_members(const EnsembleResult& e, bool quiet) {
  const SpectrumResult& first = e.members.front();
  const bool trained = is_cell(first.options.model);
  if (e.members.size() == 1 && !trained) return report_single(first, quiet);
  warn_members(e, trained);
  if (!quiet) summarise_members(e, trained);
  return (e.members.size() == 1 ? to_json(first) : to_json(e)) + "\n";
}

std::string members_npz(const EnsembleResult& e) {
  return e.members.size() == 1 ? to_npz(e.members.front()) : to_npz(e);
}

void report_store(const UnitStore& store, bool quiet, bool warnings) {
  if (warnings)
    for (const auto& w : store.warnings()) warn(w);
  if (store.taken_from_file() > 0 && !quiet)
    std::fprintf(stderr, "rnnlyap: %zu of %zu units taken from %s\n", store.taken_from_file(),
                 store.plan().size(), store.path().c_str());
}

void report_shard(const UnitStore& store, std::size_t computed, int index, int count, bool quiet) {
  if (quiet) return;
  std::fprintf(stderr,
               "rnnlyap: shard %d/%d: %zu units computed, %zu of %zu units in %s; combine the "
               "shards' files with rnnlyap merge\n",
               index + 1, count, computed, store.done(), store.plan().size(), store.path().c_str());
}

void report_sweep_start(const SweepResult& r, const std::string& partial, bool quiet) {
  for (const auto& warning : r.warnings) warn(warning);
  if (r.resumed_points > 0 && !quiet && !partial.empty())
    std::fprintf(stderr, "rnnlyap: %d points taken from %s\n", r.resumed_points, partial.c_str());
}

namespace {

// One size's (and tail index's) transition: where lambda_max crosses 0 and where it is
// significantly positive.
void report_transition(const Transition& t) {
  std::fprintf(stderr, "  N=%d%s: ", t.n,
               t.alpha ? (" alpha=" + std::to_string(*t.alpha).substr(0, 4)).c_str() : "");
  if (t.g_cross)
    std::fprintf(stderr, "lambda_max crosses 0 at g = %.4g +- %.2g", *t.g_cross, *t.g_cross_stderr);
  else
    std::fprintf(stderr, "lambda_max does not cross 0 in the grid");
  if (t.g_star_predicted) std::fprintf(stderr, "  (predicted %.4g)", *t.g_star_predicted);
  std::fprintf(stderr, "\n");
  if (t.g_significant) {
    std::fprintf(stderr, "    lambda_max > %g s.e. from g = %.4g on", kSignificance,
                 *t.g_significant);
    if (t.g_significant_after) std::fprintf(stderr, " (not at %.4g)", *t.g_significant_after);
    if (t.neutral_window)
      std::fprintf(stderr, "; consistent with 0 on g = %.4g ... %.4g", t.neutral_window->first,
                   t.neutral_window->second);
    std::fprintf(stderr, "\n");
  } else {
    std::fprintf(stderr,
                 "    lambda_max is not %g s.e. above 0 up to the grid's end (more networks "
                 "or a longer --t-sim narrow the errors)\n",
                 kSignificance);
  }
}

}  // namespace

void report_sweep_summary(const SweepResult& r, const std::string& out, const std::string& csv_path,
                          bool quiet) {
  if (quiet) return;
  std::fprintf(stderr, "rnnlyap: sweep of %zu points written to %s and %s\n", r.grid.size(),
               out.c_str(), csv_path.c_str());
  for (const auto& t : r.transitions) report_transition(t);
}

}  // namespace rnnlyap::cli
