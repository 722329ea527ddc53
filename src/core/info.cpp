// Build and machine information for `rnnlyap info`.
#include <unistd.h>

#include <fstream>
#include <string>

#include "../cpu/blas_lapack.hpp"
#include "backend.hpp"
#include "rnnlyap/info.hpp"

#ifndef RNNLYAP_VERSION
#define RNNLYAP_VERSION "0.0.0"
#endif

namespace rnnlyap {

std::string version() {
  return RNNLYAP_VERSION;
}

std::vector<std::string> compiled_backends() {
#ifdef RNNLYAP_HAVE_CUDA
  return {"cpu", "cuda"};
#else
  return {"cpu"};
#endif
}

std::string blas_info() {
  return cpu::blas_description();
}

std::size_t host_memory_bytes() {
  // MemAvailable is what a new allocation can get without swapping; fall back to physical pages.
  std::ifstream f("/proc/meminfo");
  std::string key;
  std::size_t value = 0;
  std::string unit;
  while (f >> key >> value >> unit)
    if (key == "MemAvailable:") return value * 1024;
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page)
                               : 0;
}

namespace detail {

std::unique_ptr<Backend> make_backend(BackendKind kind, Precision precision, QrMethod qr) {
  switch (kind) {
    case BackendKind::cpu:
      return make_cpu_backend(precision, qr);
    case BackendKind::cuda:
      return make_cuda_backend(precision, qr, 0);
    case BackendKind::auto_select:
      if (!cuda_devices().empty()) return make_cuda_backend(precision, qr, 0);
      return make_cpu_backend(precision, qr);
  }
  return make_cpu_backend(precision, qr);
}

}  // namespace detail
}  // namespace rnnlyap
