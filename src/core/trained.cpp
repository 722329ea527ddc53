// Trained cells: loading PyTorch state_dicts and input sequences, the reference cell step, and one
// Benettin run per input sequence through the shared loop.
#include "rnnlyap/trained.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "elementwise.hpp"
#include "executor.hpp"
#include "loop.hpp"
#include "models/cell.hpp"
#include "parallel.hpp"
#include "random.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/option_table.hpp"

namespace rnnlyap {
namespace {

std::string shape_text(const std::vector<std::size_t>& s) {
  std::string t = "(";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + (s.size() == 1 ? ",)" : ")");
}

// The array whose key is `key` or ends in "." + key (a module prefix); InvalidInput if ambiguous.
const NpyArray* find_key(const std::map<std::string, NpyArray>& a, const std::string& key,
                         const std::string& name) {
  const NpyArray* found = nullptr;
  std::string which;
  for (const auto& [k, v] : a) {
    if (k == key || (k.size() > key.size() &&
                     k.compare(k.size() - key.size() - 1, std::string::npos, "." + key) == 0)) {
      if (found) throw InvalidInput(name + ": both '" + which + "' and '" + k + "' match " + key);
      found = &v;
      which = k;
    }
  }
  return found;
}

bool ends_with(const std::string& k, const std::string& tail) {
  return k.size() >= tail.size() && k.compare(k.size() - tail.size(), tail.size(), tail) == 0;
}

// The parts of a layer's key: weight_ih_l<d>, weight_hh_l<d>, bias_ih_l<d>, bias_hh_l<d>.
constexpr const char* kParts[] = {"weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l"};

// Parts that are not modelled are refused, never ignored: LSTM projections (proj_size > 0) and
// reverse directions (bidirectional=True).
void refuse_unmodelled(const std::map<std::string, NpyArray>& arrays, const std::string& name) {
  for (const auto& [k, v] : arrays) {
    if (k.find("weight_hr_l") != std::string::npos)
      throw InvalidInput(name + ": '" + k +
                         "' is an LSTM projection (proj_size > 0); networks with projections are "
                         "not supported");
    if (ends_with(k, "_reverse"))
      throw InvalidInput(name + ": '" + k +
                         "' is a reverse direction (bidirectional=True); only unidirectional "
                         "networks are supported");
  }
}

// The highest layer present (-1 when none) and the first key naming it: every key whose last
// component is one of kParts followed by up to four digits.
int top_layer(const std::map<std::string, NpyArray>& arrays, std::string& top_key) {
  int top = -1;
  for (const auto& [k, v] : arrays) {
    const std::string last = k.substr(k.rfind('.') == std::string::npos ? 0 : k.rfind('.') + 1);
    for (const char* part : kParts) {
      const std::string p(part);
      if (last.size() <= p.size() || last.compare(0, p.size(), p) != 0) continue;
      const std::string digits = last.substr(p.size());
      if (digits.size() > 4 ||
          !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
        continue;
      if (std::stoi(digits) > top) {
        top = std::stoi(digits);
        top_key = k;
      }
    }
  }
  return top;
}

// One layer's four arrays as found (null when absent).
struct LayerArrays {
  const NpyArray *wih, *whh, *bih, *bhh;
};

// Every part of layer l under `hh_prefix`, the module prefix of weight_hh_l0 (the cell's
// parameters under another prefix are another network's).
void check_prefix(const std::map<std::string, NpyArray>& arrays, int l,
                  const std::string& hh_prefix, const std::string& name) {
  for (const char* part : kParts) {
    const std::string key = std::string(part) + std::to_string(l);
    if (l == 0 && key == "weight_hh_l0") continue;
    for (const auto& [k, v] : arrays)
      if ((k == key || ends_with(k, "." + key)) && k.substr(0, k.size() - key.size()) != hh_prefix)
        throw InvalidInput(name + ": '" + k + "' and '" + hh_prefix +
                           "weight_hh_l0' have different module prefixes; save one "
                           "network's state_dict");
  }
}

// Both weights, and both biases or neither — as layer 0 (`biased`) for the layers above it.
void check_present(const LayerArrays& a, int l, bool biased, const std::string& name) {
  const std::string sfx = "_l" + std::to_string(l);
  if (!a.wih || !a.whh)
    throw InvalidInput(name + ": missing " + (!a.wih ? "weight_ih" : "weight_hh") + sfx +
                       " (expected PyTorch state_dict keys weight_ih" + sfx + ", weight_hh" + sfx +
                       ", bias_ih" + sfx + ", bias_hh" + sfx + ")");
  if (!a.bih != !a.bhh)
    throw InvalidInput(name + ": missing " + (!a.bih ? "bias_ih" : "bias_hh") + sfx +
                       " (both biases or neither, as with bias=False)");
  if (l > 0 && (a.bih != nullptr) != biased)
    throw InvalidInput(
        name + ": " +
        (a.bih ? "bias_ih" + sfx + " is given but layer 0 has no biases"
               : "missing bias_ih" + sfx + " and bias_hh" + sfx + " (layer 0 has biases)") +
        "; with bias=False no layer has biases");
}

// The shapes of layer l > 0 (those of layer 0 fix N and I: layer0_shapes).
void check_upper_shapes(const LayerArrays& a, int l, int g, int hidden, const std::string& name) {
  const std::string sfx = "_l" + std::to_string(l);
  const std::size_t n = static_cast<std::size_t>(hidden), gn = static_cast<std::size_t>(g) * n;
  if (a.whh->shape.size() != 2 || a.whh->shape[0] != gn || a.whh->shape[1] != n)
    throw InvalidInput(name + ": weight_hh" + sfx + " has shape " + shape_text(a.whh->shape) +
                       ", expected (" + std::to_string(gn) + ", " + std::to_string(n) +
                       ") as weight_hh_l0");
  if (a.wih->shape.size() != 2 || a.wih->shape[0] != gn || a.wih->shape[1] != n)
    throw InvalidInput(name + ": weight_ih" + sfx + " has shape " + shape_text(a.wih->shape) +
                       ", expected (" + std::to_string(gn) + ", " + std::to_string(n) +
                       "): layer " + std::to_string(l) + " takes layer " + std::to_string(l - 1) +
                       "'s h as its input");
}

// Layer 0's shapes, which set net.hidden (N) and net.input_size (I).
void layer0_shapes(const LayerArrays& a, int g, CellNetwork& net, const std::string& name) {
  const std::string model(to_string(net.type));
  const NpyArray& whh = *a.whh;
  if (whh.shape.size() != 2 || whh.shape[0] % static_cast<std::size_t>(g) != 0 ||
      whh.shape[0] != static_cast<std::size_t>(g) * whh.shape[1])
    throw InvalidInput(name + ": weight_hh_l0 has shape " + shape_text(whh.shape) + ", expected (" +
                       std::to_string(g) + "*N, N) for " + model);
  net.hidden = static_cast<int>(whh.shape[1]);
  const std::size_t gn = static_cast<std::size_t>(g) * static_cast<std::size_t>(net.hidden);
  if (a.wih->shape.size() != 2 || a.wih->shape[0] != gn || a.wih->shape[1] < 1)
    throw InvalidInput(name + ": weight_ih_l0 has shape " + shape_text(a.wih->shape) +
                       ", expected (" + std::to_string(gn) + ", input_size) for " + model +
                       " with N = " + std::to_string(net.hidden));
}

// Layer l's checked shapes (with layer 0's: net.hidden and net.input_size) and finite weights.
CellLayer take_layer(const LayerArrays& a, int l, int g, CellNetwork& net,
                     const std::string& name) {
  if (l == 0)
    layer0_shapes(a, g, net, name);
  else
    check_upper_shapes(a, l, g, net.hidden, name);
  const std::size_t gn = static_cast<std::size_t>(g) * static_cast<std::size_t>(net.hidden);
  for (const NpyArray* b : {a.bih, a.bhh})
    if (b && (b->shape.size() != 1 || b->shape[0] != gn))
      throw InvalidInput(name + ": a bias of layer " + std::to_string(l) + " has shape " +
                         shape_text(b->shape) + ", expected (" + std::to_string(gn) + ",)");
  CellLayer layer;
  layer.w_ih = a.wih->data;
  layer.w_hh = a.whh->data;
  if (a.bih) {
    layer.b_ih = a.bih->data;
    layer.b_hh = a.bhh->data;
  }
  for (const auto* v : {&layer.w_ih, &layer.w_hh, &layer.b_ih, &layer.b_hh})
    for (double x : *v)
      if (!std::isfinite(x))
        throw InvalidInput(name + ": non-finite weight in layer " + std::to_string(l));
  if (l == 0) net.input_size = static_cast<int>(a.wih->shape[1]);
  return layer;
}

}  // namespace

CellNetwork cell_from_arrays(Model type, const std::map<std::string, NpyArray>& arrays,
                             const std::string& name) {
  if (!is_cell(type)) throw InvalidInput("cell_from_arrays: model must be rnn, gru or lstm");
  CellNetwork net;
  net.type = type;
  net.layers.clear();
  refuse_unmodelled(arrays, name);
  // The layers present must be l0 … l{L−1}, without a gap.
  std::string top_key;
  const int top = top_layer(arrays, top_key);
  const int layers = std::max(1, top + 1);
  std::string hh_prefix;
  for (int l = 0; l < layers; ++l) {
    const std::string sfx = "_l" + std::to_string(l);
    const LayerArrays a{
        find_key(arrays, "weight_ih" + sfx, name), find_key(arrays, "weight_hh" + sfx, name),
        find_key(arrays, "bias_ih" + sfx, name), find_key(arrays, "bias_hh" + sfx, name)};
    if (l > 0 && !a.wih && !a.whh && !a.bih && !a.bhh)
      throw InvalidInput(name + ": '" + top_key + "' belongs to layer " + std::to_string(top) +
                         " but layer " + std::to_string(l) +
                         " is missing (layers must be l0, l1, ... without a gap)");
    if (l == 0 && a.whh)
      for (const auto& [k, v] : arrays)
        if (a.whh == &v) hh_prefix = k.substr(0, k.size() - std::string("weight_hh_l0").size());
    if (l > 0 || a.whh) check_prefix(arrays, l, hh_prefix, name);
    check_present(a, l, l > 0 && net.has_biases(), name);
    net.layers.push_back(take_layer(a, l, net.gates(), net, name));
  }
  return net;
}

CellNetwork load_cell_network(Model type, const std::string& npz_path) {
  return cell_from_arrays(type, read_npz(npz_path), npz_path);
}

InputSequences load_inputs(const std::string& npy_path) {
  NpyArray a = read_npy_array(npy_path);
  InputSequences x;
  if (a.shape.size() == 2) {
    x.batch = 1;
    x.steps = static_cast<int>(a.shape[0]);
    x.input_size = static_cast<int>(a.shape[1]);
  } else if (a.shape.size() == 3) {
    x.batch = static_cast<int>(a.shape[0]);
    x.steps = static_cast<int>(a.shape[1]);
    x.input_size = static_cast<int>(a.shape[2]);
  } else {
    throw InvalidInput(npy_path +
                       ": inputs must be T x input_size or B x T x input_size, got shape " +
                       shape_text(a.shape));
  }
  for (double v : a.data)
    if (!std::isfinite(v)) throw InvalidInput(npy_path + ": non-finite input");
  x.data = std::move(a.data);
  return x;
}

Schedule cell_schedule(const SpectrumOptions& opt, int steps) {
  Schedule s;
  s.step_time = 1;
  s.warmup_steps = std::llround(opt.t_warmup);
  s.steps_per_ons = std::max<std::int64_t>(1, std::llround(opt.t_ons));
  s.ons_warmup = std::llround(opt.t_ons_warmup / static_cast<double>(s.steps_per_ons));
  const std::int64_t used = s.warmup_steps + s.ons_warmup * s.steps_per_ons;
  s.ons_sim = opt.t_sim > 0 ? std::llround(opt.t_sim / static_cast<double>(s.steps_per_ons))
                            : (steps - used) / s.steps_per_ons;
  const std::int64_t need = used + s.ons_sim * s.steps_per_ons;
  if (s.ons_sim < 1 || need > steps)
    throw InvalidInput(
        "the input sequence has " + std::to_string(steps) + " steps but the schedule needs " +
        std::to_string(std::max(need, used + s.steps_per_ons)) + " (warm-up " +
        std::to_string(s.warmup_steps) + ", basis warm-up " +
        std::to_string(s.ons_warmup * s.steps_per_ons) + ", averaging at least one t_ons of " +
        std::to_string(s.steps_per_ons) + "); lower --t-warmup/--t-ons-warmup/--t-sim");
  return s;
}

namespace detail {
namespace {

// Most sequences run as one lockstep batch on a GPU (strided-batched products); the batch is
// bounded by device memory too: compute_trained_spectra halves it until it fits.
constexpr int kMaxSequenceBatch = 64;

}  // namespace

std::vector<SpectrumResult> run_sequences(const SpectrumOptions& opt, const Schedule& schedule,
                                          const CellNetwork& net, const InputSequences& inputs,
                                          int first, int count, const Placement& where,
                                          const LoopObservers& observers,
                                          const std::function<bool()>& stop_requested) {
  if (!opt.k) throw Error("run_sequences: k must be resolved");
  const int k = *opt.k;
  const int dim = net.tangent_rows(opt.lstm_h_only);
  const std::unique_ptr<Propagator> batch =
      make_cell_propagator(where, net, inputs, first, count, k, opt.lstm_h_only);
  LoopSetup setup;
  setup.options = opt;
  setup.options.backend = batch->kind();
  setup.schedule = schedule;
  setup.batch = count;
  setup.dim = dim;
  const std::vector<double> q0 = initial_basis(dim, k, opt.basis_seed_used());
  if (opt.initial_state_file.empty()) {
    setup.initial_state.assign(static_cast<std::size_t>(count) * net.state_size(), 0.0);
  } else {
    const std::vector<double> h0 =
        given_state(opt.initial_state_file, net.state_size(),
                    "the " + std::string(to_string(net.type)) + "'s state" +
                        (net.type == Model::lstm ? " (h then c)" : ""));
    for (int b = 0; b < count; ++b)
      setup.initial_state.insert(setup.initial_state.end(), h0.begin(), h0.end());
  }
  for (int b = 0; b < count; ++b)
    setup.initial_basis.insert(setup.initial_basis.end(), q0.begin(), q0.end());
  // No checkpoints here, so no network_hash: the loop reads it only when resuming.
  RunControl control;
  control.stop_requested = stop_requested;
  std::vector<SpectrumResult> out = run_benettin(*batch, setup, observers, control);
  for (int b = 0; b < count; ++b) out[b].sequence = first + b;
  return out;
}

EnsembleResult observed_trained_spectra(const SpectrumOptions& opt_in, const CellNetwork& net,
                                        const InputSequences& inputs,
                                        const LoopObservers& observers, const RunControl& control) {
  if (!control.checkpoint_path.empty() || !control.resume_path.empty())
    throw InvalidInput("--checkpoint and --resume are for random networks, not trained models");
  SpectrumOptions opt = opt_in;
  opt.model = net.type;
  opt.n = net.hidden;
  if (opt.nonlinearity != net.nonlinearity)
    throw InvalidInput("the options ask for nonlinearity " +
                       std::string(to_string(opt.nonlinearity)) + " but the network's is " +
                       std::string(to_string(net.nonlinearity)));
  validate(opt);
  if (opt.clv_requested() && inputs.batch > 1)
    throw InvalidInput("--clv and --clv-stats are for one input sequence, not a batch of " +
                       std::to_string(inputs.batch));
  if (inputs.input_size != net.input_size)
    throw InvalidInput("the inputs have " + std::to_string(inputs.input_size) +
                       " features per step but the " + std::string(to_string(net.type)) +
                       " expects input_size " + std::to_string(net.input_size));
  const int dim = net.tangent_rows(opt.lstm_h_only);
  const int k = opt.k.value_or(dim);
  if (k < 1 || k > dim)
    throw InvalidInput(OptionId::k, std::to_string(k),
                       " must be in [1, " + std::to_string(dim) + "] for this " +
                           std::string(to_string(net.type)));
  opt.k = k;
  detail::Placement where = detail::placement_of(opt);
  bool want_gpu = detail::placement_is_cuda(where);
  if (want_gpu) where.backend = BackendKind::cuda;  // a batch that does not fit is halved below
  const Schedule sched = cell_schedule(opt, inputs.steps);

  // On the CPU, with at least as many sequences as threads, the threads take whole sequences
  // (parallel.hpp); the result's time is then the wall time.
  if (!want_gpu && !observers.trace && !observers.state) {
    // Each thread holds a run (the model's buffers): that many at once must fit comfortably.
    const int threads = detail::cpu_run_threads(opt.threads);
    const double run_bytes =
        detail::CellModel<double>(net, inputs, 0, 1, opt.lstm_h_only).bytes_needed(k);
    const double host = static_cast<double>(host_memory_bytes());
    if (threads >= 2 && inputs.batch >= threads && (host == 0 || threads * run_bytes < host / 2)) {
      const auto t0 = std::chrono::steady_clock::now();
      const int batch = inputs.batch;
      detail::Placement alone = where;
      alone.threads = 1;  // each sequence on one thread (no team), the BLAS single-threaded
      EnsembleResult e = ensemble_statistics(detail::run_in_threads<SpectrumResult>(
          batch, threads, observers,
          [&](int b, const Observers& own, const std::function<bool()>& stopped) {
            // Another thread's failure, or the caller's stop request, ends this run too.
            const auto stop = [&] {
              return stopped() || (control.stop_requested && control.stop_requested());
            };
            return std::move(
                detail::run_sequences(opt, sched, net, inputs, b, 1, alone, own, stop).front());
          }));
      e.timing.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      return e;
    }
  }

  // On a GPU the sequences run in lockstep batches (one device would idle on one sequence); on
  // the CPU (with fewer sequences than threads) one after another, the BLAS using every thread.
  std::vector<SpectrumResult> members;
  int want = want_gpu ? std::min(detail::kMaxSequenceBatch, inputs.batch) : 1;
  for (int first = 0; first < inputs.batch;) {
    const int count = std::min(want, inputs.batch - first);
    LoopObservers obs = observers;  // this batch's progress, as a fraction of all the sequences
    if (observers.progress)
      obs.progress = [&observers, first, count, &inputs](Phase p, std::int64_t done,
                                                         std::int64_t total) {
        observers.progress(p, static_cast<std::int64_t>(first) * total + count * done,
                           static_cast<std::int64_t>(inputs.batch) * total);
      };
    std::vector<SpectrumResult> part;
    try {
      part = detail::run_sequences(opt, sched, net, inputs, first, count, where, obs,
                                   control.stop_requested);
    } catch (const DoesNotFit&) {
      // A batch that does not fit on the device (refused by the memory check, or an allocation
      // that failed: OutOfDeviceMemory): halve it. A sequence alone that does not fit goes to the
      // CPU under `auto`, and is the error under `cuda`.
      if (!want_gpu || (count == 1 && opt.backend == BackendKind::cuda)) throw;
      if (count == 1) {
        where.backend = BackendKind::cpu;
        want_gpu = false;
      }
      want = std::max(1, count / 2);
      continue;
    }
    for (SpectrumResult& r : part) members.push_back(std::move(r));
    first += count;
  }
  return ensemble_statistics(std::move(members));
}

}  // namespace detail

EnsembleResult compute_trained_spectra(const SpectrumOptions& opt, const CellNetwork& net,
                                       const InputSequences& inputs, const Observers& observers,
                                       const RunControl& control) {
  return detail::observed_trained_spectra(opt, net, inputs, observers, control);
}

EnsembleResult compute_trained_spectra(const SpectrumOptions& opt, const Observers& observers,
                                       const RunControl& control) {
  validate(opt);
  const std::string model(to_string(opt.model));
  if (!is_cell(opt.model))
    throw InvalidInput("compute_trained_spectra needs --model rnn, gru or lstm");
  if (opt.weights_file.empty())
    throw InvalidInput(OptionId::model, model, " needs --weights-file W.npz");
  if (opt.inputs_file.empty()) throw InvalidInput(OptionId::model, model, " needs --inputs X.npy");
  CellNetwork net = load_cell_network(opt.model, opt.weights_file);
  net.nonlinearity = opt.nonlinearity;
  return compute_trained_spectra(opt, net, load_inputs(opt.inputs_file), observers, control);
}

}  // namespace rnnlyap
