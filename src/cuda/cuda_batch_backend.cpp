// CUDA batch propagator: placeholder until the batched implementation lands.
#include "../core/backend.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {

std::unique_ptr<BatchBackend> make_cuda_batch_backend(Precision, QrMethod, int) {
  throw BackendUnavailable("the batched CUDA ensemble path is not implemented yet");
}

}  // namespace rnnlyap::detail
