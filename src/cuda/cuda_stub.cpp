// The CUDA backend of a build without CUDA: it links, reports no devices, and says clearly why it
// cannot run when asked for.
#include "../core/backend.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"

namespace rnnlyap {

std::vector<DeviceInfo> cuda_devices() {
  return {};
}

namespace detail {

std::unique_ptr<Backend> make_cuda_backend(Precision, QrMethod, int) {
  throw BackendUnavailable(
      "--backend cuda: this rnnlyap was built without CUDA (no CUDA compiler found at configure "
      "time); rebuild with nvcc on the PATH or use --backend cpu");
}

std::unique_ptr<BatchBackend> make_cuda_batch_backend(Precision, QrMethod, int) {
  throw BackendUnavailable(
      "--backend cuda: this rnnlyap was built without CUDA (no CUDA compiler found at configure "
      "time); rebuild with nvcc on the PATH or use --backend cpu");
}

std::unique_ptr<CellBackend> make_cuda_cell_backend(Precision, QrMethod, int) {
  throw BackendUnavailable(
      "--backend cuda: this rnnlyap was built without CUDA (no CUDA compiler found at configure "
      "time); rebuild with nvcc on the PATH or use --backend cpu");
}

}  // namespace detail
}  // namespace rnnlyap
