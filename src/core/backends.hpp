// The backends this build knows, in one registry: for each BackendKind how to make its executors,
// whether it was compiled in, whether `auto` may choose it, and why a device cannot run this build.
// Creating an executor, the `auto` rule (propagator.cpp) and `rnnlyap info` (info.cpp) go through
// it. A backend's folder (src/cpu/, src/cuda/) defines its entry; backends.cpp lists the entries:
// a new backend is its folder, one line there, and its value of the public BackendKind.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "executor.hpp"
#include "rnnlyap/options.hpp"

namespace rnnlyap::detail {

/// One backend's entry in the registry.
struct Backend {
  BackendKind kind = BackendKind::cpu;
  /// Compiled into this build (`rnnlyap info`'s backends); a backend that is not answers every
  /// make with BackendUnavailable.
  bool compiled = false;
  /// Its memory is an accelerator's: a run that does not fit says "GPU memory".
  bool accelerator = false;
  /// The executor on `device` (ignored by the CPU) with `cpu_threads` (the CPU's: a run's
  /// threads, 0 the BLAS library's count; ignored by the others); throws BackendUnavailable
  /// without that device or when it cannot run this build.
  std::unique_ptr<Executor<float>> (*make_fp32)(int device, int cpu_threads) = nullptr;
  std::unique_ptr<Executor<double>> (*make_fp64)(int device, int cpu_threads) = nullptr;
  /// Why `device` cannot run this build, in one line; empty when it can (or when it does not
  /// exist: make then says so). Never throws.
  std::string (*unusable)(int device) = nullptr;
  /// `auto` takes this backend on `device` (the CPU: always; an accelerator: when a real one is
  /// present and usable). Creates no context.
  bool (*auto_choosable)(int device) = nullptr;
};

/// The entries of the backends' folders (src/cpu/cpu_executor.cpp, src/cuda/cuda_executor.cpp or
/// its stub cuda_stub.cpp).
const Backend& cpu_backend();
const Backend& cuda_backend();

/// The distributed executor (src/distributed/): one network's matrices in blocks over a grid of MPI
/// ranks (ScaLAPACK; or cuBLASMp/cuSOLVERMp on one GPU per rank). It needs MPI, which the library
/// does not link: the program registers it at start-up when it was built with MPI and ScaLAPACK.
/// The ScaLAPACK variant's executors report BackendKind::cpu.
struct DistributedBackend {
  /// "ScaLAPACK 2.2.1" (`rnnlyap info`).
  std::string (*library)() = nullptr;
  /// The executor of this rank in a grid_rows × grid_cols grid for a network of n neurons, each
  /// rank's BLAS with `cpu_threads` (0: the library's count). Throws InvalidInput when MPI is not
  /// started or the job's ranks are not grid_rows·grid_cols. Collective: every rank calls it.
  std::unique_ptr<Executor<float>> (*make_fp32)(int grid_rows, int grid_cols, int n,
                                                int cpu_threads) = nullptr;
  std::unique_ptr<Executor<double>> (*make_fp64)(int grid_rows, int grid_cols, int n,
                                                 int cpu_threads) = nullptr;
  /// The GPU variant (cuBLASMp/cuSOLVERMp, one GPU per rank; --backend cuda), null where the
  /// program was built without it. Its executors report BackendKind::cuda. Throws
  /// BackendUnavailable when the libraries cannot be loaded or a rank sees no GPU.
  std::string (*gpu_libraries)() = nullptr;
  std::unique_ptr<Executor<float>> (*make_gpu_fp32)(int grid_rows, int grid_cols, int n) = nullptr;
  std::unique_ptr<Executor<double>> (*make_gpu_fp64)(int grid_rows, int grid_cols, int n) = nullptr;
};
/// Registers the distributed executor (the program, at start-up).
void register_distributed_backend(const DistributedBackend& b);
/// The registered distributed executor, or null (a build without ScaLAPACK, or the library
/// without the program: Python, C++ users).
const DistributedBackend* distributed_backend();

/// Every registered backend, in `auto`'s order of preference (the CPU last).
const std::vector<const Backend*>& backends();
/// The entry of `kind` (not auto_select).
const Backend& backend(BackendKind kind);
/// The backend `backend` resolves to on `device`: itself, or for auto_select the first entry that
/// auto_choosable() takes.
BackendKind resolve_backend(BackendKind backend, int device);

/// An executor of `kind` (not auto_select) in precision T on `device`; a CPU executor with
/// `cpu_threads` (0: the BLAS library's count).
template <class T>
std::unique_ptr<Executor<T>> make_executor(BackendKind kind, int device, int cpu_threads = 0) {
  const Backend& b = backend(kind);
  if constexpr (std::is_same_v<T, float>)
    return b.make_fp32(device, cpu_threads);
  else
    return b.make_fp64(device, cpu_threads);
}

}  // namespace rnnlyap::detail
