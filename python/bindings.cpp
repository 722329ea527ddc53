// Python bindings: the spectrum of a random or given network (one or an ensemble), the spectra of a
// trained cell driven by input sequences, and sweeps. Options travel as the JSON "params" object of
// the result, results as the result JSON; rnnlyap/__init__.py checks the arguments and turns the
// results into numpy arrays.
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

#include "core/options_json.hpp"
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

// The options of a call. "k": null leaves k unset (it defaults to the network's dimension).
SpectrumOptions options_from(const std::string& options_json) {
  nlohmann::json j = nlohmann::json::parse(options_json);
  const bool no_k = j.contains("k") && j["k"].is_null();
  if (no_k) j["k"] = 1;
  SpectrumOptions o = detail::options_from_json(j);
  if (no_k) o.k.reset();
  return o;
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

// (result JSON, trace or None, covariant vectors or None).
py::tuple spectrum_json(const std::string& options_json, const std::optional<Array>& weights,
                        const py::object& progress, bool trace) {
  SpectrumOptions opt = options_from(options_json);
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
  return py::make_tuple(json, trace ? trace_arrays(kept) : py::object(py::none()),
                        clv_vectors(clv));
}

// inputs: B × T × I. (result JSON, the first sequence's covariant vectors or None).
py::tuple trained_json(const std::string& options_json,
                       const std::map<std::string, Array>& state_dict, const Array& inputs,
                       const py::object& progress) {
  const SpectrumOptions opt = options_from(options_json);
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
  return py::make_tuple(json, clv_vectors(clv));
}

std::string sweep_json_of(const std::string& options_json, const std::vector<double>& g,
                          const std::vector<double>& alpha, const std::vector<int>& n,
                          const std::string& partial, const py::object& progress) {
  SweepSpec spec;
  spec.base = options_from(options_json);
  spec.g = g;
  spec.alpha = alpha;
  spec.n = n;
  Watched w(progress);
  return w.run([&] {
    return sweep_json(run_sweep(
        spec, partial,
        [&w](int done, int total, const std::string& label) { w.report(label, done, total); },
        [&w] { return w.stop_requested(); }));
  });
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
  m.def("spectrum_json", &spectrum_json, py::arg("options_json"), py::arg("weights") = py::none(),
        py::arg("progress") = py::none(), py::arg("trace") = false);
  m.def("trained_json", &trained_json, py::arg("options_json"), py::arg("state_dict"),
        py::arg("inputs"), py::arg("progress") = py::none());
  m.def("sweep_json", &sweep_json_of, py::arg("options_json"), py::arg("g"), py::arg("alpha"),
        py::arg("n"), py::arg("partial") = std::string(), py::arg("progress") = py::none());
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
  m.def("version", &version);
  m.def("compiled_backends", &compiled_backends);
}
