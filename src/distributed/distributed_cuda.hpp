// The GPU variant of the distributed executor (distributed_cuda_executor.cpp), built when the
// cuBLASMp and cuSOLVERMp headers were found (RNNLYAP_HAVE_CUDAMP).
#pragma once

#include <memory>
#include <string>

#include "core/executor.hpp"

namespace rnnlyap::distributed {

/// This rank's executor in a rows × cols grid of ranks, one GPU each, for a network of n neurons
/// (core/backends.hpp, DistributedBackend::make_gpu_*). Collective.
std::unique_ptr<detail::Executor<float>> make_cuda_executor_fp32(int rows, int cols, int n);
std::unique_ptr<detail::Executor<double>> make_cuda_executor_fp64(int rows, int cols, int n);
/// Where cuBLASMp, cuSOLVERMp and NCCL were loaded from, or why they cannot be (`rnnlyap info`).
std::string cuda_libraries();

}  // namespace rnnlyap::distributed
