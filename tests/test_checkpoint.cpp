// Checkpoint and resume: a run stopped anywhere — state warm-up, basis warm-up, inside an
// averaging block, at a block boundary — and resumed gives the uninterrupted run's result. State
// and basis are restored bit for bit and the noise is a function of (seed, step), so the only
// difference is the grouping of the same log|R_ii| terms in the sums: 1e-12 relative.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>
#include <vector>

#include "backends.hpp"
#include "compare.hpp"
#include "program_fixture.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/spectrum.hpp"

namespace fs = std::filesystem;

namespace rnnlyap {
namespace {

SpectrumOptions small_run() {
  SpectrumOptions o;
  o.backend = BackendKind::cpu;
  o.n = 40;
  o.g = 3;
  o.input_std = 0.3;
  o.t_warmup = 20;  // 200 steps in chunks of 1: 200 polls
  o.t_ons_warmup = 10;
  o.t_sim = 60;  // 60 re-orthonormalisations in 40 blocks
  return o;
}

void expect_same(const SpectrumResult& a, const SpectrumResult& b) {
  ASSERT_EQ(a.exponents.size(), b.exponents.size());
  for (std::size_t i = 0; i < a.exponents.size(); ++i) {
    EXPECT_NEAR(a.exponents[i], b.exponents[i], 1e-12 * (1 + std::fabs(a.exponents[i]))) << i;
    EXPECT_NEAR(a.stderr_[i], b.stderr_[i], 1e-10 * (1 + a.stderr_[i])) << i;
  }
}

// Stop at the `stop_at`-th poll, then resume (stopping again at `second_stop` polls, if > 0).
SpectrumResult interrupted_run(const SpectrumOptions& o, int stop_at, int second_stop,
                               const fs::path& ckpt) {
  RunControl c;
  c.checkpoint_path = ckpt.string();
  c.checkpoint_every = 1e9;
  int polls = 0;
  c.stop_requested = [&] { return ++polls == stop_at; };
  EXPECT_THROW(compute_spectrum(o, {}, c), Interrupted) << "stop at poll " << stop_at;
  RunControl r;
  r.resume_path = ckpt.string();
  if (second_stop > 0) {
    r.checkpoint_path = ckpt.string();
    int polls2 = 0;
    r.stop_requested = [&] { return ++polls2 == second_stop; };
    EXPECT_THROW(compute_spectrum(read_checkpoint_options(ckpt.string()), {}, r), Interrupted);
    r.stop_requested = nullptr;
  }
  return compute_spectrum(read_checkpoint_options(ckpt.string()), {}, r);
}

TEST(Checkpoint, ResumeAnywhereEqualsUninterruptedRun) {
  const SpectrumOptions o = small_run();
  const SpectrumResult whole = compute_spectrum(o);
  const test::TempDir temp;
  const fs::path ckpt = temp / "a.ckpt";
  // Polls: 1–200 state warm-up (chunks of one step), 201–210 basis warm-up, 211–269 averaging
  // (a block ends every 1–2 re-orthonormalisations).
  for (int stop_at : {1, 150, 200, 201, 205, 210, 211, 230, 231, 250, 269}) {
    SCOPED_TRACE("stop at poll " + std::to_string(stop_at));
    expect_same(whole, interrupted_run(o, stop_at, 0, ckpt));
  }
  // Twice interrupted, and the map model and RK4.
  expect_same(whole, interrupted_run(o, 120, 100, ckpt));
  SpectrumOptions rk4 = o;
  rk4.integrator = Integrator::rk4;
  expect_same(compute_spectrum(rk4), interrupted_run(rk4, 230, 10, ckpt));
  SpectrumOptions map = o;
  map.model = Model::map;
  expect_same(compute_spectrum(map), interrupted_run(map, 50, 0, ckpt));  // map: 20 + 10 + 59 polls
  fs::remove(ckpt);
}

TEST(Checkpoint, PeriodicCheckpointsDoNotChangeTheResult) {
  const SpectrumOptions o = small_run();
  const test::TempDir temp;
  const fs::path ckpt = temp / "b.ckpt";
  RunControl c;
  c.checkpoint_path = ckpt.string();
  c.checkpoint_every = 0;  // at every poll
  expect_same(compute_spectrum(o), compute_spectrum(o, {}, c));
  EXPECT_TRUE(fs::exists(ckpt));
  fs::remove(ckpt);
}

TEST(Checkpoint, RefusesAnotherNetworkAndCorruptFiles) {
  SpectrumOptions o = small_run();
  const test::TempDir temp;
  const fs::path ckpt = temp / "c.ckpt";
  RunControl c;
  c.checkpoint_path = ckpt.string();
  c.stop_requested = [] { return true; };
  EXPECT_THROW(compute_spectrum(o, {}, c), Interrupted);
  RunControl r;
  r.resume_path = ckpt.string();
  o.seed += 1;  // another network
  EXPECT_THROW(compute_spectrum(o, {}, r), InvalidInput);
  // Flip one byte in the middle: the checksum catches it.
  std::string bytes;
  {
    std::ifstream f(ckpt, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    bytes = s.str();
  }
  bytes[bytes.size() / 2] ^= 0x5A;
  std::ofstream(ckpt, std::ios::binary) << bytes;
  EXPECT_THROW(read_checkpoint_options(ckpt.string()), InvalidInput);
  std::ofstream(ckpt, std::ios::binary) << bytes.substr(0, 10);
  EXPECT_THROW(read_checkpoint_options(ckpt.string()), InvalidInput);
  EXPECT_THROW(read_checkpoint_options((temp / "missing").string()), InvalidInput);
  fs::remove(ckpt);
}

// "On either backend": a checkpoint written on the CPU continues on the GPU. The trajectories part
// at rounding level and the network is chaotic, so the results agree statistically.
TEST(Checkpoint, CpuCheckpointResumesOnCuda) {
  RNNLYAP_SKIP_UNLESS_AVAILABLE(BackendKind::cuda);
  SpectrumOptions o = small_run();
  o.t_sim = 400;
  const SpectrumResult whole = compute_spectrum(o);
  const test::TempDir temp;
  const fs::path ckpt = temp / "d.ckpt";
  RunControl c;
  c.checkpoint_path = ckpt.string();
  int polls = 0;
  c.stop_requested = [&] { return ++polls == 300; };  // inside averaging (200 + 10 + 399 polls)
  EXPECT_THROW(compute_spectrum(o, {}, c), Interrupted);
  SpectrumOptions resumed = read_checkpoint_options(ckpt.string());
  resumed.backend = BackendKind::cuda;
  RunControl r;
  r.resume_path = ckpt.string();
  const SpectrumResult gpu = compute_spectrum(resumed, {}, r);
  EXPECT_EQ(gpu.backend, "cuda");
  for (int i = 0; i < 5; ++i)
    EXPECT_NEAR(gpu.exponents[i], whole.exponents[i], 5 * (whole.stderr_[i] + gpu.stderr_[i])) << i;
  fs::remove(ckpt);
}

// Starts the program with `args` (split at spaces; no shell, so the pid is the program's own).
pid_t start_cli(const std::string& args) {
  std::vector<std::string> argv_strings = test::split_args(args);
  argv_strings.insert(argv_strings.begin(), test::cli_path());
  const std::vector<char*> argv = test::detail::c_strings(argv_strings);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

int wait_status(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "death by signal " + std::to_string(WTERMSIG(status)) + " (" +
           ::strsignal(WTERMSIG(status)) + ")";
  return "wait status " + std::to_string(status);
}

// Sends `sig` to the run `pid` as soon as its first checkpoint `ckpt` exists, not after a fixed
// delay: the handlers are installed before anything else runs, so a signal then is never the one
// that arrives before them (on a loaded machine a fixed delay may signal a run that has not
// started, whose default action is death by the signal). The run lasts seconds after that
// checkpoint, so it cannot have finished when the signal comes: it must stop with status 130.
void signal_at_first_checkpoint(pid_t pid, const fs::path& ckpt, int sig) {
  const auto t0 = std::chrono::steady_clock::now();
  int status = 0;
  bool ended = false;
  for (int i = 0; i < 6000 && !fs::exists(ckpt); ++i) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      ended = true;
      break;
    }
    ::usleep(10000);
  }
  if (ended)
    FAIL() << "the run ended before its first checkpoint existed (" << describe(status) << ")";
  if (!fs::exists(ckpt)) {
    ::kill(pid, SIGKILL);
    wait_status(pid);
    FAIL() << "no first checkpoint after 60 s";
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(::kill(pid, sig), 0) << "the run is gone: it ended right after its first checkpoint";
  status = wait_status(pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 130)
      << ::strsignal(sig) << " sent " << seconds
      << " s after the start, at the first checkpoint: " << describe(status)
      << " (130 is the documented status: exit 0 is a run that did not stop, or stopped and said "
         "it finished; death by the signal is no checkpoint-and-stop)";
}

// Kills and reaps a run that a failed assertion left behind.
class Reaper {
 public:
  explicit Reaper(pid_t pid) : pid_(pid) {}
  Reaper(Reaper&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;
  ~Reaper() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait_status(pid_);
    }
  }
  int wait() { return wait_status(std::exchange(pid_, -1)); }

 private:
  pid_t pid_;
};

// The program (README, "Long runs"): SIGINT or SIGTERM writes a last checkpoint and exits 130, and
// --resume finishes with the uninterrupted run's result. Each full run is about 3 s of one core
// here; the uninterrupted run and the two resumed ones run side by side.
TEST(CheckpointCli, SignalThenResume) {
  const test::TempDir temp;
  const fs::path& dir = temp.path();
  const std::string common =
      " spectrum --n 60 --g 3 --t-sim 6000 --t-ons-warmup 50 --quiet --input-std 0.1 --threads 1";
  Reaper whole{start_cli(common + " --out " + (dir / "whole.json").string())};
  const std::vector<std::pair<int, std::string>> signals = {{SIGINT, "int"}, {SIGTERM, "term"}};
  for (const auto& [sig, name] : signals) {
    SCOPED_TRACE("SIG" + std::string(sig == SIGINT ? "INT" : "TERM"));
    const fs::path ckpt = dir / (name + ".ckpt"), part = dir / (name + ".json");
    // Reaped by signal_at_first_checkpoint, whatever happens.
    const pid_t pid = start_cli(common + " --checkpoint " + ckpt.string() +
                                " --checkpoint-every 0.05 --out " + part.string());
    ASSERT_NO_FATAL_FAILURE(signal_at_first_checkpoint(pid, ckpt, sig));
    EXPECT_FALSE(fs::exists(part)) << "no half-written result";
    ASSERT_TRUE(fs::exists(ckpt));
  }
  // Changing the model on resume is refused.
  EXPECT_EQ(test::run_cli("spectrum --quiet --g 2 --resume " + (dir / "int.ckpt").string()).status,
            2);
  std::vector<Reaper> resumed;
  for (const auto& [sig, name] : signals)
    resumed.emplace_back(start_cli(" spectrum --quiet --resume " +
                                   (dir / (name + ".ckpt")).string() + " --out " +
                                   (dir / (name + ".json")).string()));
  ASSERT_EQ(describe(whole.wait()), "exit status 0") << "the uninterrupted run";
  for (Reaper& r : resumed) ASSERT_EQ(describe(r.wait()), "exit status 0") << "a resumed run";
  auto exponents = [](const fs::path& p) {
    std::ifstream f(p);
    return nlohmann::json::parse(f).at("exponents").get<std::vector<double>>();
  };
  const std::vector<double> a = exponents(dir / "whole.json");
  EXPECT_EQ(a.size(), 60u);
  for (const auto& [sig, name] : signals)
    EXPECT_MAX_ABS_DIFF_LE(exponents(dir / (name + ".json")), a, 1e-11) << "resumed after " << name;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rnnlyap
