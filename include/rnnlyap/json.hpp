// The result JSON of DESIGN.md §3.
#pragma once

#include <string>

#include "rnnlyap/result.hpp"

namespace rnnlyap {

/// Serialises a result with the top-level keys of DESIGN.md §3 (exponents, stderr, summary,
/// params, backend, device, precision, timing) plus "schedule". Non-finite numbers become null.
std::string to_json(const SpectrumResult& result, int indent = 2);

}  // namespace rnnlyap
