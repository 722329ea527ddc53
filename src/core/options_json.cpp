#include "options_json.hpp"

#include <utility>

#include "rnnlyap/errors.hpp"
#include "rnnlyap/option_table.hpp"

namespace rnnlyap::detail {
namespace {

// An enum's value from its spelling in the option table.
template <class E>
E enum_from(const nlohmann::json& j, const char* key) {
  const std::string s = j.at(key).get<std::string>();
  const int i = choice_index(option_of(E{}), s);
  if (i < 0) throw InvalidInput(std::string("unknown value '") + s + "' for " + key);
  return static_cast<E>(i);
}

// A key that `params` leaves out where it does not apply: absent means the default.
template <class E>
E enum_or(const nlohmann::json& j, const char* key, E fallback) {
  return j.contains(key) ? enum_from<E>(j, key) : fallback;
}

}  // namespace

// `params` holds what the run used: options that do not apply to the model or the weights (the CLI
// refuses them, README "Errors") are left out rather than recorded with a value that was ignored.
nlohmann::json options_to_json(const SpectrumOptions& o) {
  const bool trained = is_cell(o.model);
  nlohmann::json j = {
      {"model", to_string(o.model)},
      {"n", o.n},
      {"weights_file", o.weights_file},
      {"k", o.num_exponents()},
      {"t_warmup", o.t_warmup},
      {"t_ons_warmup", o.t_ons_warmup},
      {"t_sim", o.t_sim},
      {"t_ons", o.t_ons},
      {"seed", o.seed},
      {"backend", to_string(o.backend)},
      {"device", o.device},
      {"precision", to_string(o.precision)},
      {"qr", to_string(o.qr)},
      {"threads", o.threads},
      {"inputs_file", o.inputs_file},
      {"lstm_h_only", o.lstm_h_only},
  };
  if (o.model == Model::rate) j["integrator"] = to_string(o.integrator);
  // Seeds of parts and a given initial state: only when given (else `seed` is used).
  if (o.network_seed) j["network_seed"] = *o.network_seed;
  if (o.state_seed) j["state_seed"] = *o.state_seed;
  if (o.basis_seed) j["basis_seed"] = *o.basis_seed;
  if (o.noise_seed) j["noise_seed"] = *o.noise_seed;
  if (!o.initial_state_file.empty()) j["initial_state_file"] = o.initial_state_file;
  if (o.ftle_window > 0) j["ftle_window"] = o.ftle_window;
  if (o.clv) j["clv"] = true;
  if (o.clv_stats) j["clv_stats"] = true;
  if (o.clv_window > 0) j["clv_window"] = o.clv_window;
  if (o.clv_transient) j["clv_transient"] = *o.clv_transient;
  if (o.model == Model::rnn) j["nonlinearity"] = to_string(o.nonlinearity);
  if (!trained) {
    j["dt"] = o.step_time();
    j["weights"] = to_string(o.weights);
    if (o.weights != WeightKind::file) j["g"] = o.g;
    if (o.weights == WeightKind::levy) j["alpha"] = o.alpha;
    j["zero_diagonal"] = o.zero_diagonal;
    j["input_std"] = o.input_std;
    if (o.bias_std != 0) j["bias_std"] = o.bias_std;  // absent: no bias
    j["ensemble"] = o.ensemble;
  }
  return j;
}

SpectrumOptions options_from_json(const nlohmann::json& j) {
  try {
    SpectrumOptions o;
    o.model = enum_from<Model>(j, "model");
    o.integrator = enum_or(j, "integrator", o.integrator);
    o.n = j.value("n", o.n);
    o.g = j.value("g", o.g);
    o.weights = enum_or(j, "weights", o.weights);
    o.alpha = j.value("alpha", o.alpha);
    o.weights_file = j.at("weights_file").get<std::string>();
    o.zero_diagonal = j.value("zero_diagonal", o.zero_diagonal);
    o.k = j.at("k").get<int>();
    o.dt = j.value("dt", o.dt);
    o.t_warmup = j.at("t_warmup").get<double>();
    o.t_ons_warmup = j.at("t_ons_warmup").get<double>();
    o.t_sim = j.at("t_sim").get<double>();
    o.t_ons = j.at("t_ons").get<double>();
    o.input_std = j.value("input_std", o.input_std);
    o.seed = j.at("seed").get<std::uint64_t>();
    o.backend = enum_from<BackendKind>(j, "backend");
    o.precision = enum_from<Precision>(j, "precision");
    o.qr = enum_from<QrMethod>(j, "qr");
    o.threads = j.at("threads").get<int>();
    o.device = j.value("device", 0);
    o.ensemble = j.value("ensemble", 1);
    o.inputs_file = j.value("inputs_file", std::string());
    o.lstm_h_only = j.value("lstm_h_only", false);
    for (auto [key, seed] :
         {std::pair{"network_seed", &o.network_seed}, std::pair{"state_seed", &o.state_seed},
          std::pair{"basis_seed", &o.basis_seed}, std::pair{"noise_seed", &o.noise_seed}})
      if (j.contains(key)) *seed = j.at(key).get<std::uint64_t>();
    o.initial_state_file = j.value("initial_state_file", std::string());
    o.ftle_window = j.value("ftle_window", 0.0);
    o.clv = j.value("clv", false);
    o.clv_stats = j.value("clv_stats", false);
    o.clv_window = j.value("clv_window", 0.0);
    if (j.contains("clv_transient")) o.clv_transient = j.at("clv_transient").get<double>();
    o.nonlinearity = enum_or(j, "nonlinearity", o.nonlinearity);
    o.bias_std = j.value("bias_std", o.bias_std);
    return o;
  } catch (const nlohmann::json::exception& e) {
    throw InvalidInput(std::string("malformed options: ") + e.what());
  }
}

}  // namespace rnnlyap::detail
