// Run-time control and description of whichever BLAS was linked (looked up by symbol, so no vendor
// header is needed and a swapped-in BLAS still links).
#include <dlfcn.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "../core/executor.hpp"

#ifndef RNNLYAP_BLAS_VENDOR
#define RNNLYAP_BLAS_VENDOR "unknown"
#endif

namespace rnnlyap::cpu {

namespace {

// The first of these entry points the process has: MKL's first in an MKL build, else last. A
// process may hold another BLAS too (Python's numpy brings OpenBLAS into a program linked with
// MKL), and the one to set is the one rnnlyap calls.
constexpr bool kMkl = std::string_view(RNNLYAP_BLAS_VENDOR) == "MKL";

template <class Fn>
Fn find(const char* mkl, std::initializer_list<const char*> others) {
  const auto look = [](const char* name) {
    return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
  };
  if (kMkl)
    if (Fn f = look(mkl)) return f;
  for (const char* name : others)
    if (Fn f = look(name)) return f;
  return kMkl ? nullptr : look(mkl);
}

}  // namespace

bool set_blas_threads(int threads) {
  using SetFn = void (*)(int);
  if (auto f = find<SetFn>("MKL_Set_Num_Threads",
                           {"openblas_set_num_threads", "bli_thread_set_num_threads"})) {
    f(threads);
    return true;
  }
  return false;
}

int blas_threads() {
  using GetFn = int (*)();
  if (auto f = find<GetFn>("MKL_Get_Max_Threads",
                           {"openblas_get_num_threads", "bli_thread_get_num_threads"}))
    return f();
  return 0;
}

std::string blas_description() {
  std::string s = RNNLYAP_BLAS_VENDOR;
  using VersionFn = void (*)(char*, int);
  if (auto f = kMkl ? reinterpret_cast<VersionFn>(dlsym(RTLD_DEFAULT, "MKL_Get_Version_String"))
                    : nullptr) {
    char buf[256] = {};
    f(buf, static_cast<int>(sizeof buf) - 1);
    std::string v(buf);
    while (!v.empty() && v.back() == ' ') v.pop_back();
    return s + " (" + v + ", " + std::to_string(blas_threads()) + " threads)";
  }
  using ConfigFn = char* (*)();
  if (auto f = reinterpret_cast<ConfigFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
    s += " (";
    s += f();
    using NumFn = int (*)();
    if (auto t = reinterpret_cast<NumFn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads")))
      s += ", " + std::to_string(t()) + " threads";
    s += ")";
  }
  return s;
}

std::string blas_core_warning() {
  // OpenBLAS built with DYNAMIC_ARCH picks its kernels by CPU model; a model newer than its table
  // (0.3.21 on a Sapphire Rapids Xeon) falls back to the generic SSE3 "Prescott" kernels, a
  // quarter of the dgemm rate the CPU's AVX2/AVX-512 give (15.5 against 67 GFLOP/s on one core,
  // bench/RESULTS.md). Its OPENBLAS_CORETYPE, read when the library loads, overrides the choice.
  if (kMkl) return "";  // an OpenBLAS in the process (numpy's) is not the one rnnlyap calls
  using NameFn = char* (*)();
  const auto f = reinterpret_cast<NameFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (f == nullptr) return "";
  const std::string core = f();
  std::string lower;
  for (char c : core) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  bool generic = false;  // kernels older than AVX2
  for (const char* g : {"prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai",
                        "coppermine", "northwood", "banias", "unknown"})
    generic = generic || lower == g;
#if defined(__x86_64__) || defined(__i386__)
  if (!generic || !__builtin_cpu_supports("avx2")) return "";
  const char* better = __builtin_cpu_supports("avx512f") ? "SkylakeX" : "Haswell";
  return "OpenBLAS did not recognise this CPU and runs its generic " + core +
         " kernels, though the CPU has " +
         (__builtin_cpu_supports("avx512f") ? "AVX-512" : "AVX2") +
         ": set OPENBLAS_CORETYPE=" + better +
         " in the environment for several times the speed (dgemm 4.3x on one core of a Xeon "
         "with AVX-512)";
#else
  return "";
#endif
}

}  // namespace rnnlyap::cpu
