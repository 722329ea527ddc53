// A run's timing ↔ JSON: the "timing" object of a result (result_json.cpp) and of a unit file's
// result (unit_codec.cpp), one set of keys for both.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "rnnlyap/result.hpp"

namespace rnnlyap::detail {

inline nlohmann::json timing_to_json(const Timing& t) {
  return {{"seconds", t.seconds},
          {"tangent_steps", t.tangent_steps},
          {"qr_count", t.qr_count},
          {"qr_paths",
           {{"cholesky_one_pass", t.qr_paths.cholesky_one_pass},
            {"cholesky_two_passes", t.qr_paths.cholesky_two_passes},
            {"householder", t.qr_paths.householder}}}};
}

/// Throws nlohmann's exceptions on a missing key; qr_paths may be absent (files of 2026-12-06 and
/// before: zeros).
inline Timing timing_from_json(const nlohmann::json& j) {
  Timing t;
  t.seconds = j.at("seconds").get<double>();
  t.tangent_steps = j.at("tangent_steps").get<std::int64_t>();
  t.qr_count = j.at("qr_count").get<std::int64_t>();
  if (const auto p = j.find("qr_paths"); p != j.end()) {
    t.qr_paths.cholesky_one_pass = p->at("cholesky_one_pass").get<std::int64_t>();
    t.qr_paths.cholesky_two_passes = p->at("cholesky_two_passes").get<std::int64_t>();
    t.qr_paths.householder = p->at("householder").get<std::int64_t>();
  }
  return t;
}

}  // namespace rnnlyap::detail
