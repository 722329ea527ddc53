#include "options_json.hpp"

#include <array>
#include <utility>

#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {
namespace {

template <class E, std::size_t N>
E enum_from(const nlohmann::json& j, const char* key, const std::array<E, N>& values) {
  const std::string s = j.at(key).get<std::string>();
  for (E v : values)
    if (to_string(v) == s) return v;
  throw InvalidInput(std::string("unknown value '") + s + "' for " + key);
}

}  // namespace

nlohmann::json options_to_json(const SpectrumOptions& o) {
  return {
      {"model", to_string(o.model)},
      {"integrator", to_string(o.integrator)},
      {"n", o.n},
      {"g", o.g},
      {"weights", to_string(o.weights)},
      {"alpha", o.alpha},
      {"weights_file", o.weights_file},
      {"zero_diagonal", o.zero_diagonal},
      {"k", o.num_exponents()},
      {"dt", o.step_time()},
      {"t_warmup", o.t_warmup},
      {"t_ons_warmup", o.t_ons_warmup},
      {"t_sim", o.t_sim},
      {"t_ons", o.t_ons},
      {"input_std", o.input_std},
      {"seed", o.seed},
      {"backend", to_string(o.backend)},
      {"device", o.device},
      {"precision", to_string(o.precision)},
      {"qr", to_string(o.qr)},
      {"threads", o.threads},
      {"ensemble", o.ensemble},
      {"inputs_file", o.inputs_file},
      {"lstm_h_only", o.lstm_h_only},
  };
}

SpectrumOptions options_from_json(const nlohmann::json& j) {
  try {
    SpectrumOptions o;
    o.model = enum_from(j, "model",
                        std::array{Model::rate, Model::map, Model::rnn, Model::gru, Model::lstm});
    o.integrator = enum_from(j, "integrator", std::array{Integrator::euler, Integrator::rk4});
    o.n = j.at("n").get<int>();
    o.g = j.at("g").get<double>();
    o.weights = enum_from(j, "weights",
                          std::array{WeightKind::gaussian, WeightKind::levy, WeightKind::file});
    o.alpha = j.at("alpha").get<double>();
    o.weights_file = j.at("weights_file").get<std::string>();
    o.zero_diagonal = j.at("zero_diagonal").get<bool>();
    o.k = j.at("k").get<int>();
    o.dt = j.at("dt").get<double>();
    o.t_warmup = j.at("t_warmup").get<double>();
    o.t_ons_warmup = j.at("t_ons_warmup").get<double>();
    o.t_sim = j.at("t_sim").get<double>();
    o.t_ons = j.at("t_ons").get<double>();
    o.input_std = j.at("input_std").get<double>();
    o.seed = j.at("seed").get<std::uint64_t>();
    o.backend = enum_from(
        j, "backend", std::array{BackendKind::auto_select, BackendKind::cpu, BackendKind::cuda});
    o.precision = enum_from(j, "precision", std::array{Precision::fp64, Precision::fp32});
    o.qr = enum_from(j, "qr",
                     std::array{QrMethod::householder, QrMethod::cholesky2, QrMethod::auto_select});
    o.threads = j.at("threads").get<int>();
    o.device = j.value("device", 0);
    o.ensemble = j.value("ensemble", 1);
    o.inputs_file = j.value("inputs_file", std::string());
    o.lstm_h_only = j.value("lstm_h_only", false);
    return o;
  } catch (const nlohmann::json::exception& e) {
    throw InvalidInput(std::string("malformed options: ") + e.what());
  }
}

}  // namespace rnnlyap::detail
