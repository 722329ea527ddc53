// Options ↔ JSON: the "params" object of the result and the header of a checkpoint.
#pragma once

#include <nlohmann/json.hpp>

#include "rnnlyap/options.hpp"

namespace rnnlyap::detail {

nlohmann::json options_to_json(const SpectrumOptions& o);
/// Throws InvalidInput when a key is missing or a value is not one of the known names.
SpectrumOptions options_from_json(const nlohmann::json& j);

}  // namespace rnnlyap::detail
