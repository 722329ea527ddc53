// Run-time control and description of whichever BLAS was linked (looked up by symbol, so no vendor
// header is needed and a swapped-in BLAS still links).
#include <dlfcn.h>

#include <string>

#include "../core/executor.hpp"

#ifndef RNNLYAP_BLAS_VENDOR
#define RNNLYAP_BLAS_VENDOR "unknown"
#endif

namespace rnnlyap::cpu {

bool set_blas_threads(int threads) {
  using SetFn = void (*)(int);
  if (auto f = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    f(threads);
    return true;
  }
  if (auto f = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "MKL_Set_Num_Threads"))) {
    f(threads);
    return true;
  }
  if (auto f = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "bli_thread_set_num_threads"))) {
    f(threads);
    return true;
  }
  return false;
}

int blas_threads() {
  using GetFn = int (*)();
  for (const char* name :
       {"openblas_get_num_threads", "MKL_Get_Max_Threads", "bli_thread_get_num_threads"})
    if (auto f = reinterpret_cast<GetFn>(dlsym(RTLD_DEFAULT, name))) return f();
  return 0;
}

std::string blas_description() {
  std::string s = RNNLYAP_BLAS_VENDOR;
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

}  // namespace rnnlyap::cpu
