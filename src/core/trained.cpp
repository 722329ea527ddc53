// Trained cells: loading PyTorch state_dicts and input sequences, the reference cell step, and one
// Benettin run per input sequence through the shared loop.
#include "rnnlyap/trained.hpp"

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

}  // namespace

CellNetwork cell_from_arrays(Model type, const std::map<std::string, NpyArray>& arrays,
                             const std::string& name) {
  if (!is_cell(type)) throw InvalidInput("cell_from_arrays: model must be rnn, gru or lstm");
  CellNetwork net;
  net.type = type;
  const int g = net.gates();
  const std::string model(to_string(type));
  const NpyArray* wih = find_key(arrays, "weight_ih_l0", name);
  const NpyArray* whh = find_key(arrays, "weight_hh_l0", name);
  const NpyArray* bih = find_key(arrays, "bias_ih_l0", name);
  const NpyArray* bhh = find_key(arrays, "bias_hh_l0", name);
  for (const auto& [k, v] : arrays)
    if (k.find("_l1") != std::string::npos)
      throw InvalidInput(name + ": '" + k +
                         "' belongs to a second layer; only single-layer networks are supported");
  // Parts that are not modelled are refused, never ignored: LSTM projections (proj_size > 0),
  // reverse directions (bidirectional=True), and the cell's parameters under another module prefix.
  const auto ends_with = [](const std::string& k, const std::string& tail) {
    return k.size() >= tail.size() && k.compare(k.size() - tail.size(), tail.size(), tail) == 0;
  };
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
  std::string hh_prefix;
  for (const auto& [k, v] : arrays)
    if (whh == &v) hh_prefix = k.substr(0, k.size() - std::string("weight_hh_l0").size());
  if (whh)
    for (const char* part : {"weight_ih_l0", "bias_ih_l0", "bias_hh_l0"})
      for (const auto& [k, v] : arrays)
        if ((k == part || ends_with(k, std::string(".") + part)) &&
            k.substr(0, k.size() - std::string(part).size()) != hh_prefix)
          throw InvalidInput(name + ": '" + k + "' and '" + hh_prefix +
                             "weight_hh_l0' have different module prefixes; save one cell's "
                             "state_dict");
  if (!wih || !whh)
    throw InvalidInput(
        name + ": missing " + std::string(!wih ? "weight_ih_l0" : "weight_hh_l0") +
        " (expected PyTorch state_dict keys weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0)");
  if (!bih != !bhh)
    throw InvalidInput(name + ": missing " + std::string(!bih ? "bias_ih_l0" : "bias_hh_l0") +
                       " (both biases or neither, as with bias=False)");
  if (whh->shape.size() != 2 || whh->shape[0] % static_cast<std::size_t>(g) != 0 ||
      whh->shape[0] != static_cast<std::size_t>(g) * whh->shape[1])
    throw InvalidInput(name + ": weight_hh_l0 has shape " + shape_text(whh->shape) +
                       ", expected (" + std::to_string(g) + "*N, N) for " + model);
  net.hidden = static_cast<int>(whh->shape[1]);
  const std::size_t gn = static_cast<std::size_t>(g) * net.hidden;
  if (wih->shape.size() != 2 || wih->shape[0] != gn || wih->shape[1] < 1)
    throw InvalidInput(name + ": weight_ih_l0 has shape " + shape_text(wih->shape) +
                       ", expected (" + std::to_string(gn) + ", input_size) for " + model +
                       " with N = " + std::to_string(net.hidden));
  net.input_size = static_cast<int>(wih->shape[1]);
  for (const NpyArray* b : {bih, bhh})
    if (b && (b->shape.size() != 1 || b->shape[0] != gn))
      throw InvalidInput(name + ": a bias has shape " + shape_text(b->shape) + ", expected (" +
                         std::to_string(gn) + ",)");
  net.w_ih = wih->data;
  net.w_hh = whh->data;
  if (bih) {
    net.b_ih = bih->data;
    net.b_hh = bhh->data;
  }
  for (const auto* v : {&net.w_ih, &net.w_hh, &net.b_ih, &net.b_hh})
    for (double x : *v)
      if (!std::isfinite(x)) throw InvalidInput(name + ": non-finite weight");
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

std::vector<double> cell_step(const CellNetwork& net, std::span<const double> state,
                              std::span<const double> x) {
  using detail::dsigmoid;
  using detail::phi;
  using detail::sigmoid;
  const int n = net.hidden, gn = net.gates() * n, in = net.input_size;
  std::vector<double> gi(gn), gh(gn);
  for (int r = 0; r < gn; ++r) {
    double a = net.b_ih.empty() ? 0 : net.b_ih[r], b = net.b_hh.empty() ? 0 : net.b_hh[r];
    for (int j = 0; j < in; ++j) a += net.w_ih[static_cast<std::size_t>(r) * in + j] * x[j];
    for (int j = 0; j < n; ++j) b += net.w_hh[static_cast<std::size_t>(r) * n + j] * state[j];
    gi[r] = a;
    gh[r] = b;
  }
  std::vector<double> out(state.begin(), state.end());
  for (int i = 0; i < n; ++i) {
    if (net.type == Model::rnn) {
      out[i] = phi(gi[i] + gh[i]);
    } else if (net.type == Model::gru) {
      const double r = sigmoid(gi[i] + gh[i]), z = sigmoid(gi[n + i] + gh[n + i]);
      const double nn = phi(gi[2 * n + i] + r * gh[2 * n + i]);
      out[i] = (1 - z) * nn + z * state[i];
    } else {
      const double ig = sigmoid(gi[i] + gh[i]), fg = sigmoid(gi[n + i] + gh[n + i]);
      const double gg = phi(gi[2 * n + i] + gh[2 * n + i]),
                   og = sigmoid(gi[3 * n + i] + gh[3 * n + i]);
      out[n + i] = fg * state[n + i] + ig * gg;
      out[i] = og * phi(out[n + i]);
    }
  }
  return out;
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
                                          const Observers& observers) {
  if (!opt.k) throw Error("run_sequences: k must be resolved");
  const int k = *opt.k;
  const int dim = net.tangent_rows(opt.lstm_h_only);
  const std::unique_ptr<Propagator> batch =
      make_cell_propagator(where, net, inputs, first, count, k, opt.lstm_h_only);
  LoopSetup setup;
  setup.options = opt;
  setup.options.backend = batch->name() == "cuda" ? BackendKind::cuda : BackendKind::cpu;
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
  std::vector<SpectrumResult> out = run_benettin(*batch, setup, observers, {});
  for (int b = 0; b < count; ++b) out[b].sequence = first + b;
  return out;
}

}  // namespace detail

EnsembleResult compute_trained_spectra(const SpectrumOptions& opt_in, const CellNetwork& net,
                                       const InputSequences& inputs, const Observers& observers) {
  SpectrumOptions opt = opt_in;
  opt.model = net.type;
  opt.n = net.hidden;
  validate(opt);
  if (inputs.input_size != net.input_size)
    throw InvalidInput("the inputs have " + std::to_string(inputs.input_size) +
                       " features per step but the " + std::string(to_string(net.type)) +
                       " expects input_size " + std::to_string(net.input_size));
  const int dim = net.tangent_rows(opt.lstm_h_only);
  const int k = opt.k.value_or(dim);
  if (k < 1 || k > dim)
    throw InvalidInput("--k " + std::to_string(k) + " must be in [1, " + std::to_string(dim) +
                       "] for this " + std::string(to_string(net.type)));
  opt.k = k;
  detail::Placement where = detail::placement_of(opt);
  bool want_gpu = detail::placement_is_cuda(where);
  if (want_gpu) where.backend = BackendKind::cuda;  // a batch that does not fit is halved below
  const Schedule sched = cell_schedule(opt, inputs.steps);
  if (opt.threads > 0) cpu::set_blas_threads(opt.threads);

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
      EnsembleResult e = ensemble_statistics(detail::run_in_threads<SpectrumResult>(
          batch, threads, observers, [&](int b, const Observers& own, const auto&) {
            return std::move(
                detail::run_sequences(opt, sched, net, inputs, b, 1, where, own).front());
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
    Observers obs = observers;  // this batch's progress, as a fraction of all the sequences
    if (observers.progress)
      obs.progress = [&observers, first, count, &inputs](Phase p, std::int64_t done,
                                                         std::int64_t total) {
        observers.progress(p, static_cast<std::int64_t>(first) * total + count * done,
                           static_cast<std::int64_t>(inputs.batch) * total);
      };
    std::vector<SpectrumResult> part;
    try {
      part = detail::run_sequences(opt, sched, net, inputs, first, count, where, obs);
    } catch (const InvalidInput&) {
      // A batch that does not fit on the device: halve it. A sequence alone that does not fit
      // goes to the CPU under `auto`, and is the error under `cuda`.
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

EnsembleResult compute_trained_spectra(const SpectrumOptions& opt, const Observers& observers) {
  validate(opt);
  const std::string model(to_string(opt.model));
  if (!is_cell(opt.model))
    throw InvalidInput("compute_trained_spectra needs --model rnn, gru or lstm");
  if (opt.weights_file.empty())
    throw InvalidInput("--model " + model + " needs --weights-file W.npz");
  if (opt.inputs_file.empty()) throw InvalidInput("--model " + model + " needs --inputs X.npy");
  return compute_trained_spectra(opt, load_cell_network(opt.model, opt.weights_file),
                                 load_inputs(opt.inputs_file), observers);
}

}  // namespace rnnlyap
