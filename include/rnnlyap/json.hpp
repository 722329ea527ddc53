// The result JSON of the README ("Using rnnlyap").
#pragma once

#include <string>

#include "rnnlyap/result.hpp"

namespace rnnlyap {

/// Serialises a result with the top-level keys of the README ("Using rnnlyap") (exponents, stderr,
/// summary, params, backend, device, precision, timing) plus "schedule". Non-finite numbers become
/// null.
std::string to_json(const SpectrumResult& result, int indent = 2);

/// An ensemble: the top level holds the means over members (exponents, summary) and their standard
/// errors (stderr, summary_stderr); "members" lists each member's seed, exponents, stderr and
/// summary.
std::string to_json(const EnsembleResult& result, int indent = 2);

}  // namespace rnnlyap
