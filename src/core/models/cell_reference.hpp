// The reference definition of a trained network's step, written plainly from PyTorch's equations
// (no kernels, no batches): what the propagators' state steps and, through finite differences,
// their tangent steps are tested against. Internal: not part of the public API.
#pragma once

#include <span>
#include <vector>

#include "rnnlyap/trained.hpp"

namespace rnnlyap::detail {

/// One step of the network from `state` (every layer's h, or h then c, layer 0 first) with input
/// x: the next state, layer by layer, each layer driven by the new h of the one below.
std::vector<double> cell_step(const CellNetwork& net, std::span<const double> state,
                              std::span<const double> x);

}  // namespace rnnlyap::detail
