// A model (TangentModel): the dynamics of B ≥ 1 members, its state step and tangent step written
// once with the executor's primitives (executor.hpp) and its family's kernels, declared beside it
// (random_network_kernels.hpp, cell_kernels.hpp). A model knows no backend; the propagator
// (propagator.hpp) drives it on any executor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../executor.hpp"

namespace rnnlyap::detail {

template <class T>
class TangentModel {
 public:
  virtual ~TangentModel() = default;
  TangentModel() = default;
  TangentModel(const TangentModel&) = delete;
  TangentModel& operator=(const TangentModel&) = delete;

  /// Members B.
  virtual int batch() const = 0;
  /// State values per member (h, or h then c for the LSTM).
  virtual int state_size() const = 0;
  /// Rows of each member's tangent basis.
  virtual int tangent_rows() const = 0;
  /// Bytes of the model's own buffers on executor `ex` for bases of k columns (before
  /// allocation; a distributed executor holds only its blocks of each matrix).
  virtual double bytes_needed(const Memory& ex, int k) const = 0;
  /// At most how many buffers upload() allocates (each may take the executor's allocation
  /// granularity beyond its size).
  virtual int buffer_count() const = 0;
  /// Allocates the buffers on `ex` (which must outlive the model's use) and uploads the weights.
  virtual void upload(Executor<T>& ex, int k) = 0;

  /// The B states one after another (B·state_size values).
  virtual void set_state(const std::vector<double>& all) = 0;
  virtual std::vector<double> state_blocking() = 0;
  /// The B bases (blocks of tangent_rows × k, column-major) in the executor's memory.
  virtual T* basis() = 0;

  /// One step of the state alone; `step` is the global step index (noise counter, input index).
  virtual void state_step(std::int64_t step) = 0;
  /// Q ← D_t Q from the current state, then the state step.
  virtual void tangent_step(std::int64_t step) = 0;
};

}  // namespace rnnlyap::detail
