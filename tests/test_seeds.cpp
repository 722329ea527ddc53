#include "core/loop.hpp"
// Reproducibility knobs (README, "Seeds and initial state"): separate seeds for the network, the
// initial state, the initial basis and the noise, each defaulting to --seed; a given initial state.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/loop.hpp"
#include "core/options_json.hpp"
#include "exact_spectrum.hpp"
#include "linalg_truth.hpp"
#include "npy_test_util.hpp"
#include "program_fixture.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/network.hpp"
#include "rnnlyap/spectrum.hpp"
#include "rnnlyap/trained.hpp"

namespace fs = std::filesystem;

namespace rnnlyap {
namespace {

SpectrumOptions small_map() {
  SpectrumOptions o;
  o.model = Model::map;
  o.backend = BackendKind::cpu;
  o.threads = 1;
  o.n = 12;
  o.g = 1.8;
  o.t_warmup = 50;
  o.t_ons_warmup = 20;
  o.t_sim = 100;
  o.seed = 5;
  return o;
}

// The first state the loop sees with no warm-up: the initial state.
std::vector<double> first_state(const SpectrumOptions& opt) {
  SpectrumOptions o = opt;
  o.t_warmup = 0;
  o.t_ons_warmup = 0;
  o.t_sim = 2;
  std::vector<double> first;
  detail::LoopObservers obs;
  obs.state = [&](std::int64_t, std::span<const double> h) {
    if (first.empty()) first.assign(h.begin(), h.end());
  };
  detail::observed_spectrum(o, obs);
  return first;
}

TEST(Seeds, EachDefaultsToTheSeed) {
  const SpectrumOptions plain = small_map();
  SpectrumOptions all = plain;
  all.input_std = 0.1;
  all.network_seed = all.state_seed = all.basis_seed = all.noise_seed = plain.seed;
  SpectrumOptions noisy = plain;
  noisy.input_std = 0.1;
  EXPECT_EQ(compute_spectrum(all).exponents, compute_spectrum(noisy).exponents)
      << "every part seeded with --seed is the run with --seed alone";
}

// Each seed moves its own part only: the network (weights), the state (the first state seen), the
// basis (the exponents move, the trajectory does not), the noise.
TEST(Seeds, EachSeedMovesItsOwnPart) {
  const SpectrumOptions base = small_map();
  SpectrumOptions o = base;
  o.network_seed = 99;
  EXPECT_NE(make_network(o).j, make_network(base).j);
  o = base;
  o.state_seed = 99;
  EXPECT_EQ(make_network(o).j, make_network(base).j);
  EXPECT_NE(first_state(o), first_state(base));
  o = base;
  o.basis_seed = 99;
  EXPECT_EQ(first_state(o), first_state(base));
  const SpectrumResult b0 = compute_spectrum(base), b1 = compute_spectrum(o);
  EXPECT_NE(b0.exponents, b1.exponents) << "another initial basis";
  // ... but the same spectrum within the estimator's error.
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_NEAR(b0.exponents[i], b1.exponents[i], 4 * (b0.stderr_[i] + b1.stderr_[i]) + 0.05);
  o = base;
  o.input_std = 0.2;
  SpectrumOptions other_noise = o;
  other_noise.noise_seed = 99;
  EXPECT_NE(compute_spectrum(o).exponents, compute_spectrum(other_noise).exponents);
}

// --network-seed in an ensemble: one network, members differing in their initial conditions. Below
// onset every member's spectrum is the exact log|μ_i| of that one network.
TEST(Seeds, EnsembleOfInitialConditionsOfOneNetwork) {
  SpectrumOptions o = small_map();
  o.g = 0.7;
  o.t_warmup = 100;
  o.t_sim = 600;
  o.network_seed = 42;
  o.ensemble = 3;
  const EnsembleResult e = compute_ensemble(o);
  SpectrumOptions net_opt = o;
  net_opt.seed = 42;
  const Network net = make_network(net_opt);
  std::vector<double> exact;
  for (const auto& mu : test::eigenvalues(net.j, net.n)) exact.push_back(std::log(std::abs(mu)));
  ASSERT_EQ(e.members.size(), 3u);
  for (const SpectrumResult& m : e.members) test::expect_exact_spectrum(m.exponents, exact, 600);
  EXPECT_NE(e.members[0].exponents, e.members[1].exponents) << "other initial conditions";
  // Members' seeds never wrap past 2^64 - 1 to repeat seed 0's network.
  SpectrumOptions wraps = small_map();
  wraps.seed = std::numeric_limits<std::uint64_t>::max() - 1;
  wraps.ensemble = 3;
  EXPECT_THROW(compute_ensemble(wraps), InvalidInput);
  wraps.ensemble = 2;
  EXPECT_NO_THROW(compute_ensemble(wraps)) << "seeds 2^64-2 and 2^64-1";
  // The members' seeds still count up, and params record the network seed.
  EXPECT_EQ(e.members[2].options.seed, o.seed + 2);
  EXPECT_EQ(detail::options_to_json(e.members[2].options)["network_seed"], 42);
  EXPECT_FALSE(detail::options_to_json(small_map()).contains("network_seed"))
      << "params hold a part's seed only when it was given";
}

class GivenState : public test::TempDirTest {
 protected:
  std::string write(const std::string& name, const std::vector<double>& v) {
    const std::string p = (dir_ / name).string();
    test::write_file(p, test::make_npy_array_bytes(v, {v.size()}, false, false));
    return p;
  }
};

TEST_F(GivenState, RandomNetworkStartsThere) {
  SpectrumOptions o = small_map();
  std::vector<double> h0(12);
  for (int i = 0; i < 12; ++i) h0[i] = 0.1 * i - 0.5;
  o.initial_state_file = write("h0.npy", h0);
  EXPECT_EQ(first_state(o), h0);
  o.initial_state_file = write("short.npy", {1, 2, 3});
  EXPECT_THROW(compute_spectrum(o), InvalidInput) << "3 values for N = 12";
  o.initial_state_file = write("h0.npy", h0);
  o.state_seed = 3;
  EXPECT_THROW(compute_spectrum(o), InvalidInput) << "a state seed and a given state";
}

// A trained rnn without input from a given h0: the first state seen is h0 (the default is 0).
TEST_F(GivenState, TrainedNetworkStartsThere) {
  CellNetwork net;
  net.type = Model::rnn;
  net.hidden = 3;
  net.input_size = 1;
  net.layer(0).w_ih = {0, 0, 0};
  net.layer(0).w_hh = {0.5, 0.1, 0, -0.2, 0.4, 0.1, 0, 0.3, 0.6};
  InputSequences x;
  x.batch = 1;
  x.steps = 20;
  x.input_size = 1;
  x.data.assign(20, 0.0);
  SpectrumOptions o;
  o.model = Model::rnn;
  o.backend = BackendKind::cpu;
  o.n = 3;
  o.t_warmup = 0;
  o.t_ons_warmup = 0;
  o.t_sim = 0;
  const std::vector<double> h0 = {0.3, -0.2, 0.1};
  o.initial_state_file = write("h0.npy", h0);
  std::vector<double> first;
  detail::LoopObservers obs;
  obs.state = [&](std::int64_t, std::span<const double> h) {
    if (first.empty()) first.assign(h.begin(), h.end());
  };
  detail::observed_trained_spectra(o, net, x, obs);
  EXPECT_EQ(first, h0);
  o.initial_state_file = write("h4.npy", {1, 2, 3, 4});
  EXPECT_THROW(compute_trained_spectra(o, net, x), InvalidInput);
}

int cli_status(const std::string& args, std::string* err = nullptr) {
  const test::CliRun r = test::run_cli(args);
  if (err) *err = r.err;
  return r.status;
}

TEST(SeedsCli, RefusedWhereTheyDoNotApply) {
  const std::string quick = " --quiet --t-warmup 5 --t-ons-warmup 5 --t-sim 10 --n 5";
  std::string err;
  EXPECT_EQ(cli_status("spectrum --model map --noise-seed 3" + quick, &err), 2);
  EXPECT_NE(err.find("--input-std"), std::string::npos) << err;
  EXPECT_EQ(cli_status("spectrum --model map --network-seed -1" + quick, &err), 2);
  EXPECT_NE(err.find("--network-seed must be a whole number"), std::string::npos) << err;
  EXPECT_EQ(cli_status("spectrum --model map --basis-seed 1.5" + quick, &err), 2);
  EXPECT_NE(err.find("--basis-seed"), std::string::npos) << err;
  EXPECT_EQ(cli_status("spectrum --model map --initial-state /dev/zero" + quick, &err), 2);
  EXPECT_NE(err.find("--initial-state"), std::string::npos) << err;
  EXPECT_EQ(cli_status("spectrum --model map --network-seed 3 --state-seed 4 --basis-seed 5 "
                       "--noise-seed 6 --input-std 0.1" +
                       quick),
            0);
  const test::TempDir dir;
  EXPECT_EQ(cli_status("sweep --model map --g 1,2 --network-seed 3 --out - --csv " +
                       (dir / "s.csv").string() + quick),
            0);
}

}  // namespace
}  // namespace rnnlyap
