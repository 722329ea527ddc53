// Python bindings: the spectrum of a random or given network, and the spectra of a trained cell
// driven by input sequences. Options travel as the JSON "params" object of the result, results as
// the result JSON; rnnlyap/__init__.py turns them into numpy arrays. The GIL is released while the
// spectrum is computed.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/options_json.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/json.hpp"
#include "rnnlyap/spectrum.hpp"
#include "rnnlyap/trained.hpp"

namespace py = pybind11;
using namespace rnnlyap;

namespace {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

SpectrumOptions options_from(const std::string& options_json) {
  return detail::options_from_json(nlohmann::json::parse(options_json));
}

// A C-order n×n array → the column-major network.
Network network_from(const Array& w) {
  if (w.ndim() != 2 || w.shape(0) != w.shape(1))
    throw InvalidInput("weights must be a square 2-D array");
  Network net;
  net.n = static_cast<int>(w.shape(0));
  const auto r = w.unchecked<2>();
  net.j.resize(static_cast<std::size_t>(net.n) * net.n);
  for (int i = 0; i < net.n; ++i)
    for (int j = 0; j < net.n; ++j) net(i, j) = r(i, j);
  net.bias.assign(net.n, 0.0);
  return net;
}

NpyArray npy_from(const Array& a) {
  NpyArray out;
  for (py::ssize_t d = 0; d < a.ndim(); ++d)
    out.shape.push_back(static_cast<std::size_t>(a.shape(d)));
  out.data.assign(a.data(), a.data() + a.size());
  return out;
}

std::string spectrum_json(const std::string& options_json, std::optional<Array> weights) {
  SpectrumOptions opt = options_from(options_json);
  std::optional<Network> net;
  if (weights) net = network_from(*weights);
  py::gil_scoped_release release;
  if (opt.ensemble > 1) {
    if (net) throw InvalidInput("ensemble > 1 draws random networks; it cannot take given weights");
    return to_json(compute_ensemble(opt));
  }
  return net ? to_json(compute_spectrum(opt, *net)) : to_json(compute_spectrum(opt));
}

std::string trained_json(const std::string& options_json,
                         const std::map<std::string, Array>& state_dict, const Array& inputs) {
  SpectrumOptions opt = options_from(options_json);
  std::map<std::string, NpyArray> arrays;
  for (const auto& [k, v] : state_dict) arrays[k] = npy_from(v);
  const CellNetwork net = cell_from_arrays(opt.model, arrays, "state_dict");
  InputSequences x;
  if (inputs.ndim() == 2) {
    x.batch = 1;
    x.steps = static_cast<int>(inputs.shape(0));
    x.input_size = static_cast<int>(inputs.shape(1));
  } else if (inputs.ndim() == 3) {
    x.batch = static_cast<int>(inputs.shape(0));
    x.steps = static_cast<int>(inputs.shape(1));
    x.input_size = static_cast<int>(inputs.shape(2));
  } else {
    throw InvalidInput("inputs must be T x input_size or B x T x input_size");
  }
  x.data.assign(inputs.data(), inputs.data() + inputs.size());
  py::gil_scoped_release release;
  return to_json(compute_trained_spectra(opt, net, x));
}

}  // namespace

PYBIND11_MODULE(_rnnlyap, m) {
  m.doc() = "rnnlyap: Lyapunov spectra of recurrent neural networks (use the rnnlyap package)";
  py::register_exception<InvalidInput>(m, "InvalidInput", PyExc_ValueError);
  m.def("spectrum_json", &spectrum_json, py::arg("options_json"), py::arg("weights") = py::none());
  m.def("trained_json", &trained_json, py::arg("options_json"), py::arg("state_dict"),
        py::arg("inputs"));
  m.def("version", &version);
  m.def("compiled_backends", &compiled_backends);
}
