// Non-finite runs (issue 10, class 2; README, "Errors"): a run whose state or tangent basis
// overflows — a huge gain, huge inputs, huge weights, fp32 — stops with exit 1 and one line saying
// what overflowed and what to change, for every model, ensembles, trained networks and sweeps;
// never exit 0 with nulls in the JSON. An exactly singular map (g = 0) keeps its −∞ exponents with
// a finite summary.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cell_test_util.hpp"
#include "cli_path.hpp"
#include "npy_test_util.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/spectrum.hpp"
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

class NonFinite : public testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() / ("rnnlyap_nonfinite_" + std::to_string(::getpid()) + "_" +
                                     testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Exit 1, one line `rnnlyap: failed: …` containing every needle, and no result file.
  void expect_failed(const std::string& args, const std::vector<std::string>& needles) {
    const fs::path out = dir_ / "result.json";
    const std::string cmd = test::cli_path() + " " + args + " --out " + out.string() + " >" +
                            (dir_ / "stdout").string() + " 2>" + (dir_ / "stderr").string() +
                            " </dev/null";
    const int raw = std::system(cmd.c_str());
    const int status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    const std::string err = slurp(dir_ / "stderr");
    EXPECT_EQ(status, 1) << args << "\nstderr: " << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << args << "\nstderr: " << err;
    EXPECT_EQ(err.rfind("rnnlyap: failed: ", 0), 0u) << err;
    for (const std::string& n : needles)
      EXPECT_NE(err.find(n), std::string::npos) << args << ": no '" << n << "' in " << err;
    EXPECT_FALSE(fs::exists(out)) << args;
    EXPECT_TRUE(slurp(dir_ / "stdout").empty()) << args;
  }

  fs::path dir_;
};

const std::string kRun = " --quiet --t-warmup 10 --t-ons-warmup 5 --t-sim 20";

TEST_F(NonFinite, HugeGainsAndInputsFailForEveryRandomModel) {
  for (const std::string model : {"map", "rate"}) {
    const std::string m = "spectrum --model " + model + " --n 12" + kRun;
    // fp64: the map's state saturates (φ′ underflows, the logs are −∞); fp32 overflows outright.
    if (model == "map") {
      expect_failed(m + " --g 1e300", {"saturated", "--g"});
      expect_failed(m + " --g 1e200 --ensemble 3", {"saturated", "--g"});
      expect_failed(m + " --g 1 --input-std 1e300", {"--input-std"});
      expect_failed(m + " --weights levy --alpha 1 --g 1e300", {"--g"});
      expect_failed(m + " --g 1e30 --precision fp32", {"--g", "fp64"});
    }
    expect_failed(m + " --g 1e300 --precision fp32", {"--g", "--precision fp64"});
    expect_failed(m + " --g 1e300 --precision fp32 --ensemble 2", {"--precision fp64"});
  }
  const std::string s =
      "sweep --quiet --model map --n 8 --g 1,1e300 --t-warmup 10 "
      "--t-ons-warmup 5 --t-sim 20 --csv " +
      (dir_ / "s.csv").string();
  expect_failed(s, {"saturated", "--g"});
  EXPECT_FALSE(fs::exists(dir_ / "s.csv"));
}

TEST_F(NonFinite, HugeWeightFilesFail) {
  for (const double scale : {1e300, 1e200, 1e308}) {
    std::vector<double> w(16);
    for (std::size_t i = 0; i < w.size(); ++i)
      w[i] = (i % 3 == 0 ? -scale : scale) / static_cast<double>(1 + i % 5);
    const std::string path = (dir_ / "w.npy").string();
    test::write_file(path, test::make_npy_bytes(w, 4, 4, false, false));
    expect_failed("spectrum --model map --weights-file " + path + kRun, {"--weights-file"});
  }
}

// The state that overflows to ±∞ is what the check reads: a map whose J φ(h) overflows.
TEST(NonFiniteLibrary, StateOverflowIsAnErrorNotAResult) {
  Network net;
  net.n = 4;
  net.j.assign(16, 1e308);
  net.bias.assign(4, 0.0);
  SpectrumOptions o;
  o.model = Model::map;
  o.weights = WeightKind::file;
  o.weights_file = "in-memory.npy";  // the network is given: the name only satisfies validate()
  o.backend = BackendKind::cpu;
  o.t_warmup = 5;
  o.t_ons_warmup = 2;
  o.t_sim = 10;
  try {
    compute_spectrum(o, net);
    ADD_FAILURE() << "an overflowing state gave a result";
  } catch (const InvalidInput& e) {
    ADD_FAILURE() << "an overflow is not invalid input (exit 1, not 2): " << e.what();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("overflowed"), std::string::npos) << e.what();
  }
}

// −∞ is an exact answer for an exactly singular map (J = 0): kept, with a finite summary and no
// basis warning from the infinite spread.
TEST(NonFiniteLibrary, ExactlySingularMapKeepsMinusInfinity) {
  for (const double g : {0.0}) {
    SpectrumOptions o;
    o.model = Model::map;
    o.n = 5;
    o.g = g;
    o.backend = BackendKind::cpu;
    o.t_warmup = 5;
    o.t_ons_warmup = 2;
    o.t_sim = 10;
    const SpectrumResult r = compute_spectrum(o);
    for (double v : r.exponents) EXPECT_EQ(v, -std::numeric_limits<double>::infinity());
    EXPECT_FALSE(std::isnan(r.summary.max_exponent));
    EXPECT_FALSE(std::isnan(r.summary.mean_exponent));
    EXPECT_FALSE(std::isnan(r.summary.ky_dimension));
    EXPECT_FALSE(std::isnan(r.summary.ks_entropy));
    EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  }
}

// Trained networks: huge weights or inputs saturate or overflow the cell.
TEST_F(NonFinite, TrainedNetworksWithHugeWeightsOrInputsFail) {
  for (const Model m : {Model::rnn, Model::gru, Model::lstm}) {
    for (const double wscale : {1.0, 1e300}) {
      for (const double xscale : {1.0, 1e300}) {
        if (wscale == 1.0 && xscale == 1.0) continue;
        CellNetwork c = test::random_cell(m, 4, 2, 0.8, 3);
        for (double& v : c.w_ih) v *= wscale;
        for (double& v : c.w_hh) v *= wscale;
        const std::size_t gn = static_cast<std::size_t>(c.gates() * c.hidden);
        const std::vector<test::ZipMember> members = {
            zip_member("weight_ih_l0.npy",
                       test::make_npy_array_bytes(c.w_ih, {gn, 2}, false, false)),
            zip_member("weight_hh_l0.npy",
                       test::make_npy_array_bytes(c.w_hh, {gn, 4}, false, false))};
        const std::string w = (dir_ / "w.npz").string();
        test::write_file(w, test::make_zip(members));
        std::vector<double> x(400);
        for (std::size_t i = 0; i < x.size(); ++i)
          x[i] = xscale * std::sin(0.37 * static_cast<double>(i));
        const std::string in = (dir_ / "x.npy").string();
        test::write_file(in, test::make_npy_array_bytes(x, {200, 2}, false, false));
        expect_failed("spectrum --model " + std::string(to_string(m)) + " --weights-file " + w +
                          " --inputs " + in + " --quiet --t-warmup 10 --t-ons-warmup 10",
                      {"weights"});
      }
    }
  }
}

}  // namespace
}  // namespace rnnlyap
