// Result → JSON (DESIGN.md §3; other tools parse these keys: keep them stable).
#include <nlohmann/json.hpp>

#include "options_json.hpp"
#include "rnnlyap/json.hpp"

namespace rnnlyap {

std::string to_json(const SpectrumResult& r, int indent) {
  using nlohmann::json;
  const SpectrumOptions& o = r.options;
  const json params = detail::options_to_json(o);
  const SpectrumSummary& s = r.summary;
  json summary = {
      {"max_exponent", s.max_exponent},   {"mean_exponent", s.mean_exponent},
      {"sum", s.sum},                     {"n_positive", s.n_positive},
      {"ky_dimension", s.ky_dimension},   {"ky_dimension_is_lower_bound", s.ky_is_lower_bound},
      {"ks_entropy", s.ks_entropy},
  };
  const Schedule& sc = r.schedule;
  json j = {
      {"exponents", r.exponents},
      {"stderr", r.stderr_},
      {"summary", summary},
      {"params", params},
      {"backend", r.backend},
      {"device", r.device},
      {"precision", to_string(o.precision)},
      {"timing",
       {{"seconds", r.timing.seconds},
        {"tangent_steps", r.timing.tangent_steps},
        {"qr_count", r.timing.qr_count}}},
      {"schedule",
       {{"warmup_steps", sc.warmup_steps},
        {"steps_per_ons", sc.steps_per_ons},
        {"ons_warmup", sc.ons_warmup},
        {"ons_sim", sc.ons_sim},
        {"step_time", sc.step_time},
        {"averaged_time", sc.averaged_time()}}},
  };
  return j.dump(indent);
}

}  // namespace rnnlyap
