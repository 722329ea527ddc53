// The series a run keeps in memory until it ends, counted together before anything runs
// (memory_limit.hpp): a run that would grow into the OOM killer is refused at once instead.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "clv.hpp"
#include "memory_limit.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {
namespace {

constexpr double kMiB = 1048576.0;
// A std::vector's own bytes (three pointers) plus the allocator's header and rounding of its
// block: what a row kept as its own vector costs beyond its numbers.
constexpr double kRowOverhead = 48;

std::string fmt(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

std::string mib(double bytes) {
  return std::to_string(std::llround(std::ceil(bytes / kMiB))) + " MiB";
}

}  // namespace

void check_kept_memory(const std::vector<KeptSeries>& kept, double available) {
  double need = 0;
  for (const KeptSeries& s : kept) need += s.bytes;
  if (kept.empty() || available <= 0 || need <= available) return;
  std::string msg, remedy;
  for (const KeptSeries& s : kept) {
    msg += (msg.empty() ? "" : ", ") + s.what + ": " + mib(s.bytes);
    remedy += (remedy.empty() ? "" : "; or ") + s.remedy;
  }
  if (kept.size() > 1) msg += "; " + mib(need) + " in all";
  throw InvalidInput(msg + "; this process may use " +
                     std::to_string(std::llround(available / kMiB)) + " MiB: " + remedy);
}

std::vector<KeptSeries> kept_series(const SpectrumOptions& opt, const Schedule& sched, int rows,
                                    int batch, bool trace_kept) {
  std::vector<KeptSeries> kept;
  const int per = opt.num_exponents();
  const double kd = static_cast<double>(per), bd = static_cast<double>(batch);
  const double ons_time = static_cast<double>(sched.steps_per_ons) * sched.step_time;
  // Finite-time windows: the loop's rows (batch · k rates each) and the results' copies (one row
  // of k per member), both held while the results are made, and one flat copy of them an output
  // makes (the .npz's array, or one exponent's windows sorted for the JSON's quantiles).
  const std::int64_t window_ons =
      opt.ftle_window > 0 ? std::llround(opt.ftle_window / ons_time) : 0;
  if (window_ons > 0) {
    const double windows = static_cast<double>(sched.ons_sim / window_ons);
    const double per_window =
        (8 * bd * kd + kRowOverhead) + bd * (8 * kd + kRowOverhead) + 8 * bd * kd;
    kept.push_back({"finite-time windows (--ftle-window " + fmt(opt.ftle_window) + ": " +
                        fmt(windows) + " windows of " + fmt(bd * kd) +
                        " exponents over the averaged time " + fmt(sched.averaged_time()) + ")",
                    windows * per_window,
                    "give a longer --ftle-window (or a shorter --t-sim, or a smaller --k)"});
  }
  // A trace kept in memory (Python's trace=True, the CLI's --trace with --npz): one row of the
  // time and k estimates per averaged re-orthonormalisation, in a vector that grows by doubling
  // (up to twice the rows while it grows, three times while it moves) and is copied once for the
  // output.
  if (trace_kept) {
    const double t = static_cast<double>(sched.ons_sim);
    kept.push_back(
        {"the trace (" + fmt(t) + " estimates of " + fmt(kd) +
             " exponents, one per re-orthonormalisation of the averaged time " +
             fmt(sched.averaged_time()) + ")",
         3 * t * 8 * (kd + 1),
         "keep no trace in memory (trace=False in Python; the program keeps its trace in memory "
         "only for an .npz output)"});
  }
  // Covariant vectors (single runs only; a batch is refused with them by the loop).
  if (opt.clv_requested() && batch == 1) {
    const ClvPlan plan = make_clv_plan(opt, sched);
    kept.push_back(clv_kept_series(plan, rows, per, opt.clv_window > 0));
  }
  return kept;
}

void check_run_memory(const SpectrumOptions& opt, const Schedule& sched, int rows, int batch,
                      bool trace_kept, double available) {
  check_kept_memory(kept_series(opt, sched, rows, batch, trace_kept), available);
}

}  // namespace rnnlyap::detail
