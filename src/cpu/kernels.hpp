// The CPU backend's implementations of the model families' kernels (core/models/*_kernels.hpp),
// each in its own file here; the CPU executor (cpu_executor.cpp) owns one of each.
#pragma once

#include <memory>

#include "../core/models/cell_kernels.hpp"
#include "../core/models/random_network_kernels.hpp"

namespace rnnlyap::cpu {
class ThreadTeam;
}

namespace rnnlyap::detail {

/// random_network_kernels.cpp; the loops over a basis's columns and the state's matrix-vector
/// product shared over `team` when it has two or more threads.
template <class T>
std::unique_ptr<RandomNetworkKernels<T>> make_cpu_random_network_kernels(cpu::ThreadTeam* team);
/// cell_kernels.cpp.
template <class T>
std::unique_ptr<CellKernels<T>> make_cpu_cell_kernels();

}  // namespace rnnlyap::detail
