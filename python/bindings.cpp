// Python bindings: the spectrum of a random or given network (one or an ensemble), the spectra of a
// trained cell driven by input sequences, and sweeps. Options arrive as a dict of Python values
// (the fields of SpectrumOptions), results leave as Python objects (dicts, lists, numbers: the
// structure of the result JSON); no JSON text crosses. rnnlyap/__init__.py checks the arguments and
// turns the results' lists into numpy arrays.
//
// Every computation runs on a worker thread with the GIL released, while the calling thread waits
// in steps of 100 ms: after each it takes the GIL, hands the latest progress to the Python callback
// (so the callback runs on the caller's thread) and checks for signals (PyErr_CheckSignals). On
// Ctrl-C — or an exception from the callback — it asks the computation to stop (RunControl's
// stop_requested, and the progress observer throws Interrupted), waits for the worker and raises
// the Python exception (KeyboardInterrupt).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rnnlyap/arrays.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/json.hpp"
#include "rnnlyap/option_table.hpp"
#include "rnnlyap/spectrum.hpp"
#include "rnnlyap/sweep.hpp"
#include "rnnlyap/trained.hpp"

namespace py = pybind11;
using namespace rnnlyap;

namespace {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

// An enum's value from its spelling in the option table.
template <class E>
E choice_in(const py::dict& o, const char* key, E fallback) {
  return o.contains(key) ? parse_choice<E>(o[key].cast<std::string>()) : fallback;
}

// A value of the dict of options, or `fallback` where the dict leaves it out.
template <class T>
T value_in(const py::dict& o, const char* key, T fallback) {
  return o.contains(key) ? o[key].cast<T>() : fallback;
}

// The options of a call, from the dict of checked Python values rnnlyap/_validation.py builds (the
// fields of SpectrumOptions by name; what the dict leaves out keeps its default). "k": None leaves
// k unset (it defaults to the network's dimension).
SpectrumOptions options_from(const py::dict& d) {
  SpectrumOptions o;
  o.model = choice_in(d, "model", o.model);
  o.integrator = choice_in(d, "integrator", o.integrator);
  o.n = value_in(d, "n", o.n);
  o.g = value_in(d, "g", o.g);
  o.weights = choice_in(d, "weights", o.weights);
  o.alpha = value_in(d, "alpha", o.alpha);
  o.weights_file = value_in(d, "weights_file", o.weights_file);
  o.zero_diagonal = value_in(d, "zero_diagonal", o.zero_diagonal);
  if (d.contains("k") && !d["k"].is_none()) o.k = d["k"].cast<int>();
  o.dt = value_in(d, "dt", o.dt);
  o.t_warmup = value_in(d, "t_warmup", o.t_warmup);
  o.t_ons_warmup = value_in(d, "t_ons_warmup", o.t_ons_warmup);
  o.t_sim = value_in(d, "t_sim", o.t_sim);
  o.t_ons = value_in(d, "t_ons", o.t_ons);
  o.input_std = value_in(d, "input_std", o.input_std);
  o.seed = value_in(d, "seed", o.seed);
  o.backend = choice_in(d, "backend", o.backend);
  o.device = value_in(d, "device", o.device);
  o.precision = choice_in(d, "precision", o.precision);
  o.qr = choice_in(d, "qr", o.qr);
  o.threads = value_in(d, "threads", o.threads);
  o.ensemble = value_in(d, "ensemble", o.ensemble);
  o.inputs_file = value_in(d, "inputs_file", o.inputs_file);
  o.lstm_h_only = value_in(d, "lstm_h_only", o.lstm_h_only);
  o.nonlinearity = choice_in(d, "nonlinearity", o.nonlinearity);
  o.bias_std = value_in(d, "bias_std", o.bias_std);
  for (auto [key, seed] :
       {std::pair{"network_seed", &o.network_seed}, std::pair{"state_seed", &o.state_seed},
        std::pair{"basis_seed", &o.basis_seed}, std::pair{"noise_seed", &o.noise_seed}})
    if (d.contains(key)) *seed = d[key].cast<std::uint64_t>();
  o.initial_state_file = value_in(d, "initial_state_file", o.initial_state_file);
  o.ftle_window = value_in(d, "ftle_window", o.ftle_window);
  o.clv = value_in(d, "clv", o.clv);
  o.clv_stats = value_in(d, "clv_stats", o.clv_stats);
  o.clv_window = value_in(d, "clv_window", o.clv_window);
  if (d.contains("clv_transient")) o.clv_transient = d["clv_transient"].cast<double>();
  return o;
}

// The library's result (its result JSON's structure, rnnlyap/json.hpp) as Python objects: objects
// as dicts in the order of their keys, non-finite numbers as None, as the JSON has them.
py::object python_of(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      py::dict d;
      for (const auto& [key, value] : j.items()) d[py::str(key)] = python_of(value);
      return d;
    }
    case nlohmann::json::value_t::array: {
      py::list l;
      for (const auto& v : j) l.append(python_of(v));
      return l;
    }
    case nlohmann::json::value_t::string:
      return py::str(j.get_ref<const std::string&>());
    case nlohmann::json::value_t::boolean:
      return py::bool_(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return py::int_(j.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return py::int_(j.get<std::uint64_t>());
    case nlohmann::json::value_t::number_float: {
      const double v = j.get<double>();
      return std::isfinite(v) ? py::object(py::float_(v)) : py::object(py::none());
    }
    default:
      return py::none();
  }
}

// The writer's text read back here, so that Python gets objects, never the text.
py::object python_of(const std::string& result_json) {
  return python_of(nlohmann::json::parse(result_json));
}

// A C-order n×n array → the column-major network; zero_diagonal applied here (compute_spectrum
// takes a given network as it is).
Network network_from(const Array& w, bool zero_diagonal) {
  if (w.ndim() != 2 || w.shape(0) != w.shape(1) || w.shape(0) < 1)
    throw InvalidInput("J must be a square, non-empty 2-D array");
  if (w.shape(0) > 2'000'000'000) throw InvalidInput("J is too large");
  Network net;
  net.n = static_cast<int>(w.shape(0));
  const auto r = w.unchecked<2>();
  net.j.resize(static_cast<std::size_t>(net.n) * net.n);
  for (int i = 0; i < net.n; ++i)
    for (int j = 0; j < net.n; ++j) net(i, j) = r(i, j);
  if (zero_diagonal)
    for (int i = 0; i < net.n; ++i) net(i, i) = 0.0;
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

// One computation on a worker thread, watched from the calling (Python) thread.
class Watched {
 public:
  explicit Watched(py::object progress) : progress_(std::move(progress)) {}

  /// Observers for the computation: progress is recorded for the Python thread, and throws
  /// Interrupted once a stop was requested (besides control()'s stop request, which the runs poll;
  /// run_in_threads passes the exception on and stops the other threads' runs too).
  Observers observers() {
    Observers obs;
    obs.progress = [this](Phase p, std::int64_t done, std::int64_t total) {
      report(std::string(to_string(p)), done, total);
    };
    return obs;
  }
  RunControl control() {
    RunControl c;
    c.stop_requested = [this] { return stop_.load(); };
    return c;
  }
  /// For callers with a label instead of a phase (sweeps).
  void report(const std::string& phase, std::int64_t done, std::int64_t total) {
    if (stop_.load()) throw Interrupted("interrupted");
    if (progress_.is_none()) return;
    const std::lock_guard<std::mutex> lock(mutex_);
    phase_ = phase;
    done_ = done;
    total_ = total;
    fresh_ = true;
  }
  bool stop_requested() const { return stop_.load(); }

  /// Runs work() on a worker thread; call with the GIL held.
  template <class F>
  auto run(F work) -> decltype(work()) {
    using R = decltype(work());
    std::optional<R> result;
    std::exception_ptr error;
    bool finished = false;
    std::thread worker([&] {
      try {
        result.emplace(work());
      } catch (...) {
        error = std::current_exception();
      }
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        finished = true;
      }
      done_cv_.notify_all();
    });
    try {
      for (;;) {
        bool fin = false;
        {
          py::gil_scoped_release nogil;
          std::unique_lock<std::mutex> lock(mutex_);
          fin = done_cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return finished; });
        }
        deliver_progress();
        if (fin) break;
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      }
    } catch (...) {
      // Ctrl-C or an exception from the progress callback: stop the computation, wait for it,
      // and raise the Python exception.
      stop_ = true;
      {
        py::gil_scoped_release nogil;
        worker.join();
      }
      throw;
    }
    worker.join();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
  }

 private:
  void deliver_progress() {
    if (progress_.is_none()) return;
    std::string phase;
    std::int64_t done = 0, total = 0;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (!fresh_) return;
      fresh_ = false;
      phase = phase_;
      done = done_;
      total = total_;
    }
    progress_(phase, done, total);
  }

  py::object progress_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool fresh_ = false;
  std::string phase_;
  std::int64_t done_ = 0, total_ = 0;
};

// The running estimates of a single run: times (T) and estimates (T × k), or None.
py::object trace_arrays(const Trace& trace) {
  const auto t = static_cast<py::ssize_t>(trace.time.size());
  py::array_t<double> tt(t), vv(std::vector<py::ssize_t>{t, trace.k});
  std::copy(trace.time.begin(), trace.time.end(), tt.mutable_data());
  std::copy(trace.estimates.begin(), trace.estimates.end(), vv.mutable_data());
  return py::make_tuple(tt, vv);
}

// The covariant vectors of a result (rows × k), or None.
py::object clv_vectors(const std::optional<ClvResult>& clv) {
  if (!clv || clv->vectors.empty()) return py::none();
  const auto rows = static_cast<py::ssize_t>(clv->rows);
  const auto cols = static_cast<py::ssize_t>(clv->vectors.size()) / rows;
  py::array_t<double> a(std::vector<py::ssize_t>{rows, cols});
  const std::vector<double> c = clv_vectors_c_order(*clv);
  std::copy(c.begin(), c.end(), a.mutable_data());
  return a;
}

// (result, trace or None, covariant vectors or None).
py::tuple spectrum_of(const py::dict& options, const std::optional<Array>& weights,
                      const py::object& progress, bool trace) {
  SpectrumOptions opt = options_from(options);
  std::optional<Network> net;
  if (weights) net = network_from(*weights, opt.zero_diagonal);
  Watched w(progress);
  Observers obs = w.observers();
  Trace kept;
  if (trace) {
    if (opt.ensemble > 1)
      throw InvalidInput("trace=True is for single runs, not with ensemble " +
                         std::to_string(opt.ensemble));
    obs.trace = [&](double t, std::span<const double> est) { kept.add(t, est); };
    obs.trace_kept = true;  // every estimate: counted in the run's memory check
  }
  const RunControl control = w.control();
  std::optional<ClvResult> clv;
  const std::string json = w.run([&] {
    if (opt.ensemble > 1)
      return net ? to_json(compute_ensemble(opt, *net, obs, control))
                 : to_json(compute_ensemble(opt, obs, control));
    SpectrumResult r =
        net ? compute_spectrum(opt, *net, obs, control) : compute_spectrum(opt, obs, control);
    clv = r.clv;
    return to_json(r);
  });
  return py::make_tuple(python_of(json), trace ? trace_arrays(kept) : py::object(py::none()),
                        clv_vectors(clv));
}

// inputs: B × T × I. (result, the first sequence's covariant vectors or None).
py::tuple trained_of(const py::dict& options, const std::map<std::string, Array>& state_dict,
                     const Array& inputs, const py::object& progress) {
  const SpectrumOptions opt = options_from(options);
  std::map<std::string, NpyArray> arrays;
  for (const auto& [k, v] : state_dict) arrays[k] = npy_from(v);
  CellNetwork net = cell_from_arrays(opt.model, arrays, "network");
  net.nonlinearity = opt.nonlinearity;  // not in a state_dict: the options say (tanh by default)
  if (inputs.ndim() != 3) throw InvalidInput("inputs must be B x T x input_size here");
  InputSequences x;
  x.batch = static_cast<int>(inputs.shape(0));
  x.steps = static_cast<int>(inputs.shape(1));
  x.input_size = static_cast<int>(inputs.shape(2));
  x.data.assign(inputs.data(), inputs.data() + inputs.size());
  Watched w(progress);
  const Observers obs = w.observers();
  std::optional<ClvResult> clv;
  const std::string json = w.run([&] {
    const EnsembleResult e = compute_trained_spectra(opt, net, x, obs, w.control());
    clv = e.members.front().clv;
    return to_json(e);
  });
  return py::make_tuple(python_of(json), clv_vectors(clv));
}

py::object sweep_of(const py::dict& options, const std::vector<double>& g,
                    const std::vector<double>& alpha, const std::vector<int>& n,
                    const std::string& partial, const py::object& progress) {
  SweepSpec spec;
  spec.base = options_from(options);
  spec.g = g;
  spec.alpha = alpha;
  spec.n = n;
  Watched w(progress);
  return python_of(w.run([&] {
    return sweep_json(run_sweep(
        spec, partial,
        [&w](int done, int total, const std::string& label) { w.report(label, done, total); },
        [&w] { return w.stop_requested(); }));
  }));
}

// Python's InvalidInput, for the translator of messages about an option.
py::exception<InvalidInput>* g_invalid_input = nullptr;

}  // namespace

PYBIND11_MODULE(_rnnlyap, m) {
  m.doc() = "rnnlyap: Lyapunov spectra of recurrent neural networks (use the rnnlyap package)";
  // Translators are tried last-registered first: InvalidInput before its base Error.
  py::register_exception<Error>(m, "Error", PyExc_RuntimeError);
  g_invalid_input = &py::register_exception<InvalidInput>(m, "InvalidInput", PyExc_ValueError);
  // A message about an option names it as Python does ("t_ons=0.25", "J").
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InvalidInput& e) {
      if (!e.option()) throw;
      (*g_invalid_input)(e.message(Spelling::python).c_str());
    }
  });
  m.def("spectrum", &spectrum_of, py::arg("options"), py::arg("weights") = py::none(),
        py::arg("progress") = py::none(), py::arg("trace") = false);
  m.def("trained", &trained_of, py::arg("options"), py::arg("state_dict"), py::arg("inputs"),
        py::arg("progress") = py::none());
  m.def("sweep", &sweep_of, py::arg("options"), py::arg("g"), py::arg("alpha"), py::arg("n"),
        py::arg("partial") = std::string(), py::arg("progress") = py::none());
  m.def("parse_grid", &parse_grid, py::arg("text"), py::arg("name"));
  // The table of options (rnnlyap/option_table.hpp): the Python name of each command-line flag
  // ("weights-file": "J"), and the values of each choice ("qr": ("householder", ...)).
  m.def("option_names", [] {
    py::dict names;
    for (const OptionInfo& o : option_table())
      if (!o.python.empty()) names[py::str(std::string(o.cli.substr(2)))] = std::string(o.python);
    return names;
  });
  m.def("option_values", [] {
    py::dict values;
    for (const OptionInfo& o : option_table()) {
      if (o.values.empty()) continue;
      py::list v;
      for (std::string_view s : o.values) v.append(std::string(s));
      values[py::str(std::string(o.python))] = py::tuple(v);
    }
    return values;
  });
  // The message refusing a keyword argument the function does not take (rnnlyap/option_table.hpp,
  // python_refusal), or None when Python's TypeError applies.
  m.def("refusal", [](const std::string& function, const std::string& name) -> py::object {
    static const std::map<std::string, PythonFunction> functions = {
        {"spectrum", PythonFunction::spectrum},
        {"trained_spectrum", PythonFunction::trained_spectrum},
        {"sweep", PythonFunction::sweep}};
    const std::string message = python_refusal(functions.at(function), name);
    return message.empty() ? py::object(py::none()) : py::object(py::str(message));
  });
  m.def("version", &version);
  m.def("compiled_backends", &compiled_backends);
}
