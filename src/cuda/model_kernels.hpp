// The CUDA backend's implementations of the model families' kernels (core/models/*_kernels.hpp),
// in model_kernels.cpp; the CUDA executor owns one of each.
#pragma once

#include <memory>

#include "core/models/cell_kernels.hpp"
#include "core/models/random_network_kernels.hpp"
#include "cuda_common.hpp"

namespace rnnlyap::cuda {

/// The random networks' kernels on ctx's stream; ctx must outlive them.
template <class T>
std::unique_ptr<detail::RandomNetworkKernels<T>> make_random_network_kernels(const Context& ctx);
/// The trained cells' kernels on ctx's stream; ctx must outlive them.
template <class T>
std::unique_ptr<detail::CellKernels<T>> make_cell_kernels(const Context& ctx);

}  // namespace rnnlyap::cuda
