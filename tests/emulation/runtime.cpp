// The CUDA runtime of the emulated device (test-only): device memory is host memory, tracked, so
// that every call can check the space and extent of its pointers; it is poisoned with NaN when
// allocated. Work queued on a stream runs only when something synchronises with that stream
// (stream or event synchronisation, cudaDeviceSynchronize, a blocking copy on the legacy default
// stream), so a host read of a result without a sync sees stale data. Every check cites the CUDA
// Runtime API reference (section named) or its "API synchronization behavior" page.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "emu_runtime.hpp"

// The opaque types of driver_types.h, defined here.
struct CUstream_st {
  struct Op {
    std::string what;
    std::function<void()> work;
    std::vector<std::uint64_t> uses;  // allocation ids
  };
  std::deque<Op> queue;
  std::uint64_t queued = 0, done = 0;  // ops ever queued, ops ever run
  unsigned flags = 0;
};
struct CUevent_st {
  CUstream_st* stream = nullptr;  // recorded on
  std::uint64_t target = 0;       // the op count that completes it
  unsigned flags = 0;
};

namespace rnnlyap::emu {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

struct Block {
  std::size_t bytes = 0;
  Space space = Space::device;
  std::uint64_t id = 0;
};

}  // namespace

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr) return fallback;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v, &end, 10);
  if (*v == '\0' || *v == '-' || *end != '\0' || n == 0)
    violation(name, std::string("'") + v + "' is not a positive whole number");
  return n;
}

namespace {

struct State {
  std::recursive_mutex mutex;
  std::map<std::uintptr_t, Block> blocks;  // by base address
  std::uint64_t next_id = 1;
  std::size_t device_used = 0;
  std::size_t device_total = 0;
  CUstream_st legacy;  // the legacy default stream (0)
  std::vector<CUstream_st*> streams;
  State() {
    // RNNLYAP_EMULATED_DEVICE_MIB sets the device's memory (default 8 GiB).
    device_total = env_number("RNNLYAP_EMULATED_DEVICE_MIB", 8192) * kMiB;
  }
};

State& state() {
  static State* s = new State;  // never destroyed: frees may come from static destructors
  return *s;
}

thread_local cudaError_t t_last_error = cudaSuccess;
thread_local int t_device = 0;

using Lock = std::lock_guard<std::recursive_mutex>;

// The allocation containing p (end pointer included when `end_ok`), or null.
const std::pair<const std::uintptr_t, Block>* find(const void* p, bool end_ok = false) {
  auto& blocks = state().blocks;
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  auto it = blocks.upper_bound(a);
  if (it == blocks.begin()) return nullptr;
  --it;
  const std::uintptr_t end = it->first + it->second.bytes;
  return a < end || (end_ok && a == end) ? &*it : nullptr;
}

std::string hex(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

const char* space_name(Space s) {
  return s == Space::device ? "device" : s == Space::pinned_host ? "pinned host" : "pageable host";
}

void run_one(CUstream_st& s) {
  CUstream_st::Op op = std::move(s.queue.front());
  s.queue.pop_front();
  op.work();
  ++s.done;
}

void run_until(CUstream_st& s, std::uint64_t target) {
  while (s.done < target && !s.queue.empty()) run_one(s);
}

CUstream_st& stream_of(cudaStream_t s, const char* api) {
  if (s == nullptr || s == cudaStreamLegacy) return state().legacy;
  if (s == cudaStreamPerThread) violation(api, "cudaStreamPerThread is not emulated");
  const auto& all = state().streams;
  if (std::find(all.begin(), all.end(), s) == all.end())
    violation(api, "stream " + hex(s) + " was not created or was destroyed");
  return *s;
}

cudaError_t fail(cudaError_t e) {
  t_last_error = e;
  return e;
}

}  // namespace

void violation(const std::string& api, const std::string& what) {
  std::fprintf(stderr,
               "\nrnnlyap CUDA emulation: contract violation in %s: %s\n"
               "(the emulated device is stricter than a GPU; see tests/emulation/README.md)\n",
               api.c_str(), what.c_str());
  std::fflush(stderr);
  std::abort();
}

Space space_of(const void* p) {
  Lock lock(state().mutex);
  const auto* b = find(p);
  return b != nullptr ? b->second.space : Space::pageable_host;
}

std::size_t allocation_bytes(const void* p, const void** base) {
  Lock lock(state().mutex);
  const auto* b = find(p);
  if (b == nullptr || b->second.space != Space::device) return 0;
  if (base != nullptr) *base = reinterpret_cast<const void*>(b->first);
  return b->second.bytes;
}

void require_device(const void* p, std::size_t bytes, const char* api, const char* arg) {
  Lock lock(state().mutex);
  if (p == nullptr) violation(api, std::string(arg) + " is null; device memory is required");
  const auto* b = find(p, bytes == 0);
  if (b == nullptr || b->second.space != Space::device)
    violation(api, std::string(arg) + " = " + hex(p) + " is " +
                       space_name(b != nullptr ? b->second.space : Space::pageable_host) +
                       " memory; device memory is required");
  const std::size_t offset = reinterpret_cast<std::uintptr_t>(p) - b->first;
  if (bytes > b->second.bytes - offset)
    violation(api, std::string(arg) + ": " + std::to_string(bytes) + " bytes at offset " +
                       std::to_string(offset) + " overrun its allocation of " +
                       std::to_string(b->second.bytes) + " bytes");
}

void require_host(const void* p, const char* api, const char* arg) {
  if (p == nullptr) violation(api, std::string(arg) + " is null; host memory is required");
  if (space_of(p) == Space::device)
    violation(api,
              std::string(arg) + " = " + hex(p) + " is device memory; host memory is required");
}

void enqueue(cudaStream_t stream, const char* what, std::function<void()> work,
             std::vector<const void*> uses) {
  Lock lock(state().mutex);
  CUstream_st& s = stream_of(stream, what);
  CUstream_st::Op op{what, std::move(work), {}};
  for (const void* p : uses)
    if (const auto* b = find(p); b != nullptr && b->second.space == Space::device)
      op.uses.push_back(b->second.id);
  s.queue.push_back(std::move(op));
  ++s.queued;
}

void synchronize(cudaStream_t stream) {
  Lock lock(state().mutex);
  CUstream_st& s = stream_of(stream, "synchronize");
  run_until(s, s.queued);
  // The legacy default stream waits for the other blocking streams (none of ours: they are
  // non-blocking, and then it waits for none of them).
}

}  // namespace rnnlyap::emu

using namespace rnnlyap::emu;

namespace {

// Memory-space rules of cudaMemcpy*'s `kind` (CUDA Runtime API, "Memory Management": the kind
// must name the spaces of dst and src; cudaMemcpyDefault infers them under unified addressing).
void check_kind(const char* api, void* dst, const void* src, std::size_t dbytes, std::size_t sbytes,
                cudaMemcpyKind kind) {
  const bool dev_dst = space_of(dst) == Space::device, dev_src = space_of(src) == Space::device;
  switch (kind) {
    case cudaMemcpyHostToDevice:
      require_device(dst, dbytes, api, "dst");
      require_host(src, api, "src (cudaMemcpyHostToDevice)");
      return;
    case cudaMemcpyDeviceToHost:
      require_host(dst, api, "dst (cudaMemcpyDeviceToHost)");
      require_device(src, sbytes, api, "src");
      return;
    case cudaMemcpyDeviceToDevice:
      require_device(dst, dbytes, api, "dst");
      require_device(src, sbytes, api, "src");
      return;
    case cudaMemcpyHostToHost:
      require_host(dst, api, "dst (cudaMemcpyHostToHost)");
      require_host(src, api, "src (cudaMemcpyHostToHost)");
      return;
    case cudaMemcpyDefault:
      if (dev_dst) require_device(dst, dbytes, api, "dst");
      if (dev_src) require_device(src, sbytes, api, "src");
      return;
  }
  violation(api, "unknown cudaMemcpyKind " + std::to_string(static_cast<int>(kind)));
}

// A copy of `height` rows of `width` bytes, queued on `stream`. Host→device from pageable memory
// is staged now ("API synchronization behavior": the call returns once the pageable buffer has
// been copied for DMA); everything else reads and writes when the stream runs it.
cudaError_t copy2d(const char* api, void* dst, std::size_t dpitch, const void* src,
                   std::size_t spitch, std::size_t width, std::size_t height, cudaMemcpyKind kind,
                   cudaStream_t stream) {
  if (width == 0 || height == 0) return cudaSuccess;
  if (width > dpitch || width > spitch)
    violation(api, "width " + std::to_string(width) + " exceeds a pitch (dpitch " +
                       std::to_string(dpitch) + ", spitch " + std::to_string(spitch) + ")");
  const std::size_t dbytes = (height - 1) * dpitch + width, sbytes = (height - 1) * spitch + width;
  check_kind(api, dst, src, dbytes, sbytes, kind);
  std::vector<const void*> uses{dst, src};
  const bool staged = space_of(src) == Space::pageable_host && space_of(dst) == Space::device;
  if (staged) {
    std::vector<unsigned char> copy(sbytes);
    std::memcpy(copy.data(), src, sbytes);
    enqueue(
        stream, api,
        [dst, dpitch, width, height, spitch, copy = std::move(copy)]() {
          for (std::size_t r = 0; r < height; ++r)
            std::memcpy(static_cast<unsigned char*>(dst) + r * dpitch, copy.data() + r * spitch,
                        width);
        },
        std::move(uses));
  } else {
    enqueue(
        stream, api,
        [dst, dpitch, src, spitch, width, height]() {
          for (std::size_t r = 0; r < height; ++r)
            std::memmove(static_cast<unsigned char*>(dst) + r * dpitch,
                         static_cast<const unsigned char*>(src) + r * spitch, width);
        },
        std::move(uses));
  }
  return cudaSuccess;
}

const char* error_name(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorNoDevice:
      return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle:
      return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady:
      return "cudaErrorNotReady";
    default:
      return "cudaErrorUnknown";
  }
}

}  // namespace

extern "C" {

const char* cudaGetErrorName(cudaError_t error) {
  return error_name(error);
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorMemoryAllocation:
      return "out of memory (emulated device)";
    case cudaErrorInvalidDevice:
      return "invalid device ordinal";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    default:
      return error_name(error);
  }
}

cudaError_t cudaGetLastError(void) {
  const cudaError_t e = t_last_error;
  t_last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError(void) {
  return t_last_error;
}

cudaError_t cudaGetDeviceCount(int* count) {
  require_host(count, "cudaGetDeviceCount", "count");
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice);
  t_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  require_host(device, "cudaGetDevice", "device");
  *device = t_device;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* version) {
  require_host(version, "cudaDriverGetVersion", "driverVersion");
  *version = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* version) {
  require_host(version, "cudaRuntimeGetVersion", "runtimeVersion");
  *version = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  require_host(prop, "cudaGetDeviceProperties", "prop");
  if (device != 0) return fail(cudaErrorInvalidDevice);
  std::memset(prop, 0, sizeof *prop);
  std::snprintf(prop->name, sizeof prop->name, "emulated CUDA device (CPU, test-only; not a GPU)");
  prop->totalGlobalMem = state().device_total;
  prop->sharedMemPerBlock = 48 * 1024;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 0x7fffffff;
  prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 1;
  // Each process has an emulated device of its own (its own memory): its UUID says so, so that
  // ranks on one machine are ranks on distinct devices.
  const auto pid = static_cast<std::uint32_t>(::getpid());
  std::memcpy(prop->uuid.bytes, "rnnlyap-emu", 11);
  std::memcpy(prop->uuid.bytes + 12, &pid, sizeof pid);
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  require_host(value, "cudaDeviceGetAttribute", "value");
  if (device != 0) return fail(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrComputeCapabilityMajor:
      *value = 9;
      return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor:
      *value = 0;
      return cudaSuccess;
    case cudaDevAttrMultiProcessorCount:
      *value = 1;
      return cudaSuccess;
    case cudaDevAttrMaxThreadsPerBlock:
      *value = 1024;
      return cudaSuccess;
    case cudaDevAttrMaxGridDimX:
      *value = 0x7fffffff;
      return cudaSuccess;
    case cudaDevAttrMaxGridDimY:
    case cudaDevAttrMaxGridDimZ:
      *value = 65535;
      return cudaSuccess;
    default:
      violation("cudaDeviceGetAttribute",
                "attribute " + std::to_string(static_cast<int>(attr)) + " is not emulated");
  }
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total) {
  require_host(free_bytes, "cudaMemGetInfo", "free");
  require_host(total, "cudaMemGetInfo", "total");
  Lock lock(state().mutex);
  *total = state().device_total;
  *free_bytes = state().device_total - state().device_used;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** ptr, size_t size) {
  require_host(ptr, "cudaMalloc", "devPtr");
  Lock lock(state().mutex);
  *ptr = nullptr;
  if (size == 0) return cudaSuccess;
  // Accounted in 512-byte units, as the driver's small-allocation granularity.
  const std::size_t charged = (size + 511) / 512 * 512;
  if (charged > state().device_total - state().device_used) return fail(cudaErrorMemoryAllocation);
  // Exactly `size` bytes (256-aligned, as cudaMalloc's), so that AddressSanitizer reports a
  // kernel's access one element past the end.
  void* p = nullptr;
  if (::posix_memalign(&p, 256, size) != 0) return fail(cudaErrorMemoryAllocation);
  std::memset(p, 0xff, size);  // every float and double of it a NaN
  state().blocks[reinterpret_cast<std::uintptr_t>(p)] = {size, Space::device, state().next_id++};
  state().device_used += charged;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  Lock lock(state().mutex);
  auto& blocks = state().blocks;
  const auto it = blocks.find(reinterpret_cast<std::uintptr_t>(ptr));
  if (it == blocks.end() || it->second.space != Space::device)
    violation("cudaFree", hex(ptr) + " is not the start of a live device allocation");
  // cudaFree synchronises with the device in practice, but the documentation promises nothing for
  // work that still uses the memory: here, freeing it under queued work is a bug.
  const std::uint64_t id = it->second.id;
  std::vector<const CUstream_st*> queues(state().streams.begin(), state().streams.end());
  queues.push_back(&state().legacy);
  for (const CUstream_st* s : queues)
    for (const auto& op : s->queue)
      if (std::find(op.uses.begin(), op.uses.end(), id) != op.uses.end())
        violation("cudaFree", hex(ptr) + " is freed while queued work (" + op.what + ") uses it");
  state().device_used -= (it->second.bytes + 511) / 512 * 512;
  blocks.erase(it);
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, size_t size) {
  require_host(ptr, "cudaMallocHost", "ptr");
  Lock lock(state().mutex);
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) return fail(cudaErrorMemoryAllocation);
  state().blocks[reinterpret_cast<std::uintptr_t>(p)] = {size, Space::pinned_host,
                                                         state().next_id++};
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  Lock lock(state().mutex);
  auto& blocks = state().blocks;
  const auto it = blocks.find(reinterpret_cast<std::uintptr_t>(ptr));
  if (it == blocks.end() || it->second.space != Space::pinned_host)
    violation("cudaFreeHost", hex(ptr) + " is not a live cudaMallocHost allocation");
  blocks.erase(it);
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  require_host(stream, "cudaStreamCreateWithFlags", "pStream");
  Lock lock(state().mutex);
  auto* s = new CUstream_st;
  s->flags = flags;
  state().streams.push_back(s);
  *stream = s;
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  Lock lock(state().mutex);
  CUstream_st& s = stream_of(stream, "cudaStreamDestroy");
  if (&s == &state().legacy)
    violation("cudaStreamDestroy", "the default stream cannot be destroyed");
  // "In case the device is still doing work in the stream when cudaStreamDestroy() is called, the
  // function will return immediately and the resources ... released automatically once the
  // device has completed all work": the queued work runs now.
  run_until(s, s.queued);
  auto& all = state().streams;
  all.erase(std::find(all.begin(), all.end(), stream));
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  synchronize(stream);
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
  Lock lock(state().mutex);
  run_until(state().legacy, state().legacy.queued);
  for (CUstream_st* s : state().streams) run_until(*s, s->queued);
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  require_host(event, "cudaEventCreateWithFlags", "event");
  auto* e = new CUevent_st;
  e->flags = flags;
  *event = e;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  return cudaEventCreateWithFlags(event, cudaEventDefault);
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (event == nullptr) violation("cudaEventDestroy", "null event");
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (event == nullptr) violation("cudaEventRecord", "null event");
  Lock lock(state().mutex);
  CUstream_st& s = stream_of(stream, "cudaEventRecord");
  event->stream = &s;
  event->target = s.queued;
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (event == nullptr) violation("cudaEventSynchronize", "null event");
  Lock lock(state().mutex);
  if (event->stream != nullptr) run_until(*event->stream, event->target);
  return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  if (event == nullptr) violation("cudaEventQuery", "null event");
  Lock lock(state().mutex);
  return event->stream == nullptr || event->stream->done >= event->target ? cudaSuccess
                                                                          : cudaErrorNotReady;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int) {
  if (event == nullptr) violation("cudaStreamWaitEvent", "null event");
  Lock lock(state().mutex);
  CUstream_st* waited = event->stream;
  const std::uint64_t target = event->target;
  enqueue(stream, "cudaStreamWaitEvent", [waited, target]() {
    if (waited != nullptr) run_until(*waited, target);
  });
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  return copy2d("cudaMemcpyAsync", dst, count, src, count, count, 1, kind, stream);
}

cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch,
                              size_t width, size_t height, cudaMemcpyKind kind,
                              cudaStream_t stream) {
  return copy2d("cudaMemcpy2DAsync", dst, dpitch, src, spitch, width, height, kind, stream);
}

// Blocking copy on the legacy default stream: it waits for the default stream's work only; the
// project's non-blocking streams are not waited for ("Stream synchronization behavior").
cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  const cudaError_t e = copy2d("cudaMemcpy", dst, count, src, count, count, 1, kind, nullptr);
  synchronize(nullptr);
  return e;
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  require_device(ptr, count, "cudaMemsetAsync", "devPtr");
  enqueue(stream, "cudaMemsetAsync", [ptr, value, count]() { std::memset(ptr, value, count); },
          {ptr});
  return cudaSuccess;
}

cudaError_t cudaMemset(void* ptr, int value, size_t count) {
  const cudaError_t e = cudaMemsetAsync(ptr, value, count, nullptr);
  synchronize(nullptr);
  return e;
}

}  // extern "C"

namespace rnnlyap::emu {
/// Sets the error cudaGetLastError() returns next (the scheduler's launch checks).
void set_last_error(cudaError_t e) {
  t_last_error = e;
}
}  // namespace rnnlyap::emu
