// Loading cuBLASMp, cuSOLVERMp and NCCL (cuda_mp.hpp).
#include "cuda_mp.hpp"

#include <dlfcn.h>
#include <link.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "rnnlyap/errors.hpp"

namespace rnnlyap::distributed::mp {
namespace {

struct Loaded {
  Api api;
  std::string description;  // where each library was loaded from
  std::string error;        // empty when every entry point was found
};

#ifdef RNNLYAP_CUDA_EMULATION

Loaded load() {
  Loaded out;
  out.description = "the emulated device's (test-only)";
#define RNNLYAP_MP_TAKE(f) out.api.f = &::f;
  RNNLYAP_MP_ENTRY_POINTS(RNNLYAP_MP_TAKE)
#undef RNNLYAP_MP_TAKE
  return out;
}

#else

// Folders to look in before the loader's own search: RNNLYAP_CUDAMP_LIBRARY_PATH (a
// colon-separated list), then where the build found the headers' wheels (their lib/ folders).
std::vector<std::string> folders() {
  std::vector<std::string> out;
  const auto split = [&out](const std::string& list) {
    std::size_t at = 0;
    while (at <= list.size()) {
      const std::size_t end = std::min(list.find(':', at), list.size());
      if (end > at) out.push_back(list.substr(at, end - at));
      at = end + 1;
    }
  };
  if (const char* env = std::getenv("RNNLYAP_CUDAMP_LIBRARY_PATH")) split(env);
  split(RNNLYAP_CUDAMP_LIBRARY_DIRS);
  return out;
}

// The file a loaded library came from (`fallback` if the loader does not say).
std::string path_of(void* handle, const char* fallback) {
  link_map* map = nullptr;
  return dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && *map->l_name
             ? map->l_name
             : fallback;
}

// dlopen of `soname`, from the first folder that has it, else by the loader's search. Returns null
// with `why` set when it cannot be loaded: the loader's message for a file that exists but does
// not load (a dependency missing, an undefined symbol), else for the search.
void* open_library(const char* soname, std::string& where, std::string& why) {
  std::string exists_error;
  for (const std::string& dir : folders()) {
    const std::string path = dir + "/" + soname;
    if (void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
      where = path;
      return h;
    }
    const char* e = dlerror();
    struct stat st {};
    if (exists_error.empty() && ::stat(path.c_str(), &st) == 0)
      exists_error = e ? e : path + " exists but does not load";
  }
  if (void* h = dlopen(soname, RTLD_NOW | RTLD_GLOBAL)) {
    where = path_of(h, soname);
    return h;
  }
  const char* e = dlerror();
  why = !exists_error.empty() ? exists_error : (e ? e : std::string(soname) + " not found");
  return nullptr;
}

Loaded load() {
  Loaded out;
  // cuBLASMp and cuSOLVERMp first: their run paths find the NCCL they were built against (the
  // wheels' nvidia/nccl/lib), which is then the one taken; another is searched for only if they
  // did not load one.
  void* handles[3] = {nullptr, nullptr, nullptr};  // nccl, cublasmp, cusolvermp
  const char* names[3] = {"libnccl.so.2", "libcublasmp.so.0", "libcusolverMp.so.0"};
  for (int i : {1, 2, 0}) {
    std::string where, why;
    if (i == 0 && (handles[0] = dlopen(names[0], RTLD_NOW | RTLD_NOLOAD)))
      where = path_of(handles[0], "already loaded by them");
    else
      handles[i] = open_library(names[i], where, why);
    if (!handles[i]) {
      out.error = std::string(names[i]) + " cannot be loaded: " + why;
      return out;
    }
    out.description += (i == 1 ? "" : ", ") + std::string(names[i]) + " (" + where + ")";
  }
  // Each entry point from its library, by the name's prefix.
  const auto symbol = [&](const std::string& name) -> void* {
    if (!out.error.empty()) return nullptr;
    void* lib = handles[name.rfind("nccl", 0) == 0 ? 0 : name.rfind("cublasMp", 0) == 0 ? 1 : 2];
    void* p = dlsym(lib, name.c_str());
    if (!p) out.error = "the loaded library lacks " + name;
    return p;
  };
#define RNNLYAP_MP_TAKE(f) out.api.f = reinterpret_cast<decltype(&::f)>(symbol(#f));
  RNNLYAP_MP_ENTRY_POINTS(RNNLYAP_MP_TAKE)
#undef RNNLYAP_MP_TAKE
  return out;
}

#endif

const Loaded& loaded() {
  static const Loaded once = load();
  return once;
}

}  // namespace

const Api& api() {
  const Loaded& l = loaded();
  if (!l.error.empty())
    throw BackendUnavailable(
        "--distribute-network with --backend cuda needs cuBLASMp, cuSOLVERMp and NCCL (pip install "
        "nvidia-cublasmp-cu13 nvidia-cusolvermp-cu13 nvidia-nccl-cu13; RNNLYAP_CUDAMP_LIBRARY_PATH "
        "names their lib folders): " +
        l.error);
  return l.api;
}

std::string describe(bool& ok) {
  const Loaded& l = loaded();
  ok = l.error.empty();
  return ok ? l.description : l.error;
}

}  // namespace rnnlyap::distributed::mp
