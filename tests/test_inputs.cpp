// Inputs that are not files (README, "Errors"): the program refuses a FIFO, a device or a directory
// for every input option before reading it (exit 2, one line, no hang, no unbounded memory); an
// empty file name is an error; a checkpoint whose position is impossible for its schedule is
// corrupt.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <thread>

#include "io/checkpoint.hpp"
#include "npy_test_util.hpp"
#include "program_fixture.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/npy.hpp"
#include "rnnlyap/spectrum.hpp"

namespace fs = std::filesystem;

namespace rnnlyap {
namespace {

using rnnlyap::test::CliRun;
using rnnlyap::test::slurp;

class Inputs : public test::TempDirTest {
 protected:
  void expect_refused(const std::string& args, const std::string& needle) {
    const CliRun r = run(args, test::RunOptions().timeout(60));
    EXPECT_EQ(r.status, 2) << args << "\n" << r.err;  // 124: it hung
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\n" << r.err;
  }
};

TEST_F(Inputs, NonRegularFilesAreRefusedForEveryInput) {
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  fs::create_directories(path("dir"));
  fs::create_symlink("/dev/zero", path("zero-link"));
  fs::create_symlink("fifo", path("fifo-link"));
  test::write_file(path("w.npy"),
                   test::make_npy_bytes(std::vector<double>(16, 0.1), 4, 4, false, false));
  const std::string nots[] = {"/dev/zero", "/dev/null", "/dev/urandom", "fifo",
                              "dir",       "zero-link", "fifo-link",    "/dev/stdin"};
  const std::pair<std::string, std::string> uses[] = {
      {"--weights-file", "spectrum --quiet --model map --weights-file "},
      {"--inputs", "spectrum --quiet --model rnn --weights-file w.npy --inputs "},
      {"--resume", "spectrum --quiet --resume "},
  };
  for (const auto& [option, prefix] : uses)
    for (const std::string& p : nots) {
      SCOPED_TRACE(option + " " + p);
      expect_refused(prefix + p, option);
    }
  // A FIFO with a writer that never stops (yes > fifo) is refused just the same.
  const pid_t writer = ::fork();
  if (writer == 0) {
    const int fd = ::open(path("fifo").c_str(), O_WRONLY);
    const std::string junk(4096, 'x');
    while (fd >= 0 && ::write(fd, junk.data(), junk.size()) > 0) {
    }
    ::_exit(0);
  }
  expect_refused("spectrum --quiet --resume fifo", "not a regular file");
  expect_refused("spectrum --quiet --model map --weights-file fifo", "not a regular file");
  ::kill(writer, SIGKILL);
  ::waitpid(writer, nullptr, 0);
}

TEST_F(Inputs, EmptyFileNamesAreErrors) {
  for (const std::string opt :
       {"--resume", "--weights-file", "--inputs", "--out", "--trace", "--checkpoint"})
    expect_refused("spectrum --quiet --n 8 " + opt + " ''", opt + " needs a file name");
  for (const std::string opt : {"--out", "--csv"})
    expect_refused("sweep --quiet --n 8 --g 1 " + opt + " ''", opt + " needs a file name");
}

TEST_F(Inputs, CheckpointReaderRefusesNonRegularFiles) {
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  fs::create_directories(path("dir"));
  for (const std::string& p : {path("fifo"), std::string("/dev/zero"), std::string("/dev/null"),
                               path("dir"), path("missing")}) {
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_THROW((void)read_checkpoint_options(p), InvalidInput) << p;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5)) << p;
  }
}

TEST_F(Inputs, NpyStreamPromisingMoreThanMemoryIsRefusedBeforeReading) {
  // The library still reads a pipe (bounded by its header); a header promising 8e14 bytes is
  // refused before anything is read or allocated.
  const std::string header = test::npy_header_dict("<f8", false, 10'000'000, 10'000'000);
  const std::string bytes = test::make_npy_raw(header, "", 1);
  ASSERT_EQ(::mkfifo(path("big.npy").c_str(), 0600), 0);
  std::thread writer([&] { test::write_file(path("big.npy"), bytes); });
  std::string what;
  try {
    (void)read_npy_matrix(path("big.npy"));
  } catch (const InvalidInput& e) {
    what = e.what();
  }
  writer.join();
  EXPECT_NE(what.find("does not fit in memory"), std::string::npos) << what;
}

// ------------------------------------------------------------------------------------------------
// Impossible checkpoint positions.

SpectrumOptions small_run() {
  SpectrumOptions o;
  o.backend = BackendKind::cpu;
  o.n = 12;
  o.g = 3;
  o.t_warmup = 5;
  o.t_ons_warmup = 5;
  o.t_sim = 30;  // 30 re-orthonormalisations in 30 blocks
  return o;
}

class Corrupt : public Inputs {
 protected:
  // A checkpoint of a run stopped at the `stop_at`-th poll.
  detail::Checkpoint stopped_at(int stop_at) {
    RunControl c;
    c.checkpoint_path = path("c.ckpt");
    c.checkpoint_every = 1e9;
    int polls = 0;
    c.stop_requested = [&] { return ++polls == stop_at; };
    EXPECT_THROW(compute_spectrum(small_run(), {}, c), Interrupted);
    return detail::read_checkpoint(path("c.ckpt"));
  }
  // Resumes from `c` (written with a valid checksum); the error message, or "" on success.
  std::string resume(const detail::Checkpoint& c) {
    detail::write_checkpoint(path("e.ckpt"), c);
    RunControl r;
    r.resume_path = path("e.ckpt");
    try {
      (void)compute_spectrum(read_checkpoint_options(path("e.ckpt")), {}, r);
    } catch (const InvalidInput& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(Corrupt, ImpossiblePositionsAreRefused) {
  const auto nan = std::numeric_limits<double>::quiet_NaN();
  const auto inf = std::numeric_limits<double>::infinity();
  // Polls: 1–50 state warm-up, 51–55 basis warm-up, 56– averaging.
  const detail::Checkpoint warm = stopped_at(20), basis = stopped_at(53), avg = stopped_at(70);
  for (const auto* c : {&warm, &basis, &avg}) EXPECT_EQ(resume(*c), "") << "an untouched one";
  using Edit = std::function<void(detail::Checkpoint&)>;
  const std::pair<const detail::Checkpoint*, Edit> edits[] = {
      {&warm, [](auto& c) { c.run.warmup_done = -1; }},
      {&warm, [](auto& c) { c.run.warmup_done = 51; }},
      {&warm, [](auto& c) { c.run.step = -5; }},
      {&warm, [](auto& c) { c.run.step += 1; }},
      {&warm, [](auto& c) { c.run.ons_warmup_done = 2; }},
      {&warm, [](auto& c) { c.run.ons_done = 3; }},
      {&warm, [](auto& c) { c.run.basis_started = true; }},
      {&warm, [](auto& c) { c.run.seconds = -1; }},
      {&warm, [=](auto& c) { c.state[0] = nan; }},
      {&basis, [](auto& c) { c.run.ons_warmup_done = 6; }},
      {&basis, [](auto& c) { c.run.ons_warmup_done = -1; }},
      {&basis, [](auto& c) { c.run.ons_done = 4; }},
      {&basis, [](auto& c) { c.run.basis_started = false; }},
      {&basis, [=](auto& c) { c.basis[3] = inf; }},
      {&avg, [](auto& c) { c.run.ons_done = 31; }},
      {&avg, [](auto& c) { c.run.ons_done = -2; }},
      {&avg, [](auto& c) { c.run.ons_done += 1; }},  // step and blocks no longer match
      {&avg,
       [](auto& c) {
         c.run.ons_done = 1'000'000;
         c.run.step += 999'000 * 10;
       }},
      {&avg, [](auto& c) { c.run.ons_warmup_done = 4; }},
      {&avg,
       [](auto& c) {
         c.run.block_rates.pop_back();
         c.run.block_times.pop_back();
       }},
      {&avg,
       [](auto& c) {
         c.run.block_rates.push_back(c.run.block_rates.back());
         c.run.block_times.push_back(1.0);
       }},
      {&avg, [](auto& c) { c.run.block_times[0] = -1; }},
      {&avg, [=](auto& c) { c.run.total[0] = nan; }},
      {&avg, [=](auto& c) { c.run.block[0] = inf; }},
  };
  int i = 0;
  for (const auto& [base, edit] : edits) {
    detail::Checkpoint c = *base;
    edit(c);
    const std::string what = resume(c);
    EXPECT_NE(what.find("checkpoint is corrupt"), std::string::npos)
        << "edit " << i << ": " << what;
    ++i;
  }
  // Through the program: exit 2, one line.
  detail::Checkpoint c = avg;
  c.run.ons_done = 31;
  detail::write_checkpoint(path("bad.ckpt"), c);
  expect_refused("spectrum --quiet --resume bad.ckpt", "checkpoint is corrupt");
}

}  // namespace
}  // namespace rnnlyap
