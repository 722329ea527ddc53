// The CUDA side of a build without CUDA: it links, reports no devices, and says clearly why it
// cannot run when asked for.
#include "core/backends.hpp"
#include "core/executor.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"

namespace rnnlyap {

std::vector<DeviceInfo> cuda_devices() {
  return {};
}

namespace detail {

template <class T>
std::unique_ptr<Executor<T>> make_cuda_executor(int) {
  throw BackendUnavailable(
      "--backend cuda: this build of rnnlyap has no CUDA backend (no CUDA compiler found at "
      "configure time); rebuild with nvcc on the PATH or use --backend cpu");
}

template std::unique_ptr<Executor<float>> make_cuda_executor<float>(int);
template std::unique_ptr<Executor<double>> make_cuda_executor<double>(int);

std::string cuda_device_unusable(int) {
  return "this build of rnnlyap has no CUDA backend";
}

const Backend& cuda_backend() {
  static const Backend entry{
      BackendKind::cuda,
      false,
      true,
      [](int device, int) { return make_cuda_executor<float>(device); },
      [](int device, int) { return make_cuda_executor<double>(device); },
      &cuda_device_unusable,
      [](int) { return false; },
  };
  return entry;
}

}  // namespace detail
}  // namespace rnnlyap
