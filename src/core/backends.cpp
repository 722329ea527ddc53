// The registry of backends (backends.hpp): one line per backend.
#include "backends.hpp"

#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {

const std::vector<const Backend*>& backends() {
  static const std::vector<const Backend*> all = {
      &cuda_backend(),
      &cpu_backend(),
  };
  return all;
}

const Backend& backend(BackendKind kind) {
  for (const Backend* b : backends())
    if (b->kind == kind) return *b;
  throw Error("no backend of kind " + std::string(to_string(kind)));
}

namespace {
const DistributedBackend*& distributed_entry() {
  static const DistributedBackend* entry = nullptr;
  return entry;
}
}  // namespace

void register_distributed_backend(const DistributedBackend& b) {
  distributed_entry() = &b;
}
const DistributedBackend* distributed_backend() {
  return distributed_entry();
}

BackendKind resolve_backend(BackendKind kind, int device) {
  if (kind != BackendKind::auto_select) return kind;
  for (const Backend* b : backends())
    if (b->auto_choosable(device)) return b->kind;
  return BackendKind::cpu;
}

}  // namespace rnnlyap::detail
