// rnnlyap sweep: spectra over a grid of gain, tail index and size, in this process (its finished
// points kept in a partial file), as one shard (--shard) or over MPI ranks.
#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "process.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "rnnlyap/arrays.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/units.hpp"
#include "unit_runs.hpp"

namespace rnnlyap::cli {

void add_sweep_command(CLI::App& app, SweepCommand& c) {
  c.app = app.add_subcommand("sweep", "spectra over a grid of gain, tail index and size");
  CLI::App& sub = *c.app;
  SweepArgs& w = c.grid;
  add_common_options(sub, c.opt, c.args);
  sub.add_option("--g", w.g, "gains: START:STOP:STEP or a list g1,g2,...")->capture_default_str();
  sub.add_option("--alpha", w.alpha,
                 "tail indices of levy weights, e.g. 1,1.5,2 (default: gaussian)");
  sub.add_option("--n", w.n, "sizes, e.g. 250,500,1000")->capture_default_str();
  sub.add_option("--out", w.out,
                 "sweep JSON; finished points are kept in OUT.partial.jsonl until the end")
      ->capture_default_str();
  sub.add_option("--csv", w.csv, "the grid as CSV (default: OUT with .csv)");
  sub.add_option("--npz", w.npz,
                 "the grid and every member's spectrum as a NumPy .npz, by (n, alpha, g)");
}

std::string csv_path_for(const std::string& out, const std::string& csv) {
  if (!csv.empty()) return csv;
  if (!names_a_file(out))
    throw InvalidInput("--out " + out + " is not a file: give the CSV's path with --csv");
  const auto dot = out.rfind('.');
  return (dot == std::string::npos || out.find('/', dot) != std::string::npos
              ? out
              : out.substr(0, dot)) +
         ".csv";
}

void finish_sweep(const SweepResult& r, Outputs& files, const std::string& partial,
                  const std::string& out, const std::string& csv_path, bool quiet) {
  report_sweep_start(r, partial, quiet);
  files.commit({{"--npz", [&] { return sweep_npz(r); }},
                {"--out", [&] { return sweep_json(r) + "\n"; }},
                {"--csv", [&] { return sweep_csv(r); }}});
  if (!partial.empty()) io::remove_file(partial);
  report_sweep_summary(r, out, csv_path, quiet);
}

namespace {

// The grid the options give, over the base options `o`.
SweepSpec sweep_spec(const SpectrumOptions& o, const SweepArgs& w) {
  SweepSpec spec;
  spec.g = parse_grid(w.g, "--g");
  if (!w.alpha.empty()) spec.alpha = parse_grid(w.alpha, "--alpha");
  for (double v : parse_grid(w.n, "--n")) {
    if (v != std::floor(v) || v < 1 || v > 1e9)
      throw InvalidInput("--n: sizes must be whole numbers >= 1");
    spec.n.push_back(static_cast<int>(v));
  }
  if (o.k && *o.k > *std::min_element(spec.n.begin(), spec.n.end()))
    throw InvalidInput("--k " + std::to_string(*o.k) + " exceeds the smallest N of the sweep");
  spec.base = o;
  return spec;
}

// One shard's units of the grid, into the unit file --out.
int run_sweep_shard(const SweepSpec& spec, const SweepArgs& w, const Shard& shard, bool quiet,
                    double log_seconds) {
  if (g_ranks.size > 1)
    throw InvalidInput("--shard is for runs without MPI (MPI ranks share the units themselves)");
  require_unit_file(w.out);
  if (!w.csv.empty() || !w.npz.empty())
    throw InvalidInput(std::string(w.csv.empty() ? "--npz" : "--csv") +
                       " is for the combined result: give it to rnnlyap merge");
  Outputs files;
  files.add_read_back("--out", w.out);
  files.check();
  const UnitPlan plan = UnitPlan::sweep(spec);
  UnitStore store(plan, w.out);
  report_store(store, quiet);
  const std::vector<std::size_t> todo = units_to_compute(store, shard);
  g_checkpointing = 1;
  compute_units(plan, &store, todo, w.out, quiet, log_seconds);
  store.save();
  report_shard(store, todo.size(), shard.index, shard.count, quiet);
  return 0;
}

// Finished units are kept beside the JSON (or, when that is standard output or a device, beside
// the CSV) until the end.
std::string partial_path(const std::string& out, const std::string& csv_path) {
  if (names_a_file(out)) return out + ".partial.jsonl";
  if (names_a_file(csv_path)) return csv_path + ".partial.jsonl";
  throw InvalidInput("a sweep keeps its finished points beside --out or --csv: give one a file");
}

// MPI ranks: the (point, member) units of the grid, dealt out by rank 0.
void run_sweep_ranks(const SweepSpec& spec, const SweepCommand& c, Outputs& files,
                     const std::string& partial, const std::string& csv_path, double log_seconds) {
  const UnitPlan plan = UnitPlan::sweep(spec);
  const std::unique_ptr<UnitStore> store = open_units(plan, partial, files);
  if (store) report_store(*store, c.args.quiet, false);  // its warnings come with the result
  const std::vector<std::size_t> todo = store ? store->missing() : std::vector<std::size_t>{};
  compute_units(placed_for_rank(plan, spec.base, *c.app), store.get(), todo, partial, c.args.quiet,
                log_seconds);
  if (g_ranks.rank != 0) return;
  SweepResult r = store->sweep_result();
  r.resumed_points = 0;  // said in units above
  finish_sweep(r, files, partial, c.grid.out, csv_path, c.args.quiet);
}

}  // namespace

int run_sweep_command(const SweepCommand& c) {
  const SweepArgs& w = c.grid;
  const bool distributed = g_ranks.size > 1;
  g_agreement_pending = distributed;
  std::optional<Shard> shard;
  if (!c.args.shard.empty()) shard = parse_shard(c.args.shard);
  require_names(*c.app, {"--out", "--csv", "--npz"});
  const double log_seconds = progress_log_seconds();
  SpectrumOptions o = c.opt;
  resolve(o, c.args, *c.app);
  const SweepSpec spec = sweep_spec(o, w);
  if (shard) return run_sweep_shard(spec, w, *shard, c.args.quiet, log_seconds);
  const std::string csv_path = csv_path_for(w.out, w.csv);
  const std::string partial = partial_path(w.out, csv_path);
  Outputs files;
  if (g_ranks.rank == 0) {
    files.add("--out", w.out);
    files.add("--csv", csv_path);
    files.add_read_back("--out (its partial file)", partial);
    files.add("--npz", w.npz);
    files.check();
  }
  g_checkpointing =
      1;  // SIGINT/SIGTERM: stop the point in progress; the partial file keeps the finished ones
  if (distributed) {
    run_sweep_ranks(spec, c, files, partial, csv_path, log_seconds);
    return 0;
  }
  files.open();
  ProgressBar bar(progress_mode(c.args.quiet), log_seconds);
  const SweepResult r = run_sweep(
      spec, partial,
      [&](int done, int total, const std::string& label) { bar.update(label, done, total); },
      [] { return stop_requested(); });
  bar.finish();
  finish_sweep(r, files, partial, w.out, csv_path, c.args.quiet);
  return 0;
}

}  // namespace rnnlyap::cli
