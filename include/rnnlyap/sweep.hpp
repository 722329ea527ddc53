// Parameter sweeps over gain, tail index and size (README, "Sweeps"), and the
// transition gain where λ_max crosses zero.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rnnlyap/options.hpp"
#include "rnnlyap/result.hpp"

namespace rnnlyap {

/// The grid: every combination of g, alpha (empty: gaussian weights) and n; each point is an
/// ensemble of base.ensemble networks with the other options of `base`.
struct SweepSpec {
  SpectrumOptions base;
  std::vector<double> g;
  std::vector<double> alpha;
  std::vector<int> n;
};

/// One grid point: ensemble means and standard errors (for one network, the run's own standard
/// error of λ_max and NaN for the others), and every member's spectrum.
struct SweepPoint {
  double g = 0;
  std::optional<double> alpha;
  int n = 0;
  int k = 0;  ///< exponents computed per member (the sweep's k, or n)
  int ensemble = 1;
  double max_exponent = 0, max_exponent_stderr = 0;
  double ky_dimension = 0, ky_dimension_stderr = 0;
  double ks_entropy = 0, ks_entropy_stderr = 0;
  double fraction_positive = 0, fraction_positive_stderr = 0;
  double mean_exponent = 0, mean_exponent_stderr = 0;
  double seconds = 0;
  /// members[m] = member m's exponents (seed base.seed + m), in QR order; ensemble × k.
  std::vector<std::vector<double>> members;
};

/// The gain where λ_max first crosses zero upwards, by linear interpolation between the two grid
/// points around the crossing; the error bar propagates their standard errors. The prediction is
/// g* = exp(-<Ξ>) for levy weights (docs/design.md) and the mean-field onset 1 for gaussian weights
/// without input noise.
///
/// In finite networks λ_max sits on a plateau at 0 just above onset (cycles, tori), where the first
/// zero crossing is decided by noise. `g_significant` is the smallest grid gain from which on λ_max
/// exceeds kSignificance standard errors at every larger grid gain too; `g_significant_after` is
/// the grid gain before it (the onset lies between the two). `neutral_window` spans the grid gains
/// between the last significantly negative λ_max and g_significant where |λ_max| ≤ kSignificance
/// standard errors (consistent with 0).
struct Transition {
  std::optional<double> alpha;
  int n = 0;
  std::optional<double> g_cross, g_cross_stderr, g_star_predicted;
  std::optional<double> g_significant, g_significant_after;
  std::optional<std::pair<double, double>> neutral_window;
};

/// Standard errors that make λ_max significantly different from 0 (Transition).
inline constexpr double kSignificance = 3.0;

struct SweepResult {
  std::vector<SweepPoint> grid;
  std::vector<Transition> transitions;
  SweepSpec spec;
  /// Points taken from the partial file, and what was found there and not used (a line whose
  /// check fails, a duplicate, a point that is not on the grid).
  int resumed_points = 0;
  std::vector<std::string> warnings;
};

/// Parses "a:b:step" (inclusive of b within step/1000) or "x,y,z". Throws InvalidInput.
std::vector<double> parse_grid(const std::string& text, const std::string& flag);

/// The summary of one grid point from its ensemble.
SweepPoint sweep_point(const EnsembleResult& e, double g, std::optional<double> alpha, int n);
/// Transition gains of a grid (one per alpha and n).
std::vector<Transition> find_transitions(const std::vector<SweepPoint>& grid,
                                         const SpectrumOptions& base);

/// Runs the sweep. Every grid point is validated, and its memory checked, before any is computed.
/// Each finished member of each point is appended to `partial_path` (a unit file, units.hpp,
/// created when the first point finishes) as the points complete. When that file exists, its
/// units are matched to the grid by their (g, alpha, n) and member, never by position: units of
/// this grid are kept (a point with some members kept computes only the others), every other line
/// (a failed check, a duplicate, a point off the grid) is ignored and reported in `warnings`. A
/// file written with other options (those that change the numbers: not backend, device or
/// threads) throws InvalidInput. `partial_path` must be a regular file or not exist yet (a symlink
/// is written through to its target, which is read back): a directory, a FIFO, a device or a
/// missing folder throws InvalidInput ("cannot write PATH (partial file): ...") before anything is
/// computed. `progress(done, total, label)` counts points and is called before each point that is
/// computed.
SweepResult run_sweep(
    const SweepSpec& spec, const std::string& partial_path,
    const std::function<void(int done, int total, const std::string& label)>& progress = {},
    const std::function<bool()>& stop_requested = {});

/// The sweep JSON of the README ("Using rnnlyap") (grid, transition, params) and the grid as CSV.
std::string sweep_json(const SweepResult& r, int indent = 2);
std::string sweep_csv(const SweepResult& r);

}  // namespace rnnlyap
