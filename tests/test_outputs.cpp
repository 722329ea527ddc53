// Outputs (README, "Errors"): every output path is checked before any computation; regular files
// are replaced atomically (through a temporary of the process), devices and FIFOs are written
// directly, a symlink's target is replaced and the link kept, "-" is standard output, a failed
// write exits 1 with one line, no temporary is ever left behind, and runs writing one file at once
// do not disturb each other.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/output_file.hpp"
#include "npy_test_util.hpp"
#include "program_fixture.hpp"

namespace fs = std::filesystem;

namespace {

using rnnlyap::test::CliRun;
using rnnlyap::test::slurp;

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A short run; LONG would take hours, so a refusal that comes fast was made before computing.
const std::string kShort = "spectrum --quiet --n 8 --g 2 --t-sim 20 --t-ons-warmup 5 --t-warmup 5";
const std::string kLong = "spectrum --quiet --n 300 --g 3 --t-sim 1e7";

class Outputs : public rnnlyap::test::TempDirTest {
 protected:
  // Runs in the test's directory (so relative paths are relative to it); stdout and stderr are
  // captured through pipes, unless `redirect`, a redirection of the shell's, replaces stdout's.
  CliRun run(const std::string& args, const std::string& redirect = "") const {
    if (redirect.empty())
      return rnnlyap::test::TempDirTest::run(args, rnnlyap::test::RunOptions().timeout(120));
    return rnnlyap::test::run_shell_command(
        "exec " + quote(rnnlyap::test::cli_path()) + " " + args + " " + redirect,
        rnnlyap::test::RunOptions().in(dir_).timeout(120));
  }

  std::vector<std::string> files() const {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir_)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
  }

  // Exit 2 fast, one line naming `option`, and the directory unchanged.
  void expect_refused(const std::string& args, const std::string& option) {
    const auto before = files();
    const CliRun r = run(kLong + " " + args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(option), std::string::npos) << args << "\n" << r.err;
    EXPECT_EQ(files(), before) << args << ": files were created or removed";
  }
};

// How a child ended, in words.
std::string describe(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("death by ") + ::strsignal(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

// The pid of a process that has ended (and been reaped).
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

bool is_root() {
  return ::geteuid() == 0;
}

TEST_F(Outputs, CharacterDevicesAreWrittenNotReplaced) {
  for (const std::string args :
       {"--out /dev/null", "--trace /dev/null", "--out /dev/null --trace /dev/null",
        "--out /dev/null --checkpoint c.ckpt --checkpoint-every 1000"}) {
    const CliRun r = run(kShort + " " + args);
    EXPECT_EQ(r.status, 0) << args << "\n" << r.err;
    struct stat st {};
    ASSERT_EQ(::stat("/dev/null", &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << args << ": /dev/null was replaced";
  }
  for (const auto& f : files()) EXPECT_EQ(f.find("rnnlyap-tmp"), std::string::npos) << f;
}

TEST_F(Outputs, FifoIsWrittenDirectlyAndNeedsAReader) {
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  // A reader started first receives the whole JSON; the FIFO stays a FIFO.
  const CliRun r = rnnlyap::test::run_shell_command(
      "(cat fifo > got.json &) && sleep 1 && exec " + quote(rnnlyap::test::cli_path()) + " " +
          kShort + " --out fifo 2>err.txt",
      rnnlyap::test::RunOptions().in(dir_).timeout(120));
  ASSERT_LT(r.status, 128);
  EXPECT_EQ(r.status, 0) << slurp(path("err.txt"));
  for (int i = 0; i < 50 && slurp(path("got.json")).find("\n}") == std::string::npos; ++i)
    ::usleep(100000);
  EXPECT_TRUE(nlohmann::json::accept(slurp(path("got.json"))));
  fs::remove(path("got.json"));
  fs::remove(path("err.txt"));
  struct stat st {};
  ASSERT_EQ(::stat(path("fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  // Without a reader: refused at once, not a hang.
  expect_refused("--out fifo", "no reader");
  expect_refused("--trace fifo", "--trace");
  // A checkpoint must be a file the program can read back.
  expect_refused("--checkpoint fifo", "--checkpoint");
  expect_refused("--checkpoint /dev/null", "--checkpoint");
  expect_refused("--checkpoint -", "--checkpoint");
}

TEST_F(Outputs, SymlinkTargetIsReplacedAndTheLinkKept) {
  fs::create_directories(path("real"));
  fs::create_directories(path("links"));
  std::ofstream(path("real/a.json")) << "old";
  fs::create_symlink("../real/a.json", path("links/a.json"));                   // relative
  fs::create_symlink(path("real/b.json"), path("links/b.json"));                // dangling
  fs::create_symlink("a.json", path("links/chain.json"));                       // link to link
  fs::create_symlink(path("real/missing-dir/c.json"), path("links/bad.json"));  // no folder
  for (const std::string link : {"links/a.json", "links/b.json", "links/chain.json"}) {
    const CliRun r = run(kShort + " --out " + link + " --trace " + link + ".csv");
    ASSERT_EQ(r.status, 0) << link << "\n" << r.err;
    EXPECT_TRUE(fs::is_symlink(path(link))) << link << " is no longer a link";
  }
  EXPECT_TRUE(nlohmann::json::accept(slurp(path("real/a.json"))));
  EXPECT_TRUE(nlohmann::json::accept(slurp(path("real/b.json"))));
  EXPECT_EQ(fs::directory_iterator(path("real")) == fs::directory_iterator(), false);
  for (const auto& e : fs::recursive_directory_iterator(dir_))
    EXPECT_EQ(e.path().string().find("rnnlyap-tmp"), std::string::npos) << e.path();
  expect_refused("--out links/bad.json", "--out");
  // A loop of links.
  fs::create_symlink("loop2", path("loop1"));
  fs::create_symlink("loop1", path("loop2"));
  expect_refused("--out loop1", "--out");
}

TEST_F(Outputs, RegularFileKeepsItsPermissions) {
  std::ofstream(path("r.json")) << "old";
  fs::permissions(path("r.json"),
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  ASSERT_EQ(run(kShort + " --out r.json").status, 0);
  EXPECT_EQ(fs::status(path("r.json")).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
}

TEST_F(Outputs, DashIsStandardOutput) {
  CliRun r = run(kShort + " --out -");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::accept(r.out));
  EXPECT_FALSE(fs::exists(path("-")));
  r = run(kShort + " --out r.json --trace -");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("time,lambda_1", 0), 0u) << r.out;
  // Standard output named twice, explicitly or by default.
  expect_refused("--out - --trace -", "--trace -");
  expect_refused("--trace -", "--trace -");
  // Sweep: the JSON on standard output needs a file for the CSV (and the partial file).
  r = run("sweep --quiet --n 6 --g 1,2 --t-sim 10 --out - --csv s.csv");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::accept(r.out));
  EXPECT_EQ(files(), std::vector<std::string>({"r.json", "s.csv"}));
  r = run("sweep --quiet --n 6 --g 1,2 --t-sim 10 --out -");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--csv"), std::string::npos) << r.err;
}

TEST_F(Outputs, FailedWritesExitOneWithOneLine) {
  struct Case {
    std::string args, redirect, needle;
  };
  const Case cases[] = {
      {"--out /dev/full", "", "cannot write /dev/full (--out)"},
      {"--out r.json --trace /dev/full", "", "cannot write /dev/full (--trace)"},
      {"", ">/dev/full", "cannot write standard output"},
      {"--out -", ">/dev/full", "cannot write standard output"},
      {"", ">&-", "cannot write standard output"},
      // The cause of the failed write, not a generic one (issue 19).
      {"--npz /dev/full", "", "cannot write /dev/full (--npz): No space left on device"},
      {"--out r.json --trace /dev/full", "", "(--trace): No space left on device"},
  };
  for (const Case& c : cases) {
    const CliRun r = run(kShort + " " + c.args, c.redirect);
    EXPECT_EQ(r.status, 1) << c.args << c.redirect << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_FALSE(fs::exists(path("r.json"))) << c.args << ": a result beside a failed output";
    for (const auto& f : files()) EXPECT_EQ(f.find("rnnlyap-tmp"), std::string::npos) << f;
  }
  // A pipe whose reader is gone: EPIPE, not a silent death by SIGPIPE.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDERR_FILENO);
    const std::string cmd = "exec " + rnnlyap::test::cli_path() + " " + kShort;
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 1);
}

// --help, --version and info write to standard output like a result: a failed write exits 1
// with one line naming the cause, never 0.
TEST_F(Outputs, HelpAndVersionToAFullDeviceExitOne) {
  for (const std::string args : {"--version", "--help", "spectrum --help", "info"}) {
    const CliRun r = run(args, ">/dev/full");
    EXPECT_EQ(r.status, 1) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find("cannot write standard output: No space left on device"),
              std::string::npos)
        << args << "\n"
        << r.err;
  }
  const CliRun ok = run("--version");
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find('.'), std::string::npos) << ok.out;
}

// Started with standard output or error closed (">&-", "2>&-"), the program opens its files on
// other descriptors: the result file holds the JSON alone (no summary line or warning inside it).
TEST_F(Outputs, ClosedStandardStreamsDoNotReceiveTheResult) {
  const std::string verbose = "spectrum --n 8 --g 2 --t-sim 20 --t-ons-warmup 5 --t-warmup 5";
  for (const std::string closed : {"2>&-", ">&- 2>&-", "<&- >&- 2>&-", ">&- 2>err.txt"}) {
    fs::remove(path("r.json"));
    const CliRun r =
        rnnlyap::test::run_shell_command("exec " + quote(rnnlyap::test::cli_path()) + " " +
                                             verbose + " --out r.json --trace t.csv " + closed,
                                         rnnlyap::test::RunOptions().in(dir_));
    ASSERT_LT(r.status, 128) << closed;
    EXPECT_EQ(r.status, 0) << closed;
    const std::string json = slurp(path("r.json"));
    EXPECT_TRUE(nlohmann::json::accept(json)) << closed << ": the result file holds\n" << json;
    EXPECT_EQ(json.find("rnnlyap:"), std::string::npos) << closed << ": a message in the result";
    EXPECT_EQ(slurp(path("t.csv")).rfind("time,lambda_1", 0), 0u) << closed;
  }
  // Messages still go to an open stderr.
  EXPECT_EQ(slurp(path("err.txt")).rfind("rnnlyap: N=8", 0), 0u) << slurp(path("err.txt"));
}

// A name of an inherited descriptor (/dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N) is
// written through that descriptor: appended where the shell appends, never renamed over.
TEST_F(Outputs, InheritedDescriptorsAreWrittenThrough) {
  struct Case {
    std::string out, redirect;
  };
  const Case cases[] = {{"/dev/stdout", ">>log"},      {"/proc/self/fd/1", ">>log"},
                        {"/dev/fd/3", "3>>log"},       {"/dev/stderr", "2>>log"},
                        {"/proc/self/fd/2", "2>>log"}, {"link", ">>log"}};
  fs::create_symlink("/dev/stdout", path("link"));
  for (const Case& c : cases) {
    std::ofstream(path("log")) << "earlier line\n";
    const CliRun r = rnnlyap::test::run_shell_command(
        "exec " + quote(rnnlyap::test::cli_path()) + " " + kShort + " --out " + c.out + " " +
            c.redirect + (c.redirect[0] == '2' ? "" : " 2>err.txt"),
        rnnlyap::test::RunOptions().in(dir_));
    ASSERT_LT(r.status, 128) << c.out;
    EXPECT_EQ(r.status, 0) << c.out << " " << c.redirect << "\n" << slurp(path("err.txt"));
    const std::string log = slurp(path("log"));
    ASSERT_EQ(log.rfind("earlier line\n", 0), 0u) << c.out << ": the log was replaced:\n" << log;
    EXPECT_TRUE(nlohmann::json::accept(log.substr(13))) << c.out << ": appended\n" << log;
    EXPECT_FALSE(fs::is_symlink(path("log")));
    EXPECT_TRUE(fs::is_symlink(path("link")));
  }
  for (const auto& f : files()) EXPECT_EQ(f.find("rnnlyap-tmp"), std::string::npos) << f;
  // A checkpoint is a file read back and replaced whole: a descriptor is refused before the run.
  std::ofstream(path("log")) << "earlier line\n";
  const CliRun r = run(kLong + " --checkpoint /dev/stdout", ">>log");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("descriptor 1"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(path("log")), "earlier line\n");
  // A descriptor that is not open, or open for reading only.
  expect_refused("--out /dev/fd/9", "descriptor 9 is not open");
  expect_refused("--out /dev/stdin", "not open for writing");
}

TEST_F(Outputs, BadPathsExitTwoBeforeComputing) {
  fs::create_directories(path("dir"));
  for (const std::string opt : {"--out", "--trace", "--checkpoint"}) {
    SCOPED_TRACE(opt);
    expect_refused(opt + " dir", opt);                      // a directory
    expect_refused(opt + " dir/", opt);                     // ... spelled as one
    expect_refused(opt + " missing/x", opt);                // a missing folder
    expect_refused(opt + " dir/missing/x", opt);            // ... deeper
    expect_refused(opt + " /proc/version/x", opt);          // a folder that is a file
    expect_refused(opt + " ''", opt);                       // an empty name
    expect_refused(opt + " new/", opt);                     // not a file name
    if (!is_root()) expect_refused(opt + " /proc/x", opt);  // an unwritable folder
  }
  if (!is_root()) {
    fs::create_directories(path("ro"));
    fs::permissions(path("ro"), fs::perms::owner_read | fs::perms::owner_exec);
    expect_refused("--out ro/r.json", "--out");
    std::ofstream(path("locked.json")) << "x";
    fs::permissions(path("locked.json"), fs::perms::owner_read);
    expect_refused("--out locked.json", "--out");
    fs::permissions(path("ro"), fs::perms::owner_all);
  }
}

TEST_F(Outputs, SamePathTwiceIsRefused) {
  fs::create_directories(path("d"));
  std::ofstream(path("e.json")) << "x";
  fs::create_hard_link(path("e.json"), path("hard.json"));
  fs::create_symlink("d", path("dlink"));
  const std::string options[] = {"--out", "--trace", "--checkpoint"};
  // Spellings of one missing file, and of one existing file.
  const std::pair<std::string, std::string> same[] = {
      {"a.json", "a.json"},       {"a.json", "./a.json"},       {"a.json", "d/../a.json"},
      {"a.json", path("a.json")}, {"d/a.json", "dlink/a.json"}, {"e.json", "hard.json"},
      {"e.json", "./e.json"},     {"e.json", path("e.json")}};
  for (const std::string& x : options)
    for (const std::string& y : options) {
      if (x == y) continue;
      for (const auto& [p, q] : same) expect_refused(x + " " + p + " " + y + " " + q, "same file");
    }
  // Standard output and /dev/stdout (here redirected to a file) are one file; so is the file
  // itself.
  expect_refused("--npz /dev/stdout --out -", "same file");
  // Sweep: the CSV on the JSON, or on the JSON's partial file.
  const CliRun r = run("sweep --quiet --n 6 --g 1 --out s.json --csv ./s.json");
  EXPECT_EQ(r.status, 2) << r.err;
  const CliRun r2 = run("sweep --quiet --n 6 --g 1 --out s.json --csv s.json.partial.jsonl");
  EXPECT_EQ(r2.status, 2) << r2.err;
  EXPECT_NE(r2.err.find("partial"), std::string::npos) << r2.err;
}

TEST_F(Outputs, OutputThatIsAnInputIsRefused) {
  using rnnlyap::test::make_npy_bytes;
  std::vector<double> w(16, 0.0);
  for (int i = 0; i < 4; ++i) w[static_cast<std::size_t>(i * 5)] = 0.5;
  rnnlyap::test::write_file(path("w.npy"), make_npy_bytes(w, 4, 4, false, false));
  fs::create_hard_link(path("w.npy"), path("w2.npy"));
  fs::create_symlink("w.npy", path("wl.npy"));
  const std::string base = "spectrum --quiet --model map --t-sim 1e7 --weights-file w.npy";
  for (const std::string opt : {"--out", "--trace", "--checkpoint"})
    for (const std::string& p : {std::string("w.npy"), std::string("./w.npy"),
                                 std::string("w2.npy"), std::string("wl.npy"), path("w.npy")}) {
      const CliRun r = run(base + " " + opt + " " + p);
      EXPECT_EQ(r.status, 2) << opt << " " << p << "\n" << r.err;
      EXPECT_NE(r.err.find("--weights-file"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(opt), std::string::npos) << r.err;
    }
  EXPECT_TRUE(fs::is_symlink(path("wl.npy")));
  EXPECT_EQ(slurp(path("w.npy")), make_npy_bytes(w, 4, 4, false, false));
}

TEST_F(Outputs, CheckpointMayContinueInTheResumeFileButNotInAnOutput) {
  CliRun r = run(kShort + " --checkpoint c.ckpt --checkpoint-every 0.000001 --out first.json");
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(fs::exists(path("c.ckpt")));
  r = run("spectrum --quiet --resume c.ckpt --checkpoint ./c.ckpt --out r.json");
  EXPECT_EQ(r.status, 0) << r.err;
  r = run("spectrum --quiet --resume c.ckpt --out c.ckpt");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  r = run("spectrum --quiet --resume c.ckpt --trace ./c.ckpt");
  EXPECT_EQ(r.status, 2) << r.err;
}

TEST_F(Outputs, TemporariesNeverAccumulate) {
  // Temporaries are ".NAME.rnnlyap-tmp.HOST.PID" (io/output_file.hpp): those of a killed run of
  // this host (output, trace, checkpoint; and an earlier version's ".NAME.rnnlyap-tmp") are
  // removed; a live process's, and another host's, are left alone.
  const std::string host = rnnlyap::io::temporary_host();
  const auto temp = [&](const std::string& file, const std::string& h, long pid) {
    return rnnlyap::io::temporary_name(file, h, pid).string();
  };
  const pid_t dead = dead_pid();
  const std::vector<std::string> kept = {temp("r.json", host, ::getpid()),
                                         temp("r.json", "another-host.example", dead)};
  for (const std::string& stale : {temp("r.json", host, dead), temp("t.csv", host, dead),
                                   temp("c.ckpt", host, dead), std::string(".r.json.rnnlyap-tmp")})
    std::ofstream(path(stale)) << "stale";
  for (const std::string& k : kept) std::ofstream(path(k)) << "kept";
  CliRun r =
      run(kShort + " --out r.json --trace t.csv --checkpoint c.ckpt --checkpoint-every 1e-6");
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<std::string> want = {"c.ckpt", "r.json", "t.csv", kept[0], kept[1]};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(files(), want);
  for (const std::string& k : kept) fs::remove(path(k));
  // Killed mid-run, again and again: at most one temporary per output, gone after a good run.
  const auto count_temps = [&] {
    std::size_t n = 0;
    for (const auto& f : files()) n += f.find("rnnlyap-tmp") != std::string::npos;
    return n;
  };
  // A run's temporaries (its pid: the shell execs the program).
  const auto temps_of = [&](pid_t pid) {
    return std::vector<std::string>{temp("k.json", host, pid), temp("k.csv", host, pid)};
  };
  const auto open_temps = [&](pid_t pid) {
    for (const std::string& t : temps_of(pid))
      if (!fs::exists(path(t))) return false;
    return true;
  };
  // SIGKILL from a clean start, SIGKILL over the temporaries it left, then SIGTERM over those.
  std::vector<std::string> earlier;  // the temporaries the previous killed run left
  for (const int sig : {SIGKILL, SIGKILL, SIGTERM}) {
    SCOPED_TRACE(::strsignal(sig));
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (::chdir(dir_.c_str()) != 0) ::_exit(127);
      const std::string cmd = "exec " + rnnlyap::test::cli_path() + " " + kLong +
                              " --out k.json --trace k.csv 2>/dev/null";
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Signal it once its outputs are open: seen open twice, 0.2 s apart (polled: a loaded machine
    // may take a while to start it; the path checks create and remove each temporary first).
    bool open = false, ended = false;
    int status = 0;
    for (int wait = 0; wait < 600 && !open && !ended; ++wait) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        ended = true;
      } else if (open_temps(pid)) {
        ::usleep(200000);
        open = open_temps(pid);
      } else {
        ::usleep(100000);
      }
    }
    if (ended) FAIL() << "the run ended before its outputs were open: " << describe(status);
    if (!open) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      FAIL() << "the run's temporaries " << temps_of(pid)[0] << " and " << temps_of(pid)[1]
             << " never appeared (60 s): nothing was killed mid-run";
    }
    ASSERT_EQ(::kill(pid, sig), 0);
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    // SIGKILL cannot be handled; SIGTERM without --checkpoint removes the temporaries and then
    // takes its default course (src/cli/process.cpp, on_signal): death by the signal either way.
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << describe(status);
    // The earlier killed run's temporaries were removed when this run made its own.
    for (const std::string& t : earlier) EXPECT_FALSE(fs::exists(path(t))) << t;
    if (sig == SIGKILL) {
      // What the killed run left: its own temporaries, one per output, none of the earlier ones.
      EXPECT_EQ(count_temps(), 2u) << "one temporary per output";
      EXPECT_TRUE(open_temps(pid));
    } else {
      EXPECT_EQ(count_temps(), 0u) << "SIGTERM removes the temporaries";
    }
    earlier = temps_of(pid);
    EXPECT_FALSE(fs::exists(path("k.json"))) << "no result from a killed run";
  }
  r = run(kShort + " --out k.json --trace k.csv");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(count_temps(), 0u);
}

// Two runs writing one --out at once: each writes its own temporary, both succeed, and the file
// is one run's whole result (the last to finish), never a mixture or a confusing error.
TEST_F(Outputs, ConcurrentRunsWritingOneFileBothSucceed) {
  const auto temporary_open = [&] {
    for (const auto& f : files())
      if (f.rfind(".same.json.rnnlyap-tmp", 0) == 0) return true;
    return false;
  };
  const pid_t slow = ::fork();
  if (slow == 0) {
    if (::chdir(dir_.c_str()) != 0) ::_exit(127);
    const std::string cmd = "exec " + rnnlyap::test::cli_path() +
                            " spectrum --quiet --n 40 --g 2 --t-sim 20000 --out same.json "
                            "2>slow.err";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  bool ended = false;
  for (int wait = 0; wait < 600 && !temporary_open() && !ended; ++wait) {
    ended = ::waitpid(slow, &status, WNOHANG) == slow;
    if (!ended) ::usleep(100000);
  }
  ASSERT_FALSE(ended) << "the slow run ended before its output was open: " << describe(status);
  // A second run writes the same file while the first is computing.
  const CliRun fast = run(kShort + " --out same.json");
  EXPECT_EQ(fast.status, 0) << fast.err;
  const std::string between = slurp(path("same.json"));
  ASSERT_TRUE(nlohmann::json::accept(between)) << between;
  EXPECT_EQ(nlohmann::json::parse(between)["params"]["n"], 8);
  const pid_t gone = ::waitpid(slow, &status, WNOHANG);
  const bool overlapped = gone == 0;
  if (gone == 0) {
    ASSERT_EQ(::waitpid(slow, &status, 0), slow);
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe(status) << "\n"
                                                             << slurp(path("slow.err"));
  EXPECT_TRUE(overlapped) << "the slow run was not running when the fast one finished";
  const std::string json = slurp(path("same.json"));
  ASSERT_TRUE(nlohmann::json::accept(json)) << json;
  EXPECT_EQ(nlohmann::json::parse(json)["params"]["n"], 40) << "the last run's result";
  EXPECT_EQ(files(), std::vector<std::string>({"same.json", "slow.err"}));
}

// A unit file (--shard) and a sweep's partial file that are symlinks: written through the link
// (the target replaced atomically and appended to), the link stays a link.
TEST_F(Outputs, UnitFilesThroughASymlink) {
  fs::create_directories(path("real"));
  fs::create_symlink("real/units.jsonl", path("units.jsonl"));  // dangling
  const std::string sweep = "sweep --quiet --n 6 --g 1,2 --t-sim 10 --t-warmup 5 --t-ons-warmup 5";
  CliRun r = run(sweep + " --shard 1/2 --out units.jsonl");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(path("units.jsonl")));
  const std::string first = slurp(path("real/units.jsonl"));
  EXPECT_EQ(std::count(first.begin(), first.end(), '\n'), 2) << first;  // head, one unit
  // The other shard's units added to the same file, through the link.
  r = run(sweep + " --shard 2/2 --out units.jsonl");
  ASSERT_EQ(r.status, 0) << r.err;
  r = run(sweep + " --shard 1/1 --out units.jsonl");  // all there: nothing computed, rewritten
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(path("units.jsonl")));
  const std::string all = slurp(path("real/units.jsonl"));
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 3) << all;
  // The sweep's partial file as a link to the shards' units: read through it, and when the sweep
  // is done what it names is removed; the link stays for the next run.
  fs::create_symlink("real/units.jsonl", path("s.json.partial.jsonl"));
  r = run(sweep + " --out s.json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::accept(slurp(path("s.json"))));
  EXPECT_TRUE(fs::is_symlink(path("s.json.partial.jsonl")));
  EXPECT_FALSE(fs::exists(path("real/units.jsonl")));
  for (const auto& e : fs::recursive_directory_iterator(dir_))
    EXPECT_EQ(e.path().string().find("rnnlyap-tmp"), std::string::npos) << e.path();
}

// A --shard unit file that cannot be one is named for what it is (before: "give one", as if no
// --out had been given), for sweeps and ensembles alike; no --out at all still asks for one.
TEST_F(Outputs, ShardUnitFileThatIsNotAFileIsNamed) {
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  fs::create_directories(path("dir"));
  const std::string sweep = "sweep --quiet --n 6 --g 1,2 --t-sim 10 --shard 1/2";
  const std::string ensemble = "spectrum --quiet --n 6 --ensemble 2 --t-sim 10 --shard 1/2";
  for (const std::string& cmd : {sweep, ensemble}) {
    for (const auto& [out, says] : {std::pair<std::string, std::string>{"fifo", "it is a FIFO"},
                                    {"dir", "it is a directory"}}) {
      const CliRun r = run(cmd + " --out " + out);
      EXPECT_EQ(r.status, 2) << cmd << " --out " << out << ": " << r.err;
      EXPECT_NE(r.err.find(says), std::string::npos) << cmd << ": " << r.err;
    }
    const CliRun r = run(cmd + " --out -");
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("give one"), std::string::npos) << r.err;
  }
}

}  // namespace
