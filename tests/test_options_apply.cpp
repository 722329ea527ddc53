// Options that do not apply (issue 10, class 4; README, "Errors"): an option the chosen model or
// weights do not use is refused with exit 2 and one line naming it, never recorded in `params` and
// ignored; seeds outside 0 ... 2^64 - 1, ranges with more than three fields and weight files with
// parts that are not modelled are refused too.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cell_test_util.hpp"
#include "core/options_json.hpp"
#include "npy_test_util.hpp"
#include "program_fixture.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/sweep.hpp"
#include "rnnlyap/trained.hpp"

namespace fs = std::filesystem;

namespace rnnlyap {
namespace {

using rnnlyap::test::slurp;

test::ZipMember zip_member(const std::string& name, const std::string& data) {
  test::ZipMember m;
  m.name = name;
  m.data = data;
  return m;
}

class OptionsApply : public test::TempDirTest {
 protected:
  // Exit 2, one line on stderr that contains every needle, no result written.
  void expect_refused(const std::string& args, const std::vector<std::string>& needles) {
    const fs::path out = dir_ / "result.json";
    const test::CliRun r = run(args + " --out " + out.string());
    EXPECT_EQ(r.status, 2) << args << "\nstderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\nstderr: " << r.err;
    for (const std::string& n : needles)
      EXPECT_NE(r.err.find(n), std::string::npos) << args << ": no '" << n << "' in " << r.err;
    EXPECT_FALSE(fs::exists(out)) << args;
  }

  // The positive control of a refusal: exit 0 with a result and nothing on stderr (a quiet run
  // prints nothing), so that an option refused where it applies fails.
  void expect_accepted(const std::string& args) {
    const fs::path out = dir_ / "accepted.json";
    fs::remove(out);
    const test::CliRun r = run(args + " --out " + out.string());
    EXPECT_EQ(r.status, 0) << args << "\nstderr: " << r.err;
    EXPECT_EQ(r.err, "") << args;
    EXPECT_TRUE(fs::exists(out)) << args;
    fs::remove(out);
  }

  // A small trained RNN/GRU/LSTM (.npz) and 300 steps of inputs (.npy).
  std::string trained_files(Model type) {
    const CellNetwork c = test::random_cell(type, 4, 2, 0.8, 3);
    const std::size_t gn = static_cast<std::size_t>(c.gates() * c.hidden);
    const std::vector<test::ZipMember> members = {
        zip_member("weight_ih_l0.npy",
                   test::make_npy_array_bytes(c.layer(0).w_ih, {gn, 2}, false, false)),
        zip_member("weight_hh_l0.npy",
                   test::make_npy_array_bytes(c.layer(0).w_hh, {gn, 4}, false, false)),
        zip_member("bias_ih_l0.npy",
                   test::make_npy_array_bytes(c.layer(0).b_ih, {gn}, false, false)),
        zip_member("bias_hh_l0.npy",
                   test::make_npy_array_bytes(c.layer(0).b_hh, {gn}, false, false))};
    const std::string w = (dir_ / (std::string(to_string(type)) + ".npz")).string();
    test::write_file(w, test::make_zip(members));
    std::vector<double> x(600);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37 * static_cast<double>(i));
    const std::string in = (dir_ / "x.npy").string();
    test::write_file(in, test::make_npy_array_bytes(x, {300, 2}, false, false));
    return "--weights-file " + w + " --inputs " + in;
  }
};

const char* kQuick = " --t-warmup 5 --t-ons-warmup 5 --t-sim 20 --quiet";

// Every option of the table (src/cli/options.cpp, kOptionScopes) against every model it does not
// apply to: the line names the option and the model. And the positive controls: every option with
// every model it applies to runs.
TEST_F(OptionsApply, OptionsForOtherModelsAreRefused) {
  struct Case {
    std::string flag;  // with its value
    std::vector<std::string> applies;
    std::string with = "";  // what the option needs beside it where it applies
  };
  const std::vector<Case> cases = {
      {"--integrator rk4", {"rate"}},
      {"--integrator euler", {"rate"}},
      {"--dt 0.5", {"rate"}},
      {"--ensemble 2", {"rate", "map"}},
      {"--input-std 0.1", {"rate", "map"}},
      {"--zero-diagonal", {"rate", "map"}},
      {"--n 4", {"rate", "map"}},
      {"--g 1.5", {"rate", "map"}},
      {"--weights gaussian", {"rate", "map"}},
      {"--alpha 1.5", {"rate", "map"}, "--weights levy"},
      {"--lstm-h-only", {"lstm"}},
      {"--network-seed 3", {"rate", "map"}},
      {"--state-seed 4", {"rate", "map"}},
      {"--noise-seed 5", {"rate", "map"}, "--input-std 0.1"},
      {"--nonlinearity relu", {"rnn"}},
      {"--bias-std 0.1", {"rate", "map"}},
  };
  for (const std::string model : {"rate", "map", "rnn", "gru", "lstm"}) {
    const bool trained = model != "rate" && model != "map";
    // A random network's size is given here unless the case gives it (--n twice is refused).
    const std::string common = "spectrum --model " + model + kQuick +
                               (trained ? " " + trained_files(model == "rnn"   ? Model::rnn
                                                              : model == "gru" ? Model::gru
                                                                               : Model::lstm)
                                        : "");
    const std::string base = common + (trained ? "" : " --n 6");
    const test::CliRun ok = run(base);
    ASSERT_EQ(ok.status, 0) << base << "\n" << ok.err;
    for (const Case& c : cases) {
      const std::string flag = c.flag.substr(0, c.flag.find(' '));
      if (std::find(c.applies.begin(), c.applies.end(), model) != c.applies.end()) {
        expect_accepted((flag == "--n" ? common : base) + " " + c.flag + " " + c.with);
        continue;
      }
      // A trained model has its N from the file: --n 4 there is refused either way.
      expect_refused(base + " " + c.flag, {flag, "does not apply to --model " + model});
    }
  }
  // --inputs is for trained models only (the trained runs above take it).
  const std::string files = trained_files(Model::rnn);
  const std::string inputs = files.substr(files.find("--inputs"));
  for (const std::string model : {"rate", "map"})
    expect_refused("spectrum --model " + model + " --n 5 " + inputs, {"--inputs", model});
}

TEST_F(OptionsApply, WeightOptionsThatDoNotApplyAreRefused) {
  const std::string w = (dir_ / "w.npy").string();
  // Well conditioned (0.6 on the diagonal, 0.2 off it): a quiet run on any LAPACK (the rank-one
  // matrix of 0.2 everywhere warns where a LAPACK resolves its null directions to rounding level).
  std::vector<double> j(16, 0.2);
  for (int i = 0; i < 4; ++i) j[static_cast<std::size_t>(5 * i)] = 0.6;
  test::write_file(w, test::make_npy_bytes(j, 4, 4, false, false));
  for (const std::string model : {"rate", "map"}) {
    const std::string m = "spectrum --model " + model + kQuick;
    // The tail index is for levy weights only.
    expect_refused(m + " --n 5 --alpha 1.5", {"--alpha", "levy"});
    expect_refused(m + " --n 5 --weights gaussian --alpha 1.5", {"--alpha", "gaussian"});
    expect_refused(m + " --weights-file " + w + " --alpha 1.5", {"--alpha"});
    expect_accepted(m + " --n 5 --weights levy --alpha 1.5");
    // A weights file is used as it is: no gain, no size.
    expect_refused(m + " --weights-file " + w + " --g 2", {"--g", "weights file"});
    expect_refused(m + " --weights file --weights-file " + w + " --g 0.5", {"--g"});
    expect_refused(m + " --weights-file " + w + " --n 4", {"--n"});
    expect_accepted(m + " --weights-file " + w);
    expect_accepted(m + " --weights file --weights-file " + w);
    for (const std::string weights : {"gaussian", "levy"})
      expect_accepted(m + " --n 4 --g 2 --weights " + weights);
  }
  // rk4 and dt are the rate model's.
  expect_refused("spectrum --model map --n 5 --integrator rk4", {"--integrator", "map"});
  expect_refused("spectrum --model map --n 5 --dt 0.1", {"--dt", "map"});
  expect_accepted("spectrum --model rate --n 5 --integrator rk4 --dt 0.1" + std::string(kQuick));
  // The same table applies to sweeps.
  const std::string s = "sweep --quiet --n 5 --g 1,2 --csv " + (dir_ / "s.csv").string();
  expect_refused(s + " --model map --integrator rk4", {"--integrator", "map"});
  expect_refused(s + " --model map --dt 0.5", {"--dt", "map"});
  EXPECT_FALSE(fs::exists(dir_ / "s.csv"));
  for (const std::string flag : {"--integrator rk4", "--dt 0.5"})
    expect_accepted(s + " --model rate " + flag + kQuick);
  expect_accepted(s + " --model map --alpha 1.5" + kQuick);
}

TEST_F(OptionsApply, SeedsOutsideTheRangeAreRefused) {
  const std::string m = "spectrum --model map --n 4" + std::string(kQuick);
  for (const std::string bad : {"-1", "18446744073709551616", "99999999999999999999999", "1.5",
                                "1e3", "0x10", "+1", "' 7'", "''", "abc", "1,2", "-0"})
    expect_refused(m + " --seed " + bad, {"--seed"});
  expect_refused("sweep --quiet --n 4 --g 1 --csv " + (dir_ / "s.csv").string() + " --seed -3",
                 {"--seed"});
  for (const std::string good : {"0", "18446744073709551615", "007"}) {
    const test::CliRun r = run(m + " --seed " + good);
    ASSERT_EQ(r.status, 0) << good << ": " << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["params"]["seed"].get<std::uint64_t>(), std::stoull(good)) << good;
  }
}

TEST_F(OptionsApply, RangesHaveExactlyThreeFields) {
  for (const std::string bad : {"1:2:0.5:9", "1:2:0.5:", "1:2:0.5:0.1:3", "0.5:3:0.25:x"}) {
    EXPECT_THROW(parse_grid(bad, "--g"), InvalidInput) << bad;
    try {
      parse_grid(bad, "--g");
    } catch (const InvalidInput& e) {
      EXPECT_NE(std::string(e.what()).find("START:STOP:STEP"), std::string::npos) << e.what();
    }
  }
  for (const std::string bad : {"1:2", "1:", ":", "1::0.5"})
    EXPECT_THROW(parse_grid(bad, "--g"), InvalidInput) << bad;
  EXPECT_EQ(parse_grid("1:2:0.5", "--g"), (std::vector<double>{1, 1.5, 2}));
  const std::string s = "sweep --quiet --csv " + (dir_ / "s.csv").string();
  expect_refused(s + " --n 5 --g 1:2:0.5:9", {"--g", "START:STOP:STEP"});
  expect_refused(s + " --n 5 --g 1 --alpha 1:2:0.5:1", {"--alpha", "START:STOP:STEP"});
  expect_refused(s + " --n 5:10:5:1 --g 1", {"--n", "START:STOP:STEP"});
}

// `params` holds what was used: no g for file weights and trained networks, no alpha for gaussian
// weights, none of the random network's options for trained ones.
TEST_F(OptionsApply, ParamsHoldOnlyWhatWasUsed) {
  const std::string w = (dir_ / "w.npy").string();
  test::write_file(w, test::make_npy_bytes(std::vector<double>(16, 0.2), 4, 4, false, false));
  auto params = [&](const std::string& args) {
    const test::CliRun r = run("spectrum" + std::string(kQuick) + " " + args);
    EXPECT_EQ(r.status, 0) << args << ": " << r.err;
    return r.status == 0 ? nlohmann::json::parse(r.out).at("params") : nlohmann::json::object();
  };
  const auto file = params("--model map --weights-file " + w);
  EXPECT_FALSE(file.contains("g")) << file;
  EXPECT_FALSE(file.contains("alpha")) << file;
  EXPECT_FALSE(file.contains("integrator")) << file;
  EXPECT_EQ(file.at("n"), 4);
  EXPECT_EQ(file.at("weights"), "file");
  const auto gauss = params("--n 5 --g 1.5 --integrator rk4");
  EXPECT_EQ(gauss.at("g"), 1.5);
  EXPECT_EQ(gauss.at("integrator"), "rk4");
  EXPECT_FALSE(gauss.contains("alpha")) << gauss;
  const auto levy = params("--n 5 --weights levy --alpha 1.25");
  EXPECT_EQ(levy.at("alpha"), 1.25);
  for (const Model m : {Model::rnn, Model::gru, Model::lstm}) {
    const auto t = params("--model " + std::string(to_string(m)) + " " + trained_files(m));
    for (const char* key :
         {"g", "alpha", "weights", "integrator", "dt", "ensemble", "input_std", "zero_diagonal"})
      EXPECT_FALSE(t.contains(key)) << to_string(m) << ": " << key << " in " << t;
    EXPECT_EQ(t.at("n"), 4) << t;
    EXPECT_EQ(t.at("k"), m == Model::lstm ? 8 : 4) << t;
  }
}

// The params are read back (checkpoints, the Python module): new ones without the keys that do
// not apply and old ones with every key.
TEST(OptionsJson, ReadsOldAndNewParams) {
  SpectrumOptions o;
  o.model = Model::map;
  o.weights = WeightKind::file;
  o.weights_file = "w.npy";
  o.n = 7;
  o.seed = 18446744073709551615ull;
  const nlohmann::json j = detail::options_to_json(o);
  EXPECT_FALSE(j.contains("g"));
  const SpectrumOptions back = detail::options_from_json(j);
  EXPECT_EQ(back.model, Model::map);
  EXPECT_EQ(back.weights, WeightKind::file);
  EXPECT_EQ(back.n, 7);
  EXPECT_EQ(back.seed, o.seed);
  EXPECT_EQ(detail::options_to_json(back), j) << "a round trip changes nothing";
  SpectrumOptions cell;
  cell.model = Model::gru;
  cell.n = 5;
  cell.weights_file = "w.npz";
  const nlohmann::json jc = detail::options_to_json(cell);
  EXPECT_EQ(detail::options_to_json(detail::options_from_json(jc)), jc);
  // An old params object: every key, also those that did not apply.
  const nlohmann::json old = {{"model", "rate"},
                              {"integrator", "rk4"},
                              {"n", 9},
                              {"g", 1.75},
                              {"weights", "levy"},
                              {"alpha", 1.5},
                              {"weights_file", ""},
                              {"zero_diagonal", true},
                              {"k", 3},
                              {"dt", 0.05},
                              {"t_warmup", 10},
                              {"t_ons_warmup", 10},
                              {"t_sim", 50},
                              {"t_ons", 1},
                              {"input_std", 0.2},
                              {"seed", 4},
                              {"backend", "cpu"},
                              {"device", 0},
                              {"precision", "fp64"},
                              {"qr", "householder"},
                              {"threads", 0},
                              {"ensemble", 2},
                              {"inputs_file", ""},
                              {"lstm_h_only", false}};
  const SpectrumOptions r = detail::options_from_json(old);
  EXPECT_EQ(r.integrator, Integrator::rk4);
  EXPECT_EQ(r.g, 1.75);
  EXPECT_EQ(r.alpha, 1.5);
  EXPECT_EQ(r.dt, 0.05);
  EXPECT_EQ(r.ensemble, 2);
  EXPECT_TRUE(r.zero_diagonal);
  EXPECT_EQ(detail::options_to_json(r), old) << "nothing of an old rate/levy params is lost";
  // Wrong types and unknown names are still malformed.
  for (const char* key : {"g", "n", "dt", "alpha", "integrator", "weights"}) {
    nlohmann::json bad = old;
    bad[key] = nlohmann::json::array();
    EXPECT_THROW(detail::options_from_json(bad), InvalidInput) << key;
  }
  nlohmann::json unknown = old;
  unknown["integrator"] = "leapfrog";
  EXPECT_THROW(detail::options_from_json(unknown), InvalidInput);
}

// Weight files with parts that are not modelled: LSTM projections, reverse directions, the cell's
// parameters under two module prefixes.
TEST(TrainedParts, PartsThatAreNotModelledAreRefused) {
  const CellNetwork c = test::random_cell(Model::lstm, 3, 2, 1.0, 5);
  const std::size_t gn = 12;
  auto arrays = [&](const std::string& prefix) {
    std::map<std::string, NpyArray> a;
    a[prefix + "weight_ih_l0"] = {{gn, 2}, c.layer(0).w_ih};
    a[prefix + "weight_hh_l0"] = {{gn, 3}, c.layer(0).w_hh};
    a[prefix + "bias_ih_l0"] = {{gn}, c.layer(0).b_ih};
    a[prefix + "bias_hh_l0"] = {{gn}, c.layer(0).b_hh};
    return a;
  };
  auto message = [](const std::map<std::string, NpyArray>& a) -> std::string {
    try {
      cell_from_arrays(Model::lstm, a, "W.npz");
    } catch (const InvalidInput& e) {
      return e.what();
    }
    return "";
  };
  for (const std::string prefix : {"", "lstm.", "model.rnn."}) {
    const auto good = arrays(prefix);
    EXPECT_EQ(cell_from_arrays(Model::lstm, good, "W.npz").hidden, 3) << prefix;
    // A readout beside the cell is not part of it.
    auto readout = good;
    readout["fc.weight"] = {{1, 3}, {0.1, 0.2, 0.3}};
    EXPECT_EQ(cell_from_arrays(Model::lstm, readout, "W.npz").hidden, 3) << prefix;
    auto proj = good;
    proj[prefix + "weight_hr_l0"] = {{2, 3}, std::vector<double>(6, 0.1)};
    EXPECT_NE(message(proj).find("projection"), std::string::npos) << message(proj);
    for (const char* part : {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}) {
      auto rev = good;
      rev[prefix + part + "_reverse"] = good.at(prefix + part);
      EXPECT_NE(message(rev).find("reverse"), std::string::npos) << part << ": " << message(rev);
    }
    for (const char* part : {"weight_ih_l0", "bias_ih_l0", "bias_hh_l0"}) {
      auto mixed = good;
      const NpyArray moved = mixed.at(prefix + part);
      mixed.erase(prefix + part);
      mixed["enc." + std::string(part)] = moved;
      EXPECT_NE(message(mixed).find("prefix"), std::string::npos) << part << ": " << message(mixed);
    }
  }
}

}  // namespace
}  // namespace rnnlyap
