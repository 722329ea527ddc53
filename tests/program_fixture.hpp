// What the tests that run the program or write files share: a temporary directory of the running
// test's own (TempDir, or the fixture TempDirTest), and running `rnnlyap` — or another program —
// without a shell, its exit status and both streams captured (run_cli, run_program). The few
// tests that need the shell's redirections (">&-", ">>log", a background reader) say so by
// calling run_shell_command.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

extern char** environ;

namespace rnnlyap::test {

/// The program under test: $RNNLYAP_CLI_PATH when set (e.g. a bundle run on another machine),
/// else the build tree's binary.
inline std::string cli_path() {
  const char* env = std::getenv("RNNLYAP_CLI_PATH");
  return env && *env ? env : RNNLYAP_CLI_PATH;
}

/// A finished run of a program: its exit status (128 + the signal when a signal ended it, 124
/// when it ran past its timeout, as timeout(1) says) and its captured streams.
struct CliRun {
  int status = -1;
  std::string out, err;
};

/// The whole content of a file ("" if it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

/// Splits a command line into arguments at spaces; '…' groups (so '' is an empty argument). No
/// other shell syntax: a test that needs it calls run_shell_command.
inline std::vector<std::string> split_args(const std::string& line) {
  std::vector<std::string> args;
  std::string cur;
  bool in_arg = false, quoted = false;
  for (const char c : line) {
    if (c == '\'') {
      quoted = !quoted;
      in_arg = true;
    } else if (!quoted && (c == ' ' || c == '\t' || c == '\n')) {
      if (in_arg) args.push_back(cur);
      cur.clear();
      in_arg = false;
    } else {
      cur += c;
      in_arg = true;
    }
  }
  if (in_arg) args.push_back(cur);
  return args;
}

/// How a program is started besides its arguments: RunOptions().in(dir).timeout(60).
struct RunOptions {
  std::filesystem::path cwd;                             ///< empty: this process's
  std::vector<std::pair<std::string, std::string>> env;  ///< set in its environment
  double timeout_seconds = 0;  ///< > 0: sent SIGTERM after this long, status 124

  /// Started in `dir`.
  RunOptions& in(const std::filesystem::path& dir) {
    cwd = dir;
    return *this;
  }
  /// With `name`=`value` in its environment.
  RunOptions& set_env(const std::string& name, const std::string& value) {
    env.emplace_back(name, value);
    return *this;
  }
  /// Stopped as timeout(1) stops it after `seconds`.
  RunOptions& timeout(double seconds) {
    timeout_seconds = seconds;
    return *this;
  }
};

namespace detail {

/// Pointers to `strings` and a null pointer, as execve takes them (valid while `strings` lives).
inline std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> p;
  for (std::string& s : strings) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

/// This process's environment with `set` set in it.
inline std::vector<std::string> environment_with(
    const std::vector<std::pair<std::string, std::string>>& set) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    const bool replaced = std::any_of(set.begin(), set.end(), [&](const auto& kv) {
      return entry.rfind(kv.first + "=", 0) == 0;
    });
    if (!replaced) env.push_back(entry);
  }
  for (const auto& [name, value] : set) env.push_back(name + "=" + value);
  return env;
}

/// Appends what one read of `fd` gives to `sink`; false at its end (or an error).
inline bool read_some(int fd, std::string& sink) {
  char buf[4096];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  if (n > 0) sink.append(buf, static_cast<std::size_t>(n));
  return n > 0 || (n < 0 && errno == EINTR);
}

/// Reads the pipes `fds` (the child `pid`'s stdout and stderr) into `sinks` until both end, both
/// at once so that a child filling one while we wait on the other never blocks. Past
/// `timeout_seconds` (> 0) the child is sent SIGTERM, as timeout(1) sends it; returns whether it
/// was.
inline bool drain(const int (&fds)[2], pid_t pid, double timeout_seconds,
                  std::string* const (&sinks)[2]) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  bool timed_out = false;
  pollfd polled[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    int wait_ms = -1;
    if (timeout_seconds > 0 && !timed_out) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      wait_ms = static_cast<int>(std::max<long long>(0, left.count()));
    }
    const int ready = ::poll(polled, 2, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    if (ready == 0) {
      ::kill(pid, SIGTERM);
      timed_out = true;
      continue;
    }
    for (int i = 0; i < 2; ++i)
      if (polled[i].fd >= 0 && polled[i].revents != 0 && !read_some(polled[i].fd, *sinks[i])) {
        ::close(polled[i].fd);
        polled[i].fd = -1;
        --open_fds;
      }
  }
  for (const pollfd& p : polled)
    if (p.fd >= 0) ::close(p.fd);
  return timed_out;
}

}  // namespace detail

/// Runs `program` with `args` (no shell; standard input from /dev/null) and returns its status
/// and what it wrote on standard output and error.
inline CliRun run_program(const std::string& program, const std::vector<std::string>& args,
                          const RunOptions& opt = {}) {
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<std::string> arg_strings = {program};
  arg_strings.insert(arg_strings.end(), args.begin(), args.end());
  const std::vector<char*> argv = detail::c_strings(arg_strings);
  std::vector<std::string> env_strings = detail::environment_with(opt.env);
  const std::vector<char*> envp = detail::c_strings(env_strings);
  const std::string cwd = opt.cwd.string();

  CliRun r;
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    r.err = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int in = ::open("/dev/null", O_RDONLY);
    if (in < 0 || ::dup2(in, STDIN_FILENO) < 0 || ::dup2(out_pipe[1], STDOUT_FILENO) < 0 ||
        ::dup2(err_pipe[1], STDERR_FILENO) < 0 || (!cwd.empty() && ::chdir(cwd.c_str()) != 0))
      ::_exit(127);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    r.err = std::string("fork: ") + std::strerror(errno);
    return r;
  }
  const bool timed_out =
      detail::drain({out_pipe[0], err_pipe[0]}, pid, opt.timeout_seconds, {&r.out, &r.err});
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.status = timed_out ? 124 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

/// Runs `rnnlyap` with `args` (split_args: split at spaces) as run_program does.
inline CliRun run_cli(const std::string& args, const RunOptions& opt = {}) {
  return run_program(cli_path(), split_args(args), opt);
}

/// The exception: `command` run by /bin/sh, for a test that needs the shell's redirections
/// (">&-", ">>log", "3>>log", a background reader), started as run_program starts a program.
inline CliRun run_shell_command(const std::string& command, const RunOptions& opt = {}) {
  return run_program("/bin/sh", {"-c", command}, opt);
}

/// Whether /usr/bin/python3 imports every module of `modules` ("numpy", "torch, numpy").
inline bool python_imports(const std::string& modules) {
  return run_program("/usr/bin/python3", {"-c", "import " + modules}).status == 0;
}

/// A directory of the running test's own, <tmp>/rnnlyap_<pid>_<suite>_<test>[_<tag>] ('/' of a
/// parameterised test's name read as '_'), empty when made and removed with its content at the
/// end.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "") {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "rnnlyap_" + std::to_string(::getpid());
    if (info) name += std::string("_") + info->test_suite_name() + "_" + info->name();
    if (!tag.empty()) name += "_" + tag;
    for (char& c : name)
      if (c == '/') c = '_';
    dir_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return dir_; }
  std::filesystem::path operator/(const std::string& file) const { return dir_ / file; }

 private:
  std::filesystem::path dir_;
};

/// The fixture of a test that runs the program or writes files: `dir_`, its temporary directory,
/// and run(), which runs the program there. `Base` is ::testing::Test, or TestWithParam<P> for a
/// parameterised suite.
template <class Base = ::testing::Test>
class WithTempDir : public Base {
 protected:
  /// `file` in the test's directory.
  std::string path(const std::string& file) const { return (dir_ / file).string(); }
  /// Runs `rnnlyap` with `args` (run_cli), in the test's directory unless `opt` names another.
  CliRun run(const std::string& args, RunOptions opt = {}) const {
    if (opt.cwd.empty()) opt.cwd = dir_;
    return run_cli(args, opt);
  }

  TempDir temp_;
  const std::filesystem::path& dir_ = temp_.path();
};

using TempDirTest = WithTempDir<>;

}  // namespace rnnlyap::test
