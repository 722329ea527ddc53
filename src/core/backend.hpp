// The seam between the algorithm (src/core/driver.cpp) and the backends (src/cpu, src/cuda).
// A backend implements a handful of primitives; the driver calls only these (DESIGN.md §2).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rnnlyap/network.hpp"
#include "rnnlyap/options.hpp"
#include "rnnlyap/trained.hpp"

namespace rnnlyap::detail {

/// Everything about the dynamics a backend needs to advance state and tangent basis.
struct Dynamics {
  Model model = Model::rate;
  Integrator integrator = Integrator::euler;
  double dt = 0.1;              ///< step (rate); 1 for map
  double input_std = 0;         ///< σ of the white-noise input
  std::uint64_t noise_key = 0;  ///< key of the counter-based noise generator
};

/// The primitives of the Benettin loop (src/core/driver.cpp), common to every model. State h (its
/// own length), basis Q (dim×k, column-major) and the log accumulator (k) live in the backend's
/// memory. Nothing returns to the host except through state(), basis() and take_log_sums(); a GPU
/// backend does not synchronise with the host anywhere else.
class Propagator {
 public:
  virtual ~Propagator() = default;
  Propagator() = default;
  Propagator(const Propagator&) = delete;
  Propagator& operator=(const Propagator&) = delete;

  /// "cpu" or "cuda".
  virtual std::string name() const = 0;
  /// Human-readable device (CPU model or GPU name).
  virtual std::string device() const = 0;

  virtual void set_state(std::span<const double> h) = 0;
  virtual std::vector<double> state() = 0;
  /// Sets Q from dim×k column-major values (not necessarily orthonormal).
  virtual void set_basis(std::span<const double> q) = 0;
  virtual std::vector<double> basis() = 0;

  /// Advances the state only by `steps` steps; the first has global index `step0` (noise counter,
  /// input index).
  virtual void advance_state(std::int64_t step0, std::int64_t steps) = 0;
  /// Advances state and basis (Q ← D_t Q before h moves) by `steps` steps from global step `step0`.
  virtual void advance_tangent(std::int64_t step0, std::int64_t steps) = 0;
  /// Q = Q'R; Q ← Q'. Adds log|R_ii| to the accumulator when `accumulate` is true.
  virtual void reorthonormalize(bool accumulate) = 0;
  /// Returns the accumulated Σ log|R_ii| (k values) and zeroes the accumulator.
  virtual std::vector<double> take_log_sums() = 0;
};

/// A propagator for random and file networks (models rate and map).
class Backend : public Propagator {
 public:
  /// Copies the network and dynamics, allocates state, a basis of k columns and the accumulator
  /// (zeroed). Throws InvalidInput if the run does not fit in the backend's memory.
  virtual void upload(const Network& net, const Dynamics& dyn, int k) = 0;
};

/// A batch of B networks of the same size, run in lockstep as one block-diagonal system: the state
/// is the B states one after another (B·n), the basis the B bases one after another (B blocks of
/// n×k, each column-major with leading dimension n), and the logs B·k values (member-major). Each
/// block is re-orthonormalised on its own. Member b uses noise key dyn_keys[b].
class BatchBackend : public Propagator {
 public:
  virtual void upload(const std::vector<Network>& nets, const Dynamics& dyn,
                      const std::vector<std::uint64_t>& noise_keys, int k) = 0;
};

/// The CPU batch: B CPU backends behind one propagator (used to test the batched driver path).
std::unique_ptr<BatchBackend> make_cpu_batch_backend(Precision precision, QrMethod qr);
/// The CUDA batch: strided-batched products and QRs for many small networks; throws
/// BackendUnavailable without CUDA or a device.
std::unique_ptr<BatchBackend> make_cuda_batch_backend(Precision precision, QrMethod qr, int device);

/// A propagator for trained cells driven by one input sequence (step t reads input t).
class CellBackend : public Propagator {
 public:
  /// Copies the weights and the inputs (steps × input_size, C order); the tangent basis has k
  /// columns of net.state_size() rows, or net.hidden rows with lstm_h_only.
  virtual void upload(const CellNetwork& net, std::span<const double> inputs, int steps, int k,
                      bool lstm_h_only) = 0;
  /// reorthonormalize() in two halves, so that a batch of propagators can queue every member's
  /// QR before it waits on any (a GPU propagator's CholeskyQR2 waits once, for its fallback
  /// verdict). begin queues, and may complete, the QR; end completes it. By default begin does it
  /// all.
  virtual void reorthonormalize_begin(bool accumulate) { reorthonormalize(accumulate); }
  virtual void reorthonormalize_end() {}
};

/// Creates the CUDA propagator for trained cells; throws BackendUnavailable without CUDA or a
/// device.
std::unique_ptr<CellBackend> make_cuda_cell_backend(Precision precision, QrMethod qr, int device);

/// Creates the CPU propagator for trained cells.
std::unique_ptr<CellBackend> make_cpu_cell_backend(Precision precision, QrMethod qr);

/// Creates the CPU backend (always compiled).
std::unique_ptr<Backend> make_cpu_backend(Precision precision, QrMethod qr);
/// Creates the CUDA backend on device `device`; throws BackendUnavailable when built without CUDA
/// or when no device is present.
std::unique_ptr<Backend> make_cuda_backend(Precision precision, QrMethod qr, int device);
/// Resolves `auto` and creates the backend.
std::unique_ptr<Backend> make_backend(BackendKind kind, Precision precision, QrMethod qr);

}  // namespace rnnlyap::detail
