// The seam between the algorithm (the Benettin run, run/benettin_run.hpp) and the rest: one
// Propagator for every model on every backend. make_*_propagator picks the backend (placement
// written once), checks that the run fits in the memory the process may really use, and pairs a
// model (src/core/models/) with an executor (executor.hpp) for B ≥ 1 members.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "executor.hpp"
#include "rnnlyap/network.hpp"
#include "rnnlyap/options.hpp"
#include "rnnlyap/trained.hpp"

namespace rnnlyap::detail {

/// A network's weights by columns, never whole: the distributed executor asks each rank for the
/// columns of its blocks only (network.cpp: random weights drawn from their counters, a file read
/// in pieces; --zero-diagonal applied). The bias is whole.
struct NetworkColumns {
  int n = 0;
  std::vector<double> bias;  ///< n values, or empty (none)
  /// J's columns [c0, c1), column-major, into `out` (n·(c1 − c0) values).
  std::function<void(int c0, int c1, double* out)> columns;
};

/// The weights the options describe, by columns (network.cpp); a weights file's header is read
/// and checked here, its entries when their columns are asked for.
NetworkColumns network_columns(const SpectrumOptions& opt);

/// Everything about the dynamics of a random or file network beyond its weights.
struct Dynamics {
  Model model = Model::rate;
  Integrator integrator = Integrator::euler;
  double dt = 0.1;       ///< step (rate); 1 for map
  double input_std = 0;  ///< σ of the white-noise input
};

/// The dynamics the options describe (dt is the step: 1 for map).
inline Dynamics dynamics_of(const SpectrumOptions& opt) {
  return {opt.model, opt.integrator, opt.step_time(), opt.input_std};
}

/// Bytes of the buffers of a random-network run (batch networks of n neurons, k exponents) on an
/// executor, besides the re-orthonormaliser's: for refusing a run before its weights are drawn.
/// With `layout`, its matrices as that executor holds them (a distributed executor: its blocks).
double network_model_bytes(int batch, int n, int k, const Dynamics& dyn, Precision precision,
                           const Memory* layout = nullptr);

/// The primitives of the Benettin loop for B ≥ 1 members in lockstep. State: the B states one
/// after another; basis: B blocks of rows × k (column-major); logs: B·k values, member-major. Each
/// member is re-orthonormalised on its own. Nothing returns to the host except through the
/// *_blocking calls; a GPU propagator does not wait for the device anywhere else (but for
/// CholeskyQR's verdict).
class Propagator {
 public:
  virtual ~Propagator() = default;
  Propagator() = default;
  Propagator(const Propagator&) = delete;
  Propagator& operator=(const Propagator&) = delete;

  /// Which backend runs it (backends.hpp).
  virtual BackendKind kind() const = 0;
  /// Its name: "cpu" or "cuda".
  std::string name() const { return std::string(to_string(kind())); }
  /// The CPU model or the GPU's name.
  virtual std::string device() const = 0;
  virtual int batch() const = 0;

  virtual void set_state(std::span<const double> h) = 0;
  virtual std::vector<double> state_blocking() = 0;
  /// Sets the bases from B·rows·k values (not necessarily orthonormal).
  virtual void set_basis(std::span<const double> q) = 0;
  /// One member's basis (batch 1) from its columns: `columns(c0, c1, out)` writes columns [c0, c1)
  /// of rows values each (a distributed executor asks only for those of its blocks).
  virtual void set_basis_columns(
      const std::function<void(int c0, int c1, double* out)>& columns) = 0;
  /// The bases, whole; a distributed run returns them on its writer (writes_files()) alone, and an
  /// empty vector elsewhere.
  virtual std::vector<double> basis_blocking() = 0;

  /// Advances the state only by `steps` steps; the first has global index `step0`.
  virtual void advance_state(std::int64_t step0, std::int64_t steps) = 0;
  /// Advances state and bases (Q ← D_t Q, then the state step) by `steps` steps.
  virtual void advance_tangent(std::int64_t step0, std::int64_t steps) = 0;
  /// Q = Q'R; Q ← Q'; adds log|R_ii| to the sums when `accumulate`.
  virtual void reorthonormalize(bool accumulate) = 0;
  /// The B·k sums of log|R_ii| since the last call and the largest log|R_11/R_ii| of one
  /// re-orthonormalisation among them (executor.hpp, LogSums), then resets both.
  virtual LogSums take_logs_blocking() = 0;
  /// take_logs_blocking()'s sums alone.
  std::vector<double> take_log_sums_blocking() { return take_logs_blocking().sums; }
  /// Whether `v` holds on any rank of a distributed run (collective there: every rank calls it
  /// at the same point); `v` itself for one process.
  virtual bool any_rank(bool v) = 0;
  /// Whether this process writes the run's files (checkpoints): all but the ranks other than 0
  /// of a distributed run. The basis from basis_blocking() is whole on the writer only.
  virtual bool writes_files() const = 0;
  /// Keep every later re-orthonormalisation's R (off by default: no memory, no copies).
  virtual void keep_r(bool on) = 0;
  /// The B factors R of the last reorthonormalize(): each k×k, upper triangular, column-major,
  /// such that the basis before it equals the basis after it times R (covariant vectors,
  /// clv.hpp); needs keep_r(true) before it.
  virtual std::vector<double> last_r_blocking() = 0;
};

/// Where runs go and how: `auto` is CUDA device `device` when this build finds a CUDA device and
/// the run fits there (an absent `device` is then BackendUnavailable), else the CPU.
struct Placement {
  BackendKind backend = BackendKind::auto_select;
  int device = 0;
  Precision precision = Precision::fp64;
  QrMethod qr = QrMethod::householder;
  /// The run keeps its R factors (covariant vectors): the memory check counts them.
  bool keep_r = false;
  /// The CPU's threads for the run (--threads; 0: the BLAS library's count).
  int threads = 0;
  /// One network over a grid of MPI ranks (--distribute-network; backends.hpp,
  /// DistributedBackend); 0 × 0: one process.
  int grid_rows = 0, grid_cols = 0;
};

/// B random or file networks of the same size (nets[b] with noise key keys[b]), k exponents each.
/// The networks must outlive the call only (weights are copied). Throws DoesNotFit (an
/// InvalidInput) when the run does not fit, BackendUnavailable when CUDA was asked for and is not
/// there or cannot run this build.
std::unique_ptr<Propagator> make_network_propagator(const Placement& where,
                                                    const std::vector<const Network*>& nets,
                                                    const Dynamics& dyn,
                                                    const std::vector<std::uint64_t>& keys, int k);

/// One network given by columns (--distribute-network: never whole on one rank), k exponents.
std::unique_ptr<Propagator> make_network_propagator(const Placement& where,
                                                    const NetworkColumns& net, const Dynamics& dyn,
                                                    std::uint64_t key, int k);

/// A trained cell driven by input sequences first … first + count − 1 of `inputs` (one member
/// each), k exponents of a basis with net.state_size() rows (net.hidden with lstm_h_only).
std::unique_ptr<Propagator> make_cell_propagator(const Placement& where, const CellNetwork& net,
                                                 const InputSequences& inputs, int first, int count,
                                                 int k, bool lstm_h_only);

/// The placement the options ask for.
inline Placement placement_of(const SpectrumOptions& opt) {
  return {opt.backend,         opt.device,  opt.precision, opt.qr,
          opt.clv_requested(), opt.threads, opt.grid_rows, opt.grid_cols};
}

/// Refuses (InvalidInput) random weights that cannot fit before they are drawn: the host's copy
/// (N² doubles) and, when the CPU runs the propagation, the model's buffers (a GPU checks its own
/// memory when placed). Does nothing for weights from a file.
void check_weights_fit(const SpectrumOptions& opt);

/// The backend `where` resolves to (backends.hpp, resolve_backend): cpu or cuda.
BackendKind placed_backend(const Placement& where);
/// True when `where` resolves to a CUDA device (auto with a device present, or cuda).
inline bool placement_is_cuda(const Placement& where) {
  return placed_backend(where) == BackendKind::cuda;
}

}  // namespace rnnlyap::detail
