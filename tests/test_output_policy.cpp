// The output policy in the library (src/io/output_file.hpp), for every writer: temporaries unique
// to their process and stale ones removed; unit and partial files (and so Python's
// sweep(partial=...)) written through a symlink to its target and refused, before anything is
// computed, when they are not a regular file; checkpoints through the same writer.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "io/checkpoint.hpp"
#include "io/output_file.hpp"
#include "program_fixture.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/sweep.hpp"
#include "rnnlyap/units.hpp"

namespace fs = std::filesystem;

namespace rnnlyap {
namespace {

class OutputPolicy : public test::TempDirTest {
 protected:
  std::vector<std::string> files() const {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir_)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
  }
  std::size_t temporaries() const {
    const auto f = files();
    return static_cast<std::size_t>(std::count_if(f.begin(), f.end(), [](const std::string& s) {
      return s.find("rnnlyap-tmp") != std::string::npos;
    }));
  }
};

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// The pid of a process that has ended (and been reaped).
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

// Runs `body` in a child process with a time limit: "" when it returned true, else what went
// wrong ("hung" when it did not return within `seconds`: a FIFO opened without a writer).
std::string in_child(const std::function<bool()>& body, unsigned seconds = 60) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(seconds);
    bool ok = false;
    try {
      ok = body();
    } catch (...) {
    }
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) return "hung";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return "failed";
}

// A directory, a FIFO and `missing` (in a folder that does not exist) must each be refused
// (`refused` returns "" when it was); /dev/null is tried only when they all were — code that took
// it would replace it (as root) — and must still be a character device afterwards.
void expect_bad_paths_refused(const std::function<std::string(const std::string&)>& refused,
                              const std::string& dir, const std::string& fifo,
                              const std::string& missing, const std::string& what) {
  bool all = true;
  for (const std::string& bad : {dir, fifo, missing}) {
    const std::string result = refused(bad);
    EXPECT_EQ(result, "") << bad << ": " << what;
    all = all && result.empty();
  }
  ASSERT_TRUE(all) << "/dev/null not tried";
  EXPECT_EQ(refused("/dev/null"), "") << "/dev/null: " << what;
  struct stat st {};
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

SpectrumOptions tiny_map() {
  SpectrumOptions o;
  o.model = Model::map;
  o.backend = BackendKind::cpu;
  o.threads = 1;
  o.n = 8;
  o.g = 1.6;
  o.t_warmup = 20;
  o.t_ons_warmup = 5;
  o.t_sim = 40;
  o.ensemble = 2;
  o.seed = 3;
  return o;
}

SweepSpec tiny_sweep() {
  SweepSpec s;
  s.base = tiny_map();
  s.g = {1.2, 1.6};
  s.n = {8};
  return s;
}

TEST_F(OutputPolicy, TemporariesAreUniqueToTheirProcess) {
  const std::string target = path("r.json");
  io::AtomicFile a(target), b(target);
  ASSERT_TRUE(a.ok()) << a.error();
  ASSERT_TRUE(b.ok()) << b.error();
  EXPECT_EQ(a.temporary(), io::temporary_name(target, io::temporary_host(), ::getpid()).string());
  EXPECT_NE(a.temporary(), b.temporary());
  EXPECT_EQ(temporaries(), 2u);
  EXPECT_EQ(a.write_and_close("first"), 0);
  EXPECT_EQ(b.write_and_close("second"), 0);
  EXPECT_EQ(a.commit(), 0);
  EXPECT_EQ(slurp(target), "first");
  EXPECT_EQ(b.commit(), 0);  // the last one wins
  EXPECT_EQ(slurp(target), "second");
  EXPECT_EQ(files(), std::vector<std::string>({"r.json"}));
  // Abandoned (or destroyed before commit): nothing is left.
  {
    io::AtomicFile c(target);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(temporaries(), 1u);
  }
  EXPECT_EQ(files(), std::vector<std::string>({"r.json"}));
  EXPECT_EQ(slurp(target), "second");
}

// A file name of the longest length Linux allows (255 bytes) is written: its temporary's name,
// which adds the tag, host and pid, is cut to fit (before: "File name too long" from 233 on).
TEST_F(OutputPolicy, LongestLegalNamesAreWritten) {
  for (std::size_t len : {200u, 233u, 244u, 255u}) {
    const std::string target = path(std::string(len - 5, 'a') + ".json");
    io::AtomicFile a(target), b(target);
    ASSERT_TRUE(a.ok()) << len << ": " << a.error();
    ASSERT_TRUE(b.ok()) << len << ": " << b.error();
    EXPECT_LE(fs::path(a.temporary()).filename().string().size(), 255u);
    EXPECT_NE(a.temporary(), b.temporary());
    EXPECT_EQ(a.write_and_close("x"), 0);
    EXPECT_EQ(a.commit(), 0);
    EXPECT_EQ(slurp(target), "x");
    EXPECT_EQ(b.write_and_close("y"), 0);
    EXPECT_EQ(b.commit(), 0);
    EXPECT_EQ(slurp(target), "y");
    EXPECT_EQ(temporaries(), 0u) << len;
    fs::remove(target);
  }
}

TEST_F(OutputPolicy, StaleTemporariesOfThisHostAreRemoved) {
  const std::string host = io::temporary_host();
  const fs::path target = path("r.json");
  const auto name = [&](const std::string& h, long pid) {
    return io::temporary_name(target, h, pid).filename().string();
  };
  const pid_t dead = dead_pid();
  const std::vector<std::string> stale = {
      name(host, dead),         // a killed run of this host
      name(host, dead) + "-1",  // ... its second writer of the file
      name(host, ::getpid()),   // an earlier process that had this pid
      ".r.json.rnnlyap-tmp",    // an earlier version's temporary
  };
  const std::vector<std::string> kept = {
      name(host, ::getppid()),             // a live process
      name("another-host.example", dead),  // a process this host cannot ask
      io::temporary_name(path("other.json"), host, dead).filename().string(),  // another file
  };
  for (const auto& f : stale) std::ofstream(path(f)) << "stale";
  for (const auto& f : kept) std::ofstream(path(f)) << "kept";
  ASSERT_EQ(io::replace_file(target.string(), "new"), "");
  EXPECT_EQ(slurp(target.string()), "new");
  for (const auto& f : stale) EXPECT_FALSE(fs::exists(path(f))) << f;
  for (const auto& f : kept) EXPECT_TRUE(fs::exists(path(f))) << f;
  // The path check before a run (check_paths) cleans up the same way.
  for (const auto& f : stale) std::ofstream(path(f)) << "stale";
  io::check_paths({{"--out", target.string()}}, {});
  for (const auto& f : stale) EXPECT_FALSE(fs::exists(path(f))) << f;
  for (const auto& f : kept) EXPECT_TRUE(fs::exists(path(f))) << f;
}

// A unit file that is a symlink: its target is replaced and appended to, the link stays a link.
TEST_F(OutputPolicy, UnitFileThroughASymlink) {
  fs::create_directories(path("real"));
  fs::create_symlink("real/u.jsonl", path("u.jsonl"));  // dangling: created through the link
  const UnitPlan plan = UnitPlan::spectrum(tiny_map());
  {
    UnitStore store(plan, path("u.jsonl"));
    for (const std::string& line : plan.compute(0, 1)) store.add(line);  // save(): replaced
    for (const std::string& line : plan.compute(1, 1)) store.add(line);  // appended
  }
  ASSERT_TRUE(fs::is_symlink(path("u.jsonl")));
  ASSERT_TRUE(fs::is_regular_file(path("real/u.jsonl")));
  const std::string text = slurp(path("real/u.jsonl"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << text;  // the head and two units
  // Read back through the link, rewritten again through it.
  UnitStore again(plan, path("u.jsonl"));
  EXPECT_EQ(again.taken_from_file(), 2u);
  again.save();
  EXPECT_TRUE(fs::is_symlink(path("u.jsonl")));
  EXPECT_EQ(slurp(path("real/u.jsonl")), text);
  EXPECT_EQ(files(), std::vector<std::string>({"real", "u.jsonl"}));
  // Removing the file removes what the link names; the link stays, for the next run.
  io::remove_file(path("u.jsonl"));
  EXPECT_TRUE(fs::is_symlink(path("u.jsonl")));
  EXPECT_FALSE(fs::exists(path("real/u.jsonl")));
}

// A unit file is read back: a directory, a FIFO, a device or a missing folder is refused when the
// store is made (InvalidInput naming it), never opened and waited on.
TEST_F(OutputPolicy, UnitFileMustBeARegularFile) {
  fs::create_directories(path("dir"));
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  const UnitPlan plan = UnitPlan::spectrum(tiny_map());
  const auto refused = [&](const std::string& bad) {
    return in_child([&] {
      try {
        UnitStore store(plan, bad);
      } catch (const InvalidInput& e) {
        return std::string(e.what()).find(bad) != std::string::npos &&
               std::string(e.what()).find("unit file") != std::string::npos;
      }
      return false;
    });
  };
  expect_bad_paths_refused(refused, path("dir"), path("fifo"), path("missing/u.jsonl"),
                           "not refused with InvalidInput naming it");
  EXPECT_EQ(files(), std::vector<std::string>({"dir", "fifo"}));
}

// run_sweep (and so Python's sweep(partial=...)) refuses a bad partial file before computing
// anything: no progress was reported, nothing was written.
TEST_F(OutputPolicy, SweepRefusesABadPartialFileBeforeComputing) {
  fs::create_directories(path("dir"));
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  const auto refused = [&](const std::string& bad) {
    return in_child([&] {
      int calls = 0;
      try {
        run_sweep(tiny_sweep(), bad, [&](int, int, const std::string&) { ++calls; });
      } catch (const InvalidInput& e) {
        return calls == 0 && std::string(e.what()).find("partial file") != std::string::npos;
      }
      return false;
    });
  };
  expect_bad_paths_refused(refused, path("dir"), path("fifo"), path("missing/p.jsonl"),
                           "not refused before computing, with InvalidInput naming it");
  EXPECT_EQ(files(), std::vector<std::string>({"dir", "fifo"}));
  // A symlink is written through.
  fs::create_directories(path("real"));
  fs::create_symlink("real/p.jsonl", path("p.jsonl"));
  const SweepResult first = run_sweep(tiny_sweep(), path("p.jsonl"));
  EXPECT_TRUE(fs::is_symlink(path("p.jsonl")));
  ASSERT_TRUE(fs::is_regular_file(path("real/p.jsonl")));
  const SweepResult again = run_sweep(tiny_sweep(), path("p.jsonl"));
  EXPECT_EQ(again.resumed_points, 2);
  EXPECT_TRUE(fs::is_symlink(path("p.jsonl")));
}

TEST_F(OutputPolicy, CheckpointThroughASymlinkAndNoTemporaryLeft) {
  detail::Checkpoint c;
  c.options = tiny_map();
  c.state = {1.0, 2.0};
  fs::create_directories(path("real"));
  fs::create_symlink("real/c.ckpt", path("c.ckpt"));
  const std::string stale =
      io::temporary_name(path("real/c.ckpt"), io::temporary_host(), dead_pid()).string();
  std::ofstream(stale) << "stale";
  detail::write_checkpoint(path("c.ckpt"), c);
  detail::write_checkpoint(path("c.ckpt"), c);
  EXPECT_TRUE(fs::is_symlink(path("c.ckpt")));
  EXPECT_EQ(detail::read_checkpoint(path("c.ckpt")).state, c.state);
  EXPECT_FALSE(fs::exists(stale));
  std::vector<std::string> real;
  for (const auto& e : fs::directory_iterator(path("real")))
    real.push_back(e.path().filename().string());
  EXPECT_EQ(real, std::vector<std::string>({"c.ckpt"}));
  // Not a regular file: refused with Error, nothing replaced.
  EXPECT_THROW(detail::write_checkpoint(path("real"), c), Error);
  EXPECT_TRUE(fs::is_directory(path("real")));
}

}  // namespace
}  // namespace rnnlyap
