// What this build of rnnlyap contains and what it finds on the machine (`rnnlyap info`).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace rnnlyap {

/// A CUDA device as seen by the runtime.
struct DeviceInfo {
  int index = 0;
  std::string name;
  int cc_major = 0;
  int cc_minor = 0;
  std::size_t total_memory = 0;
  /// 0: unknown. cuda_devices() does not ask (that would make a context on every GPU); a run asks
  /// the device it uses when it is placed.
  std::size_t free_memory = 0;
  int multiprocessors = 0;
  /// The test-only emulated device (a build with RNNLYAP_CUDA_EMULATION): not a GPU, and never
  /// chosen by `auto`.
  bool emulated = false;
};

/// The library version, "MAJOR.MINOR.PATCH".
std::string version();
/// Backends compiled into this build, e.g. {"cpu", "cuda"}.
std::vector<std::string> compiled_backends();
/// The BLAS the CPU backend links against (vendor as configured, and its own config string when
/// it offers one, e.g. OpenBLAS's build options).
std::string blas_info();
/// "" or one line on why the CPU's BLAS runs below this CPU's speed and what to set (OpenBLAS on a
/// CPU newer than its kernel table falls back to generic kernels: OPENBLAS_CORETYPE).
std::string blas_warning();
/// How one run uses the CPU's threads now: "T, rnnlyap's own team (…)" for T = 2 … 16 BLAS
/// threads, else "1" or "T, the BLAS library's threading".
std::string cpu_threads_info();
/// CUDA devices present; empty without CUDA support or without a device (never throws). Reads
/// device properties only: it makes no CUDA context on any device.
std::vector<DeviceInfo> cuda_devices();
/// Bytes this process may still allocate on the host: the machine's available memory (MemAvailable)
/// bounded by the headroom (limit − usage) of the cgroups it runs in, v2 or v1 (0 if unknown);
/// under MPI the program divides it among the ranks on the node.
std::size_t host_memory_bytes();
/// Processes that share this machine's memory (MPI ranks on one node, set by the program):
/// host_memory_bytes() is the available memory divided among them. 1 by default.
void set_host_memory_share(int processes);

}  // namespace rnnlyap
