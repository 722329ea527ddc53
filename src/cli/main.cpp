// The `rnnlyap` program (README, "Using rnnlyap"): start-up, the command line, and what becomes of
// an error. Bad input: one line on stderr and exit status 2; a failure: one line and exit 1. The
// commands are in cmd_*.cpp.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>

#include "commands.hpp"
#ifdef RNNLYAP_WITH_SCALAPACK
#include "distributed/distributed.hpp"
#endif
#include "process.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"

namespace {

using namespace rnnlyap;
using namespace rnnlyap::cli;

// Whatever went to standard output must have arrived (a full disk, a closed pipe): throws Error
// (exit 1) otherwise. `earlier`: errno after a write that may have failed already.
void check_standard_output(int earlier = 0) {
  errno = 0;
  std::cout.flush();  // the first failure sets errno; a later flush may not
  int err = errno != 0 ? errno : earlier;
  if (std::fflush(stdout) != 0 && err == 0) err = errno;
  if (!std::cout || std::ferror(stdout))
    throw Error(std::string("cannot write standard output: ") +
                std::strerror(err != 0 ? err : EIO));
}

// --help and --version, printed by CLI11 (its std::endl flushes, so a failure's errno is set at
// once): a failed write is exit 1 with one line, as for results.
template <class Print>
int printed_by_cli11(Print print) {
  errno = 0;
  const int status = print();
  const int err = errno;
  try {
    check_standard_output(err);
  } catch (const Error& e) {
    std::fprintf(stderr, "rnnlyap: failed: %s\n", e.what());
    return kExitFailure;
  }
  return status;
}

struct Commands {
  SpectrumCommand spectrum;
  SweepCommand sweep;
  MergeCommand merge;
  InfoCommand info;
};

// An unknown command is named (CLI11 would say only that a subcommand is required): false after
// saying so.
bool known_command(const CLI::App& app, int argc, char** argv) {
  if (argc <= 1 || argv[1][0] == '-') return true;
  const auto commands = app.get_subcommands([](const CLI::App*) { return true; });
  std::string names;  // "spectrum, sweep, merge and info"
  bool known = false;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    names += (i == 0 ? "" : i + 1 == commands.size() ? " and " : ", ") + commands[i]->get_name();
    known = known || commands[i]->get_name() == argv[1];
  }
  if (!known && g_ranks.rank == 0)
    std::fprintf(stderr,
                 "rnnlyap: error: unknown command '%s' (the commands are %s; see rnnlyap --help)\n",
                 argv[1], names.c_str());
  return known;
}

// Parses the command line: an exit status when that is the end (help, version, an error).
std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return g_ranks.rank == 0 ? printed_by_cli11([&] { return app.exit(CLI::CallForHelp()); }) : 0;
  } catch (const CLI::CallForAllHelp& e) {
    return g_ranks.rank == 0 ? printed_by_cli11([&] { return app.exit(e); }) : 0;
  } catch (const CLI::CallForVersion& e) {
    return g_ranks.rank == 0 ? printed_by_cli11([&] { return app.exit(e); }) : 0;
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    for (char& c : what)
      if (c == '\n') c = ' ';
    if (g_ranks.rank == 0)
      std::fprintf(stderr, "rnnlyap: error: %s (see rnnlyap --help)\n", what.c_str());
    return kExitInvalid;
  }
  return std::nullopt;
}

// Runs the command given; what it throws becomes a line on stderr and an exit status.
int run_command(const Commands& c) {
  try {
    if ((*c.info.app || *c.merge.app) && g_ranks.rank != 0) return 0;  // rank 0 alone
    const int status = *c.info.app    ? run_info(c.info)
                       : *c.merge.app ? run_merge(c.merge)
                       : *c.sweep.app ? run_sweep_command(c.sweep)
                                      : run_spectrum(c.spectrum);
    check_standard_output();  // a full disk, a closed pipe: exit 1
    return status;
  } catch (const QuietExit& e) {
    return e.status;
  } catch (const std::exception& e) {
    const Failure f = failure_of(e);
    say(f.format, f.text.c_str());
    return f.status;
  }
}

int run_main(int argc, char** argv) {
  CLI::App app{"rnnlyap: Lyapunov spectra of recurrent neural networks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", rnnlyap::version());
  Commands c;
  add_spectrum_command(app, c.spectrum);
  add_sweep_command(app, c.sweep);
  add_merge_command(app, c.merge);
  add_info_command(app, c.info);
  if (!known_command(app, argc, argv)) return kExitInvalid;
  if (const std::optional<int> status = parse(app, argc, argv)) return *status;
  return run_command(c);
}

// A standard descriptor the program was started without (">&-", "2>&-") is given /dev/null, opened
// the wrong way round (read-only for output, write-only for input): the number is taken, so no file
// the program opens becomes its stdout or stderr and no message lands in a result, while every use
// fails as it would on the closed descriptor (a result to a closed stdout still exits 1).
void reserve_standard_descriptors() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    const int null = ::open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);  // the lowest free: fd
    if (null >= 0 && null != fd) {
      (void)::dup2(null, fd);
      ::close(null);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  reserve_standard_descriptors();
  install_signal_handlers();
  try {
    g_ranks = start_ranks(argc, argv);
    // The ranks on a node share its memory: each checks its runs against its share.
    set_host_memory_share(g_ranks.local_size);
#ifdef RNNLYAP_WITH_SCALAPACK
    distributed::register_backend();  // --distribute-network
#endif
  } catch (const std::exception& e) {
    if (launched_rank() == 0) std::fprintf(stderr, "rnnlyap: error: %s\n", e.what());
    return kExitInvalid;
  }
  const int status = run_main(argc, argv);
  end_ranks(g_ranks);
  return status;
}
