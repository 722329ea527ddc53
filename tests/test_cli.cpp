// The command-line contract (README, "Using rnnlyap"): result JSON keys, the trace CSV, and bad
// input — exit status 2, one line on stderr naming the problem, no result file, no crash.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "backends.hpp"
#include "cli/messages.hpp"
#include "core/propagator.hpp"
#include "npy_test_util.hpp"
#include "program_fixture.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"

namespace fs = std::filesystem;

namespace {

using rnnlyap::test::CliRun;
using rnnlyap::test::slurp;

class Cli : public rnnlyap::test::TempDirTest {
 protected:
  // Exit 2, exactly one line on stderr containing `needle`, and nothing left in the directory
  // but the captured streams and the given input files.
  void expect_rejected(const std::string& args, const std::string& needle) {
    const std::size_t files_before = count_files();
    const CliRun r = run("spectrum --quiet --out " + (dir_ / "result.json").string() + " " + args);
    EXPECT_EQ(r.status, 2) << args << "\nstderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\nstderr: " << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\nstderr: " << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "result.json")) << args;
    EXPECT_EQ(count_files(), files_before) << args << ": a temporary file was left behind";
  }

  // The positive control of a refusal: exit 0, a result, nothing on stderr (--quiet).
  void expect_accepted(const std::string& args) {
    fs::remove(dir_ / "result.json");
    const CliRun r = run("spectrum --quiet --t-warmup 2 --t-ons-warmup 2 --t-sim 4 --out " +
                         (dir_ / "result.json").string() + " " + args);
    EXPECT_EQ(r.status, 0) << args << "\nstderr: " << r.err;
    EXPECT_EQ(r.err, "") << args;
    EXPECT_TRUE(fs::exists(dir_ / "result.json")) << args;
  }

  std::size_t count_files() const {
    const fs::directory_iterator files(dir_);
    return static_cast<std::size_t>(std::distance(begin(files), end(files)));
  }
};

TEST_F(Cli, ResultJsonHasTheContractKeys) {
  const fs::path out = dir_ / "r.json", trace = dir_ / "t.csv";
  const CliRun r =
      run("spectrum --n 30 --g 3 --t-sim 50 --t-ons-warmup 20 --t-warmup 20 --seed 11 --out " +
          out.string() + " --trace " + trace.string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.out.empty()) << "with --out the JSON goes to the file";
  const auto j = nlohmann::json::parse(slurp(out));
  for (const char* key :
       {"exponents", "stderr", "summary", "params", "backend", "device", "precision", "timing"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["exponents"].size(), 30u);
  EXPECT_EQ(j["stderr"].size(), 30u);
  for (const char* key :
       {"max_exponent", "mean_exponent", "sum", "n_positive", "ky_dimension", "ks_entropy"})
    EXPECT_TRUE(j["summary"].contains(key)) << key;
  for (const char* key : {"seconds", "tangent_steps", "qr_count"})
    EXPECT_TRUE(j["timing"].contains(key)) << key;
  EXPECT_EQ(j["params"]["n"], 30);
  EXPECT_EQ(j["params"]["seed"], 11);
  EXPECT_EQ(j["params"]["k"], 30);
  // `auto`: the GPU when one is present and usable (this small run fits), else the CPU.
  EXPECT_EQ(j["backend"], rnnlyap::detail::placement_is_cuda({}) ? "cuda" : "cpu");
  EXPECT_EQ(j["precision"], "fp64");
  EXPECT_TRUE(j["warnings"].empty());
  // 50 τ / t_ons = 1 → 50 trace rows after the header, time column 1..50.
  std::istringstream csv(slurp(trace));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line.rfind("time,lambda_1,lambda_2", 0), 0u) << line;
  int rows = 0;
  std::string last;
  while (std::getline(csv, line)) {
    ++rows;
    last = line;
  }
  EXPECT_EQ(rows, 50);
  // The last running estimate is the final result.
  const double last_l1 = std::stod(last.substr(last.find(',') + 1));
  EXPECT_NEAR(last_l1, j["exponents"][0].get<double>(), 1e-8);
  // Not a terminal: no progress bar, one summary line.
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos);
}

TEST_F(Cli, JsonGoesToStdoutWithoutOut) {
  const CliRun r = run("spectrum --model map --n 10 --g 2 --t-sim 20 --quiet");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << "--quiet prints nothing on stderr";
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["params"]["model"], "map");
}

TEST_F(Cli, InfoListsBackendsAndBlas) {
  const CliRun r = run("info");
  ASSERT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("backends compiled in: cpu"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("BLAS:"), std::string::npos) << r.out;
  const CliRun j = run("info --json");
  ASSERT_EQ(j.status, 0);
  EXPECT_TRUE(nlohmann::json::parse(j.out).contains("devices"));
}

// OpenBLAS on a CPU newer than its kernel table runs generic SSE3 kernels at a quarter of the
// speed: `info` says so and names OPENBLAS_CORETYPE. Forced here both ways (the variable is read
// when OpenBLAS loads, in the child): generic kernels warn on a CPU with AVX2, Haswell's do not.
TEST_F(Cli, InfoWarnsWhenOpenBlasRunsGenericKernels) {
  if (rnnlyap::blas_info().find("OpenBLAS") == std::string::npos) GTEST_SKIP() << "not OpenBLAS";
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "no AVX2: generic kernels are right";
  ::setenv("OPENBLAS_CORETYPE", "Prescott", 1);
  const CliRun generic = run("info");
  const CliRun generic_json = run("info --json");
  ::setenv("OPENBLAS_CORETYPE", "Haswell", 1);
  const CliRun haswell = run("info --json");
  ::unsetenv("OPENBLAS_CORETYPE");
  ASSERT_EQ(generic.status, 0);
  EXPECT_NE(generic.out.find("BLAS warning: OpenBLAS did not recognise this CPU"),
            std::string::npos)
      << generic.out;
  EXPECT_NE(generic.out.find("OPENBLAS_CORETYPE="), std::string::npos) << generic.out;
  EXPECT_TRUE(nlohmann::json::parse(generic_json.out)["blas_warning"].is_string());
  EXPECT_TRUE(nlohmann::json::parse(haswell.out)["blas_warning"].is_null()) << haswell.out;
#else
  GTEST_SKIP() << "x86-64 only";
#endif
}

// How many threads one run takes, and whose: the BLAS library's count, as rnnlyap's own team from
// two threads (src/cpu/cpu_executor.cpp). OPENBLAS_NUM_THREADS is read when OpenBLAS loads, in the
// child.
TEST_F(Cli, InfoSaysHowManyThreadsARunUses) {
  if (rnnlyap::blas_info().find("OpenBLAS") == std::string::npos) GTEST_SKIP() << "not OpenBLAS";
  const char* before = std::getenv("OPENBLAS_NUM_THREADS");
  const std::string saved = before ? before : "";
  ::setenv("OPENBLAS_NUM_THREADS", "1", 1);
  const CliRun one = run("info");
  ::setenv("OPENBLAS_NUM_THREADS", "2", 1);
  const CliRun two = run("info");
  const CliRun two_json = run("info --json");
  if (before)
    ::setenv("OPENBLAS_NUM_THREADS", saved.c_str(), 1);
  else
    ::unsetenv("OPENBLAS_NUM_THREADS");
  EXPECT_NE(one.out.find("CPU threads per run: 1; --threads T sets T"), std::string::npos)
      << one.out;
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "OpenBLAS keeps one thread here";
  EXPECT_NE(two.out.find("CPU threads per run: 2, rnnlyap's own team"), std::string::npos)
      << two.out;
  EXPECT_EQ(nlohmann::json::parse(two_json.out)["cpu_threads"].get<std::string>().rfind("2, ", 0),
            0u)
      << two_json.out;
}

TEST_F(Cli, BadOptionsExitTwoWithOneLine) {
  expect_rejected("--n 10 --k 11", "--k 11 exceeds");
  expect_rejected("--n 10 --dt 0", "--dt must be in (0, 1]");
  expect_rejected("--n 10 --dt -0.1", "--dt must be in (0, 1]");
  expect_rejected("--n 10 --dt 1.5", "--dt must be in (0, 1]");
  expect_rejected("--n 10 --dt 0.1 --t-ons 0.05", "--t-ons must be at least one step");
  expect_rejected("--n 10 --dt 0.1 --t-ons 0.25", "not a whole number of steps");
  expect_rejected("--n 0", "--n must be at least 1");
  expect_rejected("--n 10 --t-sim -5", "--t-sim");
  expect_rejected("--n 10 --model chaos", "--model must be one of");
  expect_rejected("--n 10 --precision fp16", "--precision must be one of");
  expect_rejected("--n 10 --no-such-flag", "no-such-flag");
  expect_rejected("--n ten", "--n");
  expect_rejected("--n 10 --weights file", "--weights-file");
  expect_rejected("--n 10000000", "MiB");  // 800 TB of weights
  // Options that would be ignored: checkpoint timing without a checkpoint; a covariant-vector
  // window of 0 ("all" is said by leaving the flag out).
  expect_rejected("--n 10 --checkpoint-every 5", "--checkpoint-every applies with --checkpoint");
  expect_rejected("--n 10 --ensemble 2 --checkpoint-every 5", "--checkpoint-every applies");
  expect_rejected("--n 10 --clv " + (dir_ / "v.npy").string() + " --clv-window 0",
                  "--clv-window must be > 0 (leave it out");
}

// Exit-2 messages (the user's input, a run that does not fit) show no build-machine source path:
// a GPU allocation that fails under --backend cuda is OutOfDeviceMemory, whose message the
// library builds from a VendorError ending in " at FILE:LINE".
TEST(CliMessages, ExitTwoMessagesShowNoSourcePath) {
  const rnnlyap::OutOfDeviceMemory e(
      std::string("out of GPU memory: ") +
      rnnlyap::VendorError("CUDA runtime cudaMalloc", 2, "cudaErrorMemoryAllocation: out of memory",
                           __FILE__, __LINE__)
          .what());
  // The library's own message names the file within the project, never the machine's path.
  EXPECT_EQ(std::string(e.what()).find(__FILE__), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find(" at test_cli.cpp:"), std::string::npos) << e.what();
  EXPECT_NE(std::string(
                rnnlyap::VendorError("cuBLAS", 3, "x", "/home/b/rnnlyap/src/cuda/a.hpp", 12).what())
                .find(") at src/cuda/a.hpp:12"),
            std::string::npos);
  EXPECT_EQ(rnnlyap::cli::without_source_location(e.what()),
            "out of GPU memory: CUDA runtime cudaMalloc error 2 (cudaErrorMemoryAllocation: out "
            "of memory)");
  // Anything else is left as it is.
  for (const std::string m : {"--n must be at least 1", "cannot write 'at x.cpp:3' (--out): x",
                              "cannot write a.json (--out): it is a directory"})
    EXPECT_EQ(rnnlyap::cli::without_source_location(m), m);
}

TEST_F(Cli, UnknownCommandIsNamed) {
  const CliRun r = run("bogus --n 10");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("unknown command 'bogus'"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST_F(Cli, BadWeightFilesExitTwoWithOneLine) {
  using rnnlyap::test::make_npy_bytes;
  using rnnlyap::test::write_file;
  expect_rejected("--weights-file " + (dir_ / "missing.npy").string(), "missing.npy");
  write_file((dir_ / "rect.npy").string(),
             make_npy_bytes(std::vector<double>(6, 0.1), 2, 3, false, false));
  expect_rejected("--weights-file " + (dir_ / "rect.npy").string(), "square");
  std::vector<double> v(9, 0.1);
  v[4] = std::nan("");
  write_file((dir_ / "nan.npy").string(), make_npy_bytes(v, 3, 3, false, false));
  expect_rejected("--weights-file " + (dir_ / "nan.npy").string(), "nan.npy");
  write_file((dir_ / "junk.npy").string(), "this is not a numpy file at all");
  expect_rejected("--weights-file " + (dir_ / "junk.npy").string(), "junk.npy");
  const std::string good = make_npy_bytes(std::vector<double>(16, 0.1), 4, 4, false, false);
  write_file((dir_ / "cut.npy").string(), good.substr(0, good.size() - 5));
  expect_rejected("--weights-file " + (dir_ / "cut.npy").string(), "cut.npy");
  write_file((dir_ / "ok.npy").string(), good);
  expect_rejected("--weights-file " + (dir_ / "ok.npy").string() + " --n 4",
                  "--n cannot be combined");
  expect_rejected("--weights-file " + (dir_ / "ok.npy").string() + " --k 5", "--k 5 exceeds");
}

// The positive controls of the two tables above: the valid values next to each refused one run.
TEST_F(Cli, ValuesNextToTheRefusedOnesRun) {
  expect_accepted("--n 10 --k 10");
  expect_accepted("--n 10 --dt 1 --t-ons 1");
  expect_accepted("--n 10 --dt 0.05");
  expect_accepted("--n 10 --dt 0.1 --t-ons 0.1");
  expect_accepted("--n 10 --dt 0.1 --t-ons 0.2");
  expect_accepted("--n 1");
  expect_accepted("--n 10 --model map");
  expect_accepted("--n 10 --precision fp32");
  expect_accepted("--n 10 --weights gaussian");
  const std::string good =
      rnnlyap::test::make_npy_bytes(std::vector<double>(16, 0.1), 4, 4, false, false);
  rnnlyap::test::write_file((dir_ / "ok.npy").string(), good);
  expect_accepted("--weights-file " + (dir_ / "ok.npy").string());
  expect_accepted("--weights file --weights-file " + (dir_ / "ok.npy").string());
  expect_accepted("--weights-file " + (dir_ / "ok.npy").string() + " --k 4");
}

TEST_F(Cli, CudaBackendWithoutDeviceExitsTwo) {
  if (!rnnlyap::cuda_devices().empty()) GTEST_SKIP() << "a CUDA device is present";
  expect_rejected("--n 10 --backend cuda", "--backend cuda");
}

// The test-only emulated device says what it is wherever a device is named, and `auto` never uses
// it (tests/emulation/README.md).
TEST_F(Cli, EmulatedCudaDeviceIsNamedPlainly) {
  if (!rnnlyap::test::cuda_emulated()) GTEST_SKIP() << "not the emulated CUDA build";
  const CliRun info = run("info");
  EXPECT_EQ(info.status, 0);
  EXPECT_NE(info.out.find("emulated CUDA device (CPU, test-only; not a GPU)"), std::string::npos)
      << info.out;
  const CliRun cuda = run("spectrum --model map --n 12 --t-sim 50 --quiet --backend cuda");
  ASSERT_EQ(cuda.status, 0) << cuda.err;
  EXPECT_NE(cuda.out.find("\"backend\": \"cuda\""), std::string::npos) << cuda.out;
  EXPECT_NE(cuda.out.find("\"device\": \"emulated CUDA device"), std::string::npos) << cuda.out;
  const CliRun automatic = run("spectrum --model map --n 12 --t-sim 50 --quiet");
  ASSERT_EQ(automatic.status, 0) << automatic.err;
  EXPECT_NE(automatic.out.find("\"backend\": \"cpu\""), std::string::npos) << automatic.out;
}

TEST_F(Cli, UnwritableOutputFailsBeforeTheRun) {
  const CliRun r = run("spectrum --n 10 --quiet --out /nonexistent-dir/r.json");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot write /nonexistent-dir/r.json"), std::string::npos) << r.err;
}

// A batch job's log (stderr not a terminal): one plain progress line per interval
// (RNNLYAP_PROGRESS_SECONDS, 60 by default), none with --quiet, no carriage returns.
TEST_F(Cli, ProgressLinesInABatchLog) {
  const std::string args =
      "spectrum --n 60 --g 3 --t-sim 400 --t-ons-warmup 20 --out " + (dir_ / "r.json").string();
  for (const std::string cmd : {"spectrum", "sweep"}) {
    const std::string a = cmd == "spectrum" ? args
                                            : "sweep --n 20 --g 1,2,3 --t-sim 100 --out " +
                                                  (dir_ / "s.json").string();
    const CliRun r =
        run(a, rnnlyap::test::RunOptions().set_env("RNNLYAP_PROGRESS_SECONDS", "0.001"));
    ASSERT_EQ(r.status, 0) << r.err;
    std::istringstream lines(r.err);
    std::string line;
    int progress = 0;
    while (std::getline(lines, line)) {
      if (line.rfind("rnnlyap: progress: ", 0) != 0) continue;
      ++progress;
      EXPECT_NE(line.find('%'), std::string::npos) << line;
      EXPECT_NE(line.find("elapsed"), std::string::npos) << line;
      EXPECT_NE(line.find("remaining"), std::string::npos) << line;
    }
    EXPECT_GE(progress, 2) << cmd << ": " << r.err;
    EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
    const CliRun q = run(a + " --quiet",
                         rnnlyap::test::RunOptions().set_env("RNNLYAP_PROGRESS_SECONDS", "0.001"));
    ASSERT_EQ(q.status, 0) << q.err;
    EXPECT_TRUE(q.err.empty()) << cmd << ": --quiet prints nothing: " << q.err;
  }
  // The default interval (60 s): a short run prints no progress line.
  const CliRun d = run(args);
  ASSERT_EQ(d.status, 0) << d.err;
  EXPECT_EQ(d.err.find("progress"), std::string::npos) << d.err;
  // A bad interval is refused before the run.
  for (const std::string bad : {"0", "-1", "abc", "", "nan", "1e400"}) {
    const CliRun b =
        run(args, rnnlyap::test::RunOptions().set_env("RNNLYAP_PROGRESS_SECONDS", bad));
    EXPECT_EQ(b.status, 2) << bad << ": " << b.err;
    EXPECT_NE(b.err.find("RNNLYAP_PROGRESS_SECONDS"), std::string::npos) << b.err;
  }
}

TEST_F(Cli, WeightsFileSetsN) {
  using rnnlyap::test::make_npy_bytes;
  // A 3×3 diagonal map J = diag(0.5, 0.25, 0.125) far below onset: map exponents log|μ| exactly.
  std::vector<double> v(9, 0.0);
  v[0] = 0.5;
  v[4] = 0.25;
  v[8] = 0.125;
  rnnlyap::test::write_file((dir_ / "w.npy").string(), make_npy_bytes(v, 3, 3, true, true));
  const CliRun r = run("spectrum --model map --quiet --weights-file " + (dir_ / "w.npy").string());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["exponents"].size(), 3u);
  EXPECT_NEAR(j["exponents"][0].get<double>(), std::log(0.5), 1e-9);
  EXPECT_NEAR(j["exponents"][1].get<double>(), std::log(0.25), 1e-9);
  EXPECT_NEAR(j["exponents"][2].get<double>(), std::log(0.125), 1e-9);
}

}  // namespace
