// The emulated CUDA device's host-side core (test-only; never in the installed library or a wheel):
// the registry of device and pinned allocations every API entry point checks pointers against,
// deferred streams, and the contract-violation report. The CUDA runtime entry points
// (runtime.cpp), cuBLAS and cuSOLVER (blas.cpp, solver.cpp) and the kernel scheduler
// (scheduler.cpp) are built on it. Their declarations come from the real toolkit headers, so that
// a signature cannot drift from NVIDIA's.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace rnnlyap::emu {

/// Where a pointer lies.
enum class Space { device, pinned_host, pageable_host };

/// Reports a broken contract (the API, what was wrong, and the documentation it breaks) on stderr
/// and aborts: a test that reaches it fails, whatever the code around it catches.
[[noreturn]] void violation(const std::string& api, const std::string& what);

/// The space of `p` (pageable_host for anything not allocated by cudaMalloc/cudaMallocHost).
Space space_of(const void* p);

/// Requires [p, p + bytes) to lie inside one live device allocation (bytes may be 0: p must
/// still point into one, or be its end). `api` and `arg` name the call and the argument.
void require_device(const void* p, std::size_t bytes, const char* api, const char* arg);
/// Requires `p` to be host memory (pageable or pinned), not a device allocation, and not null.
void require_host(const void* p, const char* api, const char* arg);

/// Work queued on a stream. `uses` lists the device pointers it touches, so that freeing one of
/// them while the work is still queued is reported.
void enqueue(cudaStream_t stream, const char* what, std::function<void()> work,
             std::vector<const void*> uses = {});
/// Runs everything queued on `stream` (and, for the legacy default stream, on every stream).
void synchronize(cudaStream_t stream);

/// The positive whole number in environment variable `name`, or `fallback` when it is unset; any
/// other value is refused (a violation naming the variable).
std::uint64_t env_number(const char* name, std::uint64_t fallback);

/// The size in bytes of the device allocation containing p (0 when none) and its start.
std::size_t allocation_bytes(const void* p, const void** base = nullptr);

}  // namespace rnnlyap::emu
