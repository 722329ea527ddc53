// CUDA propagator for trained cells: placeholder until the implementation lands.
#include "../core/backend.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {

std::unique_ptr<CellBackend> make_cuda_cell_backend(Precision, QrMethod, int) {
  throw BackendUnavailable(
      "--backend cuda: trained rnn/gru/lstm networks have no CUDA path in this build yet");
}

}  // namespace rnnlyap::detail
