// Trained cells (PyTorch conventions) against independent truth (the tangent map against finite
// differences and the exact spectra at the zero fixed point are in test_propagator.cpp, for every
// backend and batch size):
// - PyTorch's own cells and autograd Jacobians (when /usr/bin/python3 has torch);
// - a lockstep batch of sequences (the GPU's path) against separate runs, bit for bit on the CPU;
// - bad inputs.
// Stacked layers, the relu RNN and the random networks' bias are in test_stacked.cpp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "cell_test_util.hpp"
#include "core/executor.hpp"
#include "core/loop.hpp"
#include "core/models/cell_reference.hpp"
#include "core/propagator.hpp"
#include "program_fixture.hpp"
#include "require_torch.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/trained.hpp"

namespace fs = std::filesystem;

namespace rnnlyap {
namespace {

using test::random_cell;
using test::random_inputs;

// D·Q from the CPU propagator, one step from `state` with input x; Q = identity (dim × dim).
std::vector<double> propagated_identity(const CellNetwork& net, const std::vector<double>& state,
                                        const std::vector<double>& x, bool h_only) {
  const int dim = net.type == Model::lstm && !h_only ? 2 * net.hidden : net.hidden;
  InputSequences one;
  one.batch = 1;
  one.steps = 1;
  one.input_size = net.input_size;
  one.data = x;
  auto p = detail::make_cell_propagator(
      {BackendKind::cpu, 0, Precision::fp64, QrMethod::householder}, net, one, 0, 1, dim, h_only);
  p->set_state(state);
  std::vector<double> eye(static_cast<std::size_t>(dim) * dim, 0.0);
  for (int i = 0; i < dim; ++i) eye[static_cast<std::size_t>(i) * dim + i] = 1;
  p->set_basis(eye);
  p->advance_tangent(0, 1);
  return p->basis_blocking();
}

// The tangent map against finite differences and the exact spectra at the zero fixed point, on
// every backend and batch size, are in test_propagator.cpp.

// The sequences of a batch in lockstep (the path a GPU takes: one loop over B·k exponents, split
// afterwards) do each sequence's arithmetic exactly as a batch of one: on the CPU the members are
// bit-identical to compute_trained_spectra's one-by-one runs, including their standard errors.
TEST(TrainedBatch, LockstepSequencesEqualSeparateRuns) {
  for (bool h_only : {false, true}) {
    SCOPED_TRACE(h_only ? "lstm h-only" : "lstm");
    const CellNetwork net = random_cell(Model::lstm, 12, 3, 1.8, 5);
    const InputSequences x = random_inputs(3, 300, 3, 8);
    SpectrumOptions o;
    o.t_warmup = 20;
    o.t_ons_warmup = 30;
    o.t_ons = 2;
    o.t_sim = 0;  // the rest: 250 steps
    o.lstm_h_only = h_only;
    o.k = 7;
    o.backend = BackendKind::cpu;  // bit for bit: both on the CPU, with or without a GPU present
    const EnsembleResult one_by_one = compute_trained_spectra(o, net, x);
    o.model = Model::lstm;
    o.n = net.hidden;
    const std::vector<SpectrumResult> batch = detail::run_sequences(
        o, cell_schedule(o, x.steps), net, x, 1, 2, detail::placement_of(o), {});  // sequences 1, 2
    ASSERT_EQ(one_by_one.members.size(), 3u);
    ASSERT_EQ(batch.size(), 2u);
    for (int b = 0; b < 2; ++b) {
      const SpectrumResult& want = one_by_one.members[1 + b];
      EXPECT_EQ(batch[b].sequence, 1 + b);
      ASSERT_EQ(batch[b].exponents.size(), 7u);
      for (int i = 0; i < 7; ++i) {
        ASSERT_EQ(batch[b].exponents[i], want.exponents[i]) << b << ", " << i;
        ASSERT_EQ(batch[b].stderr_[i], want.stderr_[i]) << b << ", " << i;
      }
      EXPECT_EQ(batch[b].summary.max_exponent, want.summary.max_exponent);
    }
    // The sequences differ, so equal members would mean the batch ran one sequence twice.
    EXPECT_NE(batch[0].exponents[0], batch[1].exponents[0]);
  }
}

// On the CPU, with at least as many sequences as threads, threads take whole sequences with a
// single-threaded BLAS: each member must equal the one-by-one run with one BLAS thread bit for bit
// (same arithmetic, whichever thread ran it), come back in sequence order, and the progress must
// add up to the whole run. The BLAS library's thread count is left as the caller had it.
TEST(TrainedBatch, CpuThreadsTakeWholeSequencesAndMatchSerialRuns) {
  const CellNetwork net = random_cell(Model::gru, 40, 3, 1.8, 6);
  const InputSequences x = random_inputs(5, 300, 3, 9);
  const int blas_before = cpu::blas_threads();
  SpectrumOptions o;
  o.backend = BackendKind::cpu;
  o.t_warmup = 20;
  o.t_ons_warmup = 30;
  o.t_sim = 0;
  o.threads = 1;  // one thread: the sequences one after another
  const EnsembleResult serial = compute_trained_spectra(o, net, x);
  o.threads = 2;  // two threads, five sequences: the threads take whole sequences
  std::int64_t last_done = -1, last_total = 0;
  bool monotone = true;
  Observers obs;
  obs.progress = [&](Phase, std::int64_t done, std::int64_t total) {
    monotone = monotone && done >= last_done && done <= total;
    last_done = done;
    last_total = total;
  };
  const EnsembleResult threaded = compute_trained_spectra(o, net, x, obs);
  ASSERT_EQ(threaded.members.size(), 5u);
  for (int b = 0; b < 5; ++b) {
    const SpectrumResult& got = threaded.members[b];
    const SpectrumResult& want = serial.members[b];
    EXPECT_EQ(got.sequence, b);
    ASSERT_EQ(got.exponents.size(), want.exponents.size());
    for (std::size_t i = 0; i < want.exponents.size(); ++i) {
      ASSERT_EQ(got.exponents[i], want.exponents[i]) << b << ", " << i;
      ASSERT_EQ(got.stderr_[i], want.stderr_[i]) << b << ", " << i;
    }
  }
  EXPECT_NE(threaded.members[0].exponents[0], threaded.members[1].exponents[0]);
  EXPECT_TRUE(monotone);
  EXPECT_GT(last_total, 0);
  EXPECT_EQ(last_done, last_total);
  EXPECT_EQ(cpu::blas_threads(), blas_before) << "the BLAS library's count is left as it was";
}

// PyTorch's nn.RNN/GRU/LSTM (float64) and torch.autograd.functional.jacobian of one step, written
// by a Python script into an .npz; our cell step and tangent map must reproduce them.
TEST(TrainedTorch, MatchesPyTorchCellsAndAutograd) {
  RNNLYAP_REQUIRE_TORCH_OR_SKIP();
  const test::TempDir temp;
  const std::filesystem::path& dir = temp.path();
  const std::string script = R"PY(
import sys, numpy as np, torch
torch.manual_seed(3); torch.set_default_dtype(torch.float64)
out = sys.argv[1]
for kind, cls in [("rnn", torch.nn.RNN), ("gru", torch.nn.GRU), ("lstm", torch.nn.LSTM)]:
    m = cls(input_size=4, hidden_size=10)
    with torch.no_grad():
        for p in m.parameters(): p.mul_(2.0)
    sd = {k: v.detach().numpy() for k, v in m.state_dict().items()}
    x = torch.randn(4); h = 0.5 * torch.randn(10); c = 0.5 * torch.randn(10)
    if kind == "lstm":
        cell = torch.nn.LSTMCell(4, 10); cell.load_state_dict({k[:-3]: v for k, v in m.state_dict().items()})
        def f(s): h1, c1 = cell(x[None], (s[None, :10], s[None, 10:])); return torch.cat([h1[0], c1[0]])
        s0 = torch.cat([h, c])
    else:
        cell = (torch.nn.RNNCell if kind == "rnn" else torch.nn.GRUCell)(4, 10)
        cell.load_state_dict({k[:-3]: v for k, v in m.state_dict().items()})
        def f(s): return cell(x[None], s[None])[0]
        s0 = h
    # The full layer on a 1-step sequence must agree with the cell (PyTorch's own consistency).
    sd.update({"x": x.numpy(), "state": s0.detach().numpy(), "next": f(s0).detach().numpy(),
               "jacobian": torch.autograd.functional.jacobian(f, s0).numpy()})
    np.savez(f"{out}/{kind}.npz", **sd)
)PY";
  std::ofstream(dir / "gen.py") << script;
  const test::CliRun gen =
      test::run_program("/usr/bin/python3", {(dir / "gen.py").string(), dir.string()});
  ASSERT_EQ(gen.status, 0) << gen.err;
  for (Model type : {Model::rnn, Model::gru, Model::lstm}) {
    SCOPED_TRACE(std::string(to_string(type)));
    const auto arrays = read_npz((dir / (std::string(to_string(type)) + ".npz")).string());
    const CellNetwork net = cell_from_arrays(type, arrays, "torch");
    const std::vector<double>& x = arrays.at("x").data;
    const std::vector<double>& s = arrays.at("state").data;
    const std::vector<double> next = detail::cell_step(net, s, x);
    const std::vector<double>& want = arrays.at("next").data;
    for (std::size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(next[i], want[i], 1e-12) << "state " << i;
    const std::vector<double> d = propagated_identity(net, s, x, false);
    const std::vector<double>& jac =
        arrays.at("jacobian").data;  // row-major: jac[i*dim + j] = ∂next_i/∂s_j
    const std::size_t dim = want.size();
    for (std::size_t i = 0; i < dim; ++i)
      for (std::size_t j = 0; j < dim; ++j)
        EXPECT_NEAR(d[j * dim + i], jac[i * dim + j], 1e-12) << "(" << i << ", " << j << ")";
  }
}

TEST(TrainedInputs, BadWeightsAndInputsAreInvalidInput) {
  CellNetwork good = random_cell(Model::lstm, 6, 2, 1.0, 1);
  auto arrays_of = [](const CellNetwork& c) {
    std::map<std::string, NpyArray> a;
    const std::size_t gn = static_cast<std::size_t>(c.gates() * c.hidden);
    a["lstm.weight_ih_l0"] = {{gn, static_cast<std::size_t>(c.input_size)}, c.layer(0).w_ih};
    a["lstm.weight_hh_l0"] = {{gn, static_cast<std::size_t>(c.hidden)}, c.layer(0).w_hh};
    a["lstm.bias_ih_l0"] = {{gn}, c.layer(0).b_ih};
    a["lstm.bias_hh_l0"] = {{gn}, c.layer(0).b_hh};
    return a;
  };
  auto a = arrays_of(good);
  EXPECT_EQ(cell_from_arrays(Model::lstm, a, "W.npz").hidden, 6) << "a module prefix is accepted";
  EXPECT_THROW(cell_from_arrays(Model::gru, a, "W.npz"), InvalidInput) << "4N rows are not a GRU";
  auto missing = a;
  missing.erase("lstm.weight_hh_l0");
  EXPECT_THROW(cell_from_arrays(Model::lstm, missing, "W.npz"), InvalidInput);
  auto one_bias = a;
  one_bias.erase("lstm.bias_ih_l0");
  EXPECT_THROW(cell_from_arrays(Model::lstm, one_bias, "W.npz"), InvalidInput);
  auto layer2 = a;  // an incomplete second layer (stacks: test_stacked.cpp)
  layer2["lstm.weight_ih_l1"] = a["lstm.weight_ih_l0"];
  EXPECT_THROW(cell_from_arrays(Model::lstm, layer2, "W.npz"), InvalidInput);
  auto nan = a;
  nan["lstm.weight_hh_l0"].data[3] = std::nan("");
  EXPECT_THROW(cell_from_arrays(Model::lstm, nan, "W.npz"), InvalidInput);
  InputSequences x;
  x.batch = 1;
  x.steps = 400;
  x.input_size = 3;  // the cell expects 2
  x.data.assign(1200, 0.0);
  SpectrumOptions o;
  o.t_sim = 0;
  EXPECT_THROW(compute_trained_spectra(o, good, x), InvalidInput);
  x.input_size = 2;
  x.steps = 150;  // shorter than the default warm-ups (100 + 100)
  x.data.assign(300, 0.0);
  EXPECT_THROW(compute_trained_spectra(o, good, x), InvalidInput);
}

}  // namespace
}  // namespace rnnlyap
