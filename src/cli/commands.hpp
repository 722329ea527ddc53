// The program's commands (README, "Using rnnlyap"): each adds its subcommand and options to the
// command line, and runs when given. A command returns its exit status or throws (main.cpp says
// what went wrong: InvalidInput exit 2, any other failure exit 1).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "options.hpp"
#include "outputs.hpp"
#include "rnnlyap/sweep.hpp"

namespace rnnlyap::cli {

/// rnnlyap spectrum (cmd_spectrum.cpp): one run, an ensemble or a trained network's sequences, in
/// this process, as a shard (--shard) or over MPI ranks.
struct SpectrumCommand {
  SpectrumOptions opt;
  SpectrumArgs args;
  CLI::App* app = nullptr;
};
void add_spectrum_command(CLI::App& app, SpectrumCommand& c);
int run_spectrum(const SpectrumCommand& c);

/// rnnlyap sweep (cmd_sweep.cpp): spectra over a grid of gain, tail index and size.
struct SweepArgs {
  std::string g = "0.5:3:0.25", alpha, n = "100";
  std::string out = "sweep.json", csv, npz;
};
struct SweepCommand {
  SpectrumOptions opt;
  SpectrumArgs args;
  SweepArgs grid;
  CLI::App* app = nullptr;
};
void add_sweep_command(CLI::App& app, SweepCommand& c);
int run_sweep_command(const SweepCommand& c);

/// The CSV's path: --csv, or --out with .csv.
std::string csv_path_for(const std::string& out, const std::string& csv);
/// A sweep's result into its outputs (--out, --csv, --npz, added in that order), then its partial
/// file (if any) removed and its summary on stderr: the end of `sweep` and of `merge`.
void finish_sweep(const SweepResult& r, Outputs& files, const std::string& partial,
                  const std::string& out, const std::string& csv_path, bool quiet);

/// rnnlyap merge (cmd_merge.cpp): the unit files of a run's shards (or a partial file) combined
/// into its result.
struct MergeCommand {
  std::vector<std::string> files;
  std::string out, csv, npz;
  bool quiet = false;
  CLI::App* app = nullptr;
};
void add_merge_command(CLI::App& app, MergeCommand& c);
int run_merge(const MergeCommand& c);

/// rnnlyap info (cmd_info.cpp): version, backends, devices and BLAS.
struct InfoCommand {
  bool json = false;
  CLI::App* app = nullptr;
};
void add_info_command(CLI::App& app, InfoCommand& c);
int run_info(const InfoCommand& c);

}  // namespace rnnlyap::cli
