// Covariant Lyapunov vectors (clv.hpp): Ginelli et al., PRL 99, 130601 (2007).
//
// Forward (run/clv_recording.cpp): M Q_{i−1} = Q_i R_i at every re-orthonormalisation i of the
// window. Backward (here): the covariant vectors at instant i are V_i = Q_i C_i with C_i upper
// triangular (V_i's column j lies in the span of Q_i's first j columns); covariance M V_{i−1} ∝ V_i
// gives C_{i−1} ∝ R_i⁻¹ C_i column by column. Started from a random upper-triangular C at the
// window's end, the iteration converges backwards onto the covariant vectors (every other direction
// of the column j's triangle decays at the rate of the exponent gaps), so instants are used only
// after a transient of backward steps. The column norms of R_i⁻¹ C_i are the inverse growth factors
// of the unit covariant vectors from instant i − 1 to i: their mean log is each vector's own
// exponent.
#include "clv.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <string>

#include "random.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/option_table.hpp"

namespace rnnlyap::detail {
namespace {

constexpr double kMiB = 1048576.0;
// Batch means of the growth-rate exponents, as the Benettin loop's.
constexpr std::int64_t kMaxBlocks = 40;

std::string fmt(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

// The error for an R factor that cannot be inverted: R[l, l] of re-orthonormalisation `at` of
// the window.
Error singular_r(std::int64_t at, std::size_t l, double d) {
  return Error(
      "covariant vectors: the tangent map is singular or not finite at "
      "re-orthonormalisation " +
      std::to_string(at) + " of the window (R[" + std::to_string(l + 1) + "," +
      std::to_string(l + 1) + "] = " + fmt(d) +
      "), so its inverse, and the covariant vectors, are undefined");
}

double norm(const double* v, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += v[i] * v[i];
  return std::sqrt(s);
}

// Modified Gram–Schmidt, twice, on the columns of a (rows × p): an orthonormal basis of their span
// (columns assumed independent).
void orthonormalize(std::vector<double>& a, int p, int rows) {
  for (int pass = 0; pass < 2; ++pass)
    for (int j = 0; j < p; ++j) {
      double* aj = a.data() + static_cast<std::size_t>(j) * rows;
      for (int l = 0; l < j; ++l) {
        const double* al = a.data() + static_cast<std::size_t>(l) * rows;
        double d = 0;
        for (int i = 0; i < rows; ++i) d += al[i] * aj[i];
        for (int i = 0; i < rows; ++i) aj[i] -= d * al[i];
      }
      const double nj = norm(aj, rows);
      for (int i = 0; i < rows; ++i) aj[i] /= nj;
    }
}

// The smallest singular value of w (rows × p) by one-sided Jacobi (Hestenes): rotate column pairs
// until they are orthogonal; the singular values are then the column norms.
double smallest_singular_value(std::vector<double> w, int p, int rows) {
  const double eps = std::numeric_limits<double>::epsilon();
  for (int sweep = 0; sweep < 60; ++sweep) {
    bool rotated = false;
    for (int i = 0; i < p; ++i)
      for (int j = i + 1; j < p; ++j) {
        double* wi = w.data() + static_cast<std::size_t>(i) * rows;
        double* wj = w.data() + static_cast<std::size_t>(j) * rows;
        double a = 0, b = 0, g = 0;
        for (int r = 0; r < rows; ++r) {
          a += wi[r] * wi[r];
          b += wj[r] * wj[r];
          g += wi[r] * wj[r];
        }
        if (!(std::fabs(g) > eps * std::sqrt(a * b))) continue;
        rotated = true;
        const double zeta = (b - a) / (2 * g);
        const double t = (zeta >= 0 ? 1.0 : -1.0) / (std::fabs(zeta) + std::hypot(1.0, zeta));
        const double c = 1 / std::hypot(1.0, t), s = c * t;
        for (int r = 0; r < rows; ++r) {
          const double x = wi[r], y = wj[r];
          wi[r] = c * x - s * y;
          wj[r] = s * x + c * y;
        }
      }
    if (!rotated) break;
  }
  double smallest = std::numeric_limits<double>::infinity();
  for (int j = 0; j < p; ++j)
    smallest = std::min(smallest, norm(w.data() + static_cast<std::size_t>(j) * rows, rows));
  return smallest;
}

// The angle (radians, sign-free: in [0, π/2]) between two unit vectors of length n:
// 2 asin(|a ∓ b| / 2), accurate for small angles too (unlike acos of the dot product).
double convergence_angle(const double* a, const double* b, std::size_t n) {
  double dot = 0;
  for (std::size_t m = 0; m < n; ++m) dot += a[m] * b[m];
  const double sign = dot >= 0 ? 1.0 : -1.0;
  double d2 = 0;
  for (std::size_t m = 0; m < n; ++m) d2 += (a[m] - sign * b[m]) * (a[m] - sign * b[m]);
  return 2 * std::asin(std::min(1.0, std::sqrt(d2) / 2));
}

std::string vector_list(const std::vector<std::size_t>& js) {
  std::string s;
  for (std::size_t a = 0; a < js.size(); ++a)
    s += (a == 0 ? "" : a + 1 == js.size() ? " and " : ", ") + std::to_string(js[a] + 1);
  return s;
}

// Quantile p of sorted values (linear interpolation, numpy's default).
double quantile(const std::vector<double>& v, double p) {
  const double at = p * static_cast<double>(v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(at);
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (at - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

}  // namespace

double smallest_principal_angle(const std::vector<double>& a_in, int p,
                                const std::vector<double>& b_in, int q, int rows) {
  std::vector<double> a = a_in, b = b_in;
  orthonormalize(a, p, rows);
  orthonormalize(b, q, rows);
  // W = (I − P_b) Â, the projection applied twice so that W keeps its accuracy when small.
  for (int pass = 0; pass < 2; ++pass)
    for (int j = 0; j < p; ++j) {
      double* aj = a.data() + static_cast<std::size_t>(j) * rows;
      for (int l = 0; l < q; ++l) {
        const double* bl = b.data() + static_cast<std::size_t>(l) * rows;
        double d = 0;
        for (int i = 0; i < rows; ++i) d += bl[i] * aj[i];
        for (int i = 0; i < rows; ++i) aj[i] -= d * bl[i];
      }
    }
  // Its singular values are the sines of the principal angles (and 1 for the directions of span(a)
  // beyond dim span(b)).
  return std::asin(std::min(1.0, smallest_singular_value(std::move(a), p, rows)));
}

double ClvPlan::bytes(int rows, int k) const {
  const double kd = static_cast<double>(k), rk = static_cast<double>(rows) * kd;
  // The R factors and the bases kept, then the working copies of the forward reads (one R, one
  // basis) and of the backward pass and statistics (the vectors, their copy and the output, the
  // kClvStarts C's and the angles' k × k matrices).
  return 8.0 *
         (static_cast<double>(window) * kd * kd +
          static_cast<double>(basis_instants().size()) * rk + 4 * rk + (kClvStarts + 5) * kd * kd);
}

std::vector<std::int64_t> ClvPlan::basis_instants() const {
  std::set<std::int64_t> s(vector_instants.begin(), vector_instants.end());
  s.insert(sample_instants.begin(), sample_instants.end());
  return {s.begin(), s.end()};
}

ClvPlan make_clv_plan(const SpectrumOptions& opt, const Schedule& sched) {
  ClvPlan p;
  if (!opt.clv_requested()) return p;
  p.ons_time = static_cast<double>(sched.steps_per_ons) * sched.step_time;
  p.window = opt.clv_window > 0 ? std::llround(opt.clv_window / p.ons_time) : sched.ons_sim;
  if (p.window > sched.ons_sim)
    throw InvalidInput(OptionId::clv_window, fmt(opt.clv_window),
                       " is longer than the averaged time " + fmt(sched.averaged_time()));
  p.transient =
      opt.clv_transient ? std::llround(*opt.clv_transient / p.ons_time) : sched.ons_warmup;
  if (2 * p.transient > p.window)
    throw InvalidInput(
        "the covariant-vector window (" + fmt(static_cast<double>(p.window) * p.ons_time) +
        (opt.clv_window > 0 ? ", --clv-window" : ", the averaged time; --clv-window") +
        ") must be at least twice the backward transient (" +
        fmt(static_cast<double>(p.transient) * p.ons_time) +
        (opt.clv_transient ? ", --clv-transient" : ", --t-ons-warmup; --clv-transient") +
        "): lengthen the window or shorten the transient");
  if (opt.clv) p.vector_instants.push_back(p.window / 2);
  p.stats = opt.clv_stats;
  p.window_is_all = !(opt.clv_window > 0);
  if (p.stats) {
    const std::int64_t last = p.last_usable();  // ≥ 1: window ≥ 2·transient and window ≥ 1
    const std::int64_t count = std::min(last + 1, kClvSamples);
    std::set<std::int64_t> s;
    for (std::int64_t i = 0; i < count; ++i)
      s.insert(count == 1 ? 0
                          : std::llround(static_cast<double>(i) * static_cast<double>(last) /
                                         static_cast<double>(count - 1)));
    p.sample_instants.assign(s.begin(), s.end());
  }
  return p;
}

KeptSeries clv_kept_series(const ClvPlan& plan, int rows, int k, bool window_given) {
  const double per_r = 8.0 * k * static_cast<double>(k) / kMiB;
  return {"covariant vectors over " + std::to_string(plan.window) + " re-orthonormalisations (" +
              fmt(static_cast<double>(plan.window) * plan.ons_time) +
              " time units, k = " + std::to_string(k) + "; " + fmt(per_r) + " MiB per R factor, " +
              fmt(8.0 * rows * static_cast<double>(k) / kMiB) + " MiB per basis kept)",
          plan.window == 0 ? 0.0 : plan.bytes(rows, k),
          std::string(window_given ? "shorten --clv-window or give a smaller --k"
                                   : "give a shorter --clv-window or a smaller --k")};
}

void check_clv_memory(const ClvPlan& plan, int rows, int k, double available, bool window_given) {
  check_kept_memory({clv_kept_series(plan, rows, k, window_given)}, available);
}

ClvRecorder::ClvRecorder(ClvPlan plan, int rows, int k, std::uint64_t seed)
    : plan_(std::move(plan)), rows_(rows), k_(k), seed_(seed) {
  for (std::int64_t i : plan_.basis_instants()) bases_[i];
  r_.reserve(static_cast<std::size_t>(plan_.window) * kk());
}

void ClvRecorder::add_basis(std::int64_t instant, std::vector<double> q) {
  if (q.size() != static_cast<std::size_t>(rows_) * static_cast<std::size_t>(k_))
    throw Error("covariant vectors: a basis of the wrong size");
  bases_.at(instant) = std::move(q);
}

void ClvRecorder::add_r(const std::vector<double>& r) {
  if (r.size() != kk()) throw Error("covariant vectors: an R factor of the wrong size");
  if (complete()) throw Error("covariant vectors: more R factors than the window");
  // A singular step is known now: say so at once rather than after the whole run.
  const std::size_t k = static_cast<std::size_t>(k_);
  const std::size_t at = r_.size() / kk() + 1;
  for (std::size_t l = 0; l < k; ++l) {
    const double d = r[l * k + l];
    if (d == 0 || !std::isfinite(d)) throw singular_r(static_cast<std::int64_t>(at), l, d);
  }
  r_.insert(r_.end(), r.begin(), r.end());
}

std::vector<std::string> convergence_warnings(const std::vector<double>& convergence,
                                              const std::vector<double>& exponents,
                                              const std::vector<double>& stderr_,
                                              std::int64_t back_steps, double ons_time, bool stats,
                                              bool window_is_all) {
  std::vector<std::string> out;
  const std::size_t k = convergence.size();
  auto se = [&](std::size_t j) {
    const double e = j < stderr_.size() ? stderr_[j] : 0.0;
    return std::isfinite(e) ? e : 0.0;
  };
  // Vector j's error decays (backwards) like e^{−(λ_{j−1} − λ_j) t}: the gap to the exponent above
  // it. Where that gap is zero within 3 standard errors, vectors j − 1 and j span an Oseledets
  // subspace of dimension 2 (or more) in which no single vector is covariant: their estimates
  // differ by O(1) at any transient, and only their span is defined.
  std::vector<bool> degenerate(k, false);
  std::vector<std::size_t> not_converged;
  std::string groups;
  for (std::size_t j = 1; j < k && j < exponents.size(); ++j) {
    const double gap = exponents[j - 1] - exponents[j];
    if (std::isfinite(gap) && gap <= 3 * std::hypot(se(j - 1), se(j))) {
      degenerate[j] = true;
      groups += std::string(groups.empty() ? "" : "; ") + std::to_string(j) + " and " +
                std::to_string(j + 1) + " (" + fmt(exponents[j - 1]) + ", " + fmt(exponents[j]) +
                ")";
    }
  }
  double extra = 0;  // backward time the worst vector needs beyond what it had
  std::string angles;
  for (std::size_t j = 0; j < k; ++j) {
    if (degenerate[j] || !(convergence[j] > kClvConvergenceTolerance)) continue;
    not_converged.push_back(j);
    char a[32];
    std::snprintf(a, sizeof a, "%.2g", convergence[j]);
    angles += std::string(angles.empty() ? "" : ", ") + a;
    const double gap = j > 0 && j < exponents.size() ? exponents[j - 1] - exponents[j] : 0.0;
    if (std::isfinite(gap) && gap > 0)
      extra = std::max(extra, std::log(convergence[j] / kClvConvergenceTolerance) / gap);
  }
  const double had = static_cast<double>(back_steps) * ons_time;
  if (!not_converged.empty()) {
    // Whole t_ons, rounded up.
    const double need = std::ceil((had + extra) / ons_time) * ons_time;
    const std::string more =
        extra > 0
            ? (stats ? "give --clv-transient " + fmt(need) + " or more (and a " +
                           (window_is_all ? "--t-sim" : "--clv-window") + " of at least twice that)"
                     : (window_is_all ? "give a --t-sim of " : "give a --clv-window of ") +
                           fmt(2 * need) + " or more (the vectors are at the middle of " +
                           (window_is_all ? "the averaging time)" : "the window)"))
            : (stats           ? "give a longer --clv-transient"
               : window_is_all ? "give a longer --t-sim"
                               : "give a longer --clv-window");
    out.push_back("covariant vector" + std::string(not_converged.size() > 1 ? "s " : " ") +
                  vector_list(not_converged) +
                  " may not have converged: backward passes from independent random starts "
                  "differ by up to " +
                  angles + " rad (more than " + fmt(kClvConvergenceTolerance) + ") after " +
                  fmt(had) + " time units of backward iteration; " + more);
  }
  if (!groups.empty())
    out.push_back("covariant vectors " + groups +
                  ": their exponents are not told apart by 3 standard errors; if they are equal, "
                  "only their span is defined, not each vector (no transient makes them "
                  "converge), else a longer --t-sim resolves them");
  return out;
}

namespace {

// The starting Cs: random, upper triangular, unit columns. The first gives the vectors; the
// others, from other seeds, run the same backward pass over the same R factors only to estimate
// how far the vectors still are from convergence (convergence_angle).
std::vector<std::vector<double>> starting_cs(std::uint64_t seed, int k) {
  const std::size_t ku = static_cast<std::size_t>(k);
  std::vector<std::vector<double>> cs;
  for (int s = 0; s < kClvStarts; ++s) {
    std::vector<double> c0 =
        initial_basis(k, k, mix_seed(seed ^ (0x636c76ull + (static_cast<std::uint64_t>(s) << 24))));
    for (std::size_t j = 0; j < ku; ++j) {
      for (std::size_t i = j + 1; i < ku; ++i) c0[j * ku + i] = 0;
      const double nj = norm(c0.data() + j * ku, k);
      for (std::size_t i = 0; i <= j; ++i) c0[j * ku + i] /= nj;
    }
    cs.push_back(std::move(c0));
  }
  return cs;
}

// The backward pass of ClvRecorder::finish over the recorded R factors and bases, from the
// window's end to instant 0: its phases are one step back (step_back), the vectors at a reported
// instant (at_instant, sample) and the statistics at the end (statistics).
class BackwardPass {
 public:
  BackwardPass(const ClvPlan& plan, int rows, int k, std::uint64_t seed,
               const std::vector<double>& r,
               const std::map<std::int64_t, std::vector<double>>& bases)
      : plan_(plan),
        rows_(rows),
        k_(k),
        ku_(static_cast<std::size_t>(k)),
        r_(r),
        bases_(bases),
        last_(plan.last_usable()),
        cs_(starting_cs(seed, k)),
        n_blocks_(std::min<std::int64_t>(last_, kMaxBlocks)),
        total_(ku_, 0.0),
        block_sums_(static_cast<std::size_t>(n_blocks_), std::vector<double>(ku_, 0.0)),
        ipr_(ku_, 0.0),
        kept_(plan.vector_instants.size()),
        norms_(ku_),
        v_(static_cast<std::size_t>(rows) * ku_) {
    // Block b: growth steps [start[b], start[b + 1]).
    for (std::int64_t b = 0; b <= n_blocks_; ++b) block_start_.push_back(last_ * b / n_blocks_);
  }

  // The result's plan fields and the split of the vectors by the Benettin exponents.
  void start(const std::vector<double>& exponents, const std::vector<double>& stderr_);
  void run();
  // The vectors at every instant of plan.vector_instants, in order.
  std::vector<std::vector<double>>& kept() { return kept_; }
  ClvResult& result() { return out_; }
  // --clv-stats: inverse participation ratios, growth-rate exponents, angles.
  void statistics();

 private:
  void step_back(std::int64_t i);
  void solve_column(double* cj, std::size_t j, const double* r, std::int64_t i);
  void add_growth(std::int64_t i);
  void at_instant(std::int64_t i);
  void vectors_at(std::int64_t i);
  void sample();
  std::vector<double> columns(const std::vector<int>& idx) const;
  void growth_rates();

  const ClvPlan& plan_;
  int rows_, k_;
  std::size_t ku_;
  const std::vector<double>& r_;
  const std::map<std::int64_t, std::vector<double>>& bases_;
  std::int64_t last_;
  std::vector<std::vector<double>> cs_;
  std::vector<int> unstable_, stable_;
  std::int64_t n_blocks_;
  std::vector<double> total_;
  std::vector<std::vector<double>> block_sums_;
  std::vector<std::int64_t> block_start_;
  std::vector<double> ipr_, angles_;
  std::vector<std::vector<double>> kept_;
  std::vector<double> norms_, v_;
  std::int64_t samples_ = 0;
  ClvResult out_;
};

void BackwardPass::start(const std::vector<double>& exponents, const std::vector<double>& stderr_) {
  out_.window = plan_.window;
  out_.transient = plan_.transient;
  out_.ons_time = plan_.ons_time;
  out_.rows = rows_;
  out_.has_stats = plan_.stats;
  if (!plan_.vector_instants.empty()) out_.instant = plan_.vector_instants.front();
  // Unstable, stable, neutral (within 3 standard errors of zero) by the Benettin exponents.
  for (int j = 0; j < k_; ++j) {
    const double se = j < static_cast<int>(stderr_.size()) ? stderr_[j] : 0.0;
    const double tol = std::isfinite(se) ? 3 * se : 0.0;
    if (exponents[j] > tol)
      unstable_.push_back(j);
    else if (exponents[j] < -tol)
      stable_.push_back(j);
    else
      ++out_.n_neutral;
  }
  out_.n_unstable = static_cast<int>(unstable_.size());
  out_.n_stable = static_cast<int>(stable_.size());
  out_.convergence.assign(ku_, 0.0);
  out_.convergence_tolerance = kClvConvergenceTolerance;
}

void BackwardPass::run() {
  const std::int64_t window = plan_.window;
  for (std::int64_t i = window; i >= 0; --i) {
    if (i < window) step_back(i);
    if (i <= last_) at_instant(i);
  }
}

// C_i ∝ R_{i+1}⁻¹ C_{i+1}, column by column (back substitution in the upper triangle); the
// column norms of the first C are the growth factors.
void BackwardPass::step_back(std::int64_t i) {
  const double* r = r_.data() + static_cast<std::size_t>(i) * ku_ * ku_;
  for (std::size_t s = cs_.size(); s-- > 0;)
    for (std::size_t j = 0; j < ku_; ++j) solve_column(cs_[s].data() + j * ku_, j, r, i);
  if (i < last_) add_growth(i);
}

void BackwardPass::solve_column(double* cj, std::size_t j, const double* r, std::int64_t i) {
  for (std::size_t l = j + 1; l-- > 0;) {
    const double d = r[l * ku_ + l];
    if (d == 0 || !std::isfinite(d)) throw singular_r(i + 1, l, d);
    cj[l] /= d;
    for (std::size_t m = 0; m < l; ++m) cj[m] -= cj[l] * r[l * ku_ + m];
  }
  norms_[j] = norm(cj, static_cast<int>(j + 1));
  if (!(norms_[j] > 0) || !std::isfinite(norms_[j]))
    throw Error(
        "covariant vectors: the backward iteration went non-finite (the exponents' gaps "
        "times t_ons exceed what fp64 resolves): shorten --t-ons");
  for (std::size_t m = 0; m <= j; ++m) cj[m] /= norms_[j];
}

// The growth of the unit vectors from instant i to i + 1.
void BackwardPass::add_growth(std::int64_t i) {
  const std::size_t b = static_cast<std::size_t>(
      std::upper_bound(block_start_.begin(), block_start_.end(), i) - block_start_.begin() - 1);
  for (std::size_t j = 0; j < ku_; ++j) {
    const double g = -std::log(norms_[j]);
    total_[j] += g;
    block_sums_[b][j] += g;
  }
}

void BackwardPass::at_instant(std::int64_t i) {
  const auto vi = std::find(plan_.vector_instants.begin(), plan_.vector_instants.end(), i);
  const bool is_sample =
      std::binary_search(plan_.sample_instants.begin(), plan_.sample_instants.end(), i);
  if (vi == plan_.vector_instants.end() && !is_sample) return;
  vectors_at(i);
  if (vi != plan_.vector_instants.end())
    kept_[static_cast<std::size_t>(vi - plan_.vector_instants.begin())] = v_;
  // Each vector's convergence: its largest angle to the other starts' at any instant reported.
  const std::vector<double>& c = cs_.front();
  for (std::size_t s = 1; s < cs_.size(); ++s)
    for (std::size_t j = 0; j < ku_; ++j)
      out_.convergence[j] =
          std::max(out_.convergence[j],
                   convergence_angle(c.data() + j * ku_, cs_[s].data() + j * ku_, j + 1));
  if (is_sample) sample();
}

// V = Q C (C upper triangular), columns normalised.
void BackwardPass::vectors_at(std::int64_t i) {
  const std::vector<double>& q = bases_.at(i);
  if (q.empty()) throw Error("covariant vectors: a basis was not kept");
  const std::vector<double>& c = cs_.front();
  std::fill(v_.begin(), v_.end(), 0.0);
  for (std::size_t j = 0; j < ku_; ++j) {
    double* vj = v_.data() + j * static_cast<std::size_t>(rows_);
    for (std::size_t l = 0; l <= j; ++l) {
      const double clj = c[j * ku_ + l];
      const double* ql = q.data() + l * static_cast<std::size_t>(rows_);
      for (int m = 0; m < rows_; ++m) vj[m] += clj * ql[m];
    }
    const double nj = norm(vj, rows_);
    for (int m = 0; m < rows_; ++m) vj[m] /= nj;
  }
}

void BackwardPass::sample() {
  ++samples_;
  for (std::size_t j = 0; j < ku_; ++j) {
    const double* vj = v_.data() + j * static_cast<std::size_t>(rows_);
    double s = 0;
    for (int m = 0; m < rows_; ++m) s += vj[m] * vj[m] * vj[m] * vj[m];
    ipr_[j] += s;
  }
  if (unstable_.empty() || stable_.empty()) return;
  // Q is an isometry from R^k: the angles between spans of V's columns are those between the
  // spans of C's columns.
  angles_.push_back(smallest_principal_angle(columns(unstable_), static_cast<int>(unstable_.size()),
                                             columns(stable_), static_cast<int>(stable_.size()),
                                             k_));
}

std::vector<double> BackwardPass::columns(const std::vector<int>& idx) const {
  const std::vector<double>& c = cs_.front();
  std::vector<double> a;
  for (int j : idx)
    a.insert(a.end(), c.begin() + static_cast<std::ptrdiff_t>(j * ku_),
             c.begin() + static_cast<std::ptrdiff_t>((j + 1) * ku_));
  return a;
}

void BackwardPass::statistics() {
  out_.instants = samples_;
  out_.ipr.resize(ku_);
  for (std::size_t j = 0; j < ku_; ++j) out_.ipr[j] = ipr_[j] / static_cast<double>(samples_);
  growth_rates();
  if (angles_.empty()) {
    out_.angle_min = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  std::sort(angles_.begin(), angles_.end());
  for (double p : {0.05, 0.25, 0.5, 0.75, 0.95})
    out_.angle_quantiles.push_back(quantile(angles_, p));
  out_.angle_min = angles_.front();
}

// Growth-rate exponents and their weighted batch-means standard errors (as the run's).
void BackwardPass::growth_rates() {
  const double t = static_cast<double>(last_) * plan_.ons_time;
  out_.exponents.resize(ku_);
  out_.stderr_.assign(ku_, std::numeric_limits<double>::quiet_NaN());
  for (std::size_t j = 0; j < ku_; ++j) out_.exponents[j] = total_[j] / t;
  if (n_blocks_ < 2) return;
  const double nb = static_cast<double>(n_blocks_);
  for (std::size_t j = 0; j < ku_; ++j) {
    double var = 0;
    for (std::int64_t b = 0; b < n_blocks_; ++b) {
      const std::size_t bu = static_cast<std::size_t>(b);
      const double bt =
          static_cast<double>(block_start_[bu + 1] - block_start_[bu]) * plan_.ons_time;
      const double w = bt / t;
      const double d = block_sums_[bu][j] / bt - out_.exponents[j];
      var += w * w * d * d;
    }
    out_.stderr_[j] = std::sqrt(var * nb / (nb - 1));
  }
}

}  // namespace

ClvResult ClvRecorder::finish(const std::vector<double>& exponents,
                              const std::vector<double>& stderr_,
                              std::vector<std::vector<double>>* vectors,
                              std::vector<std::string>* warnings) const {
  if (!complete()) throw Error("covariant vectors: the window is not complete");
  BackwardPass pass(plan_, rows_, k_, seed_, r_, bases_);
  pass.start(exponents, stderr_);
  pass.run();
  ClvResult& out = pass.result();
  if (!pass.kept().empty()) out.vectors = pass.kept().front();
  if (vectors) *vectors = std::move(pass.kept());
  if (warnings) {
    // The reported instant with the fewest backward steps after it bounds the convergence: the
    // last sampled one (the transient) with statistics, else the vectors' (window / 2).
    const std::int64_t back = plan_.stats ? plan_.transient : plan_.window - out.instant;
    for (std::string& w : convergence_warnings(out.convergence, exponents, stderr_, back,
                                               plan_.ons_time, plan_.stats, plan_.window_is_all))
      warnings->push_back(std::move(w));
  }
  if (plan_.stats) pass.statistics();
  return std::move(out);
}

}  // namespace rnnlyap::detail
