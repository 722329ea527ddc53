// rnnlyap info: version, backends, devices and BLAS, as text or JSON.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "core/backends.hpp"
#include "distribute.hpp"
#include "rnnlyap/info.hpp"

namespace rnnlyap::cli {

void add_info_command(CLI::App& app, InfoCommand& c) {
  c.app = app.add_subcommand("info", "version, backends, devices and BLAS");
  c.app->add_flag("--json", c.json, "machine-readable output");
}

namespace {

// The library of --distribute-network, or empty when it is not built in.
std::string scalapack_library() {
  const detail::DistributedBackend* d = detail::distributed_backend();
  return d ? d->library() : std::string();
}

// The GPU variant of --distribute-network: where its libraries load from, or why they do not;
// empty when it is not built in.
std::string distributed_gpu_libraries() {
  const detail::DistributedBackend* d = detail::distributed_backend();
  return d && d->gpu_libraries ? d->gpu_libraries() : std::string();
}

void print_json(const std::vector<DeviceInfo>& devices) {
  nlohmann::json j = {
      {"version", version()}, {"backends", compiled_backends()}, {"blas", blas_info()}};
  const std::string slow = blas_warning();
  j["blas_warning"] = slow.empty() ? nlohmann::json(nullptr) : nlohmann::json(slow);
  j["cpu_threads"] = cpu_threads_info();
  j["mpi"] = mpi_library().empty() ? nlohmann::json(nullptr) : nlohmann::json(mpi_library());
  j["scalapack"] =
      scalapack_library().empty() ? nlohmann::json(nullptr) : nlohmann::json(scalapack_library());
  const std::string gpu = distributed_gpu_libraries();
  j["distributed_gpu"] = gpu.empty() ? nlohmann::json(nullptr) : nlohmann::json(gpu);
  j["devices"] = nlohmann::json::array();
  for (const auto& d : devices)
    j["devices"].push_back(
        {{"index", d.index},
         {"name", d.name},
         {"compute_capability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor)},
         {"total_memory", d.total_memory},
         {"free_memory",  // 0: not asked (that would make a context on every GPU)
          d.free_memory ? nlohmann::json(d.free_memory) : nlohmann::json(nullptr)},
         {"multiprocessors", d.multiprocessors},
         {"emulated", d.emulated}});
  std::cout << j.dump(2) << "\n";
}

void print_device(const DeviceInfo& d) {
  char free_text[48] = "free memory unknown";  // not asked: it would make a context per GPU
  if (d.free_memory != 0)
    std::snprintf(free_text, sizeof free_text, "%.1f GiB free",
                  static_cast<double>(d.free_memory) / (1 << 30));
  std::printf("CUDA device %d: %s, compute capability %d.%d, %.1f GiB (%s), %d SMs\n", d.index,
              d.name.c_str(), d.cc_major, d.cc_minor,
              static_cast<double>(d.total_memory) / (1 << 30), free_text, d.multiprocessors);
  if (d.emulated)
    std::cout << "  (the test-only emulated device of a build with RNNLYAP_CUDA_EMULATION: it runs "
                 "the CUDA code on the CPU; --backend auto never uses it)\n";
}

void print_text(const std::vector<DeviceInfo>& devices) {
  std::cout << "rnnlyap " << version() << "\n";
  std::string b;
  for (const auto& s : compiled_backends()) b += (b.empty() ? "" : ", ") + s;
  std::cout << "backends compiled in: " << b << "\n";
  std::cout << "BLAS: " << blas_info() << "\n";
  std::cout << "CPU threads per run: " << cpu_threads_info() << "; --threads T sets T\n";
  if (const std::string slow = blas_warning(); !slow.empty())
    std::cout << "BLAS warning: " << slow << "\n";
  const std::string mpi = mpi_library();
  std::cout << "MPI: "
            << (mpi.empty() ? "not compiled in (--shard and merge spread a run instead)" : mpi)
            << "\n";
  const std::string scalapack = scalapack_library();
  std::cout << "ScaLAPACK (--distribute-network): "
            << (scalapack.empty()
                    ? "not compiled in (Debian: libscalapack-openmpi-dev, then rebuild)"
                    : scalapack)
            << "\n";
  const std::string gpu = distributed_gpu_libraries();
  std::cout << "GPU variant (--distribute-network --backend cuda): "
            << (gpu.empty() ? "not compiled in (needs the CUDA backend and the cuBLASMp/cuSOLVERMp "
                              "headers: pip install nvidia-cublasmp-cu13 nvidia-cusolvermp-cu13)"
                            : gpu)
            << "\n";
  if (devices.empty()) std::cout << "CUDA devices: none found\n";
  for (const auto& d : devices) print_device(d);
}

}  // namespace

int run_info(const InfoCommand& c) {
  const auto devices = cuda_devices();
  if (c.json)
    print_json(devices);
  else
    print_text(devices);
  return 0;
}

}  // namespace rnnlyap::cli
