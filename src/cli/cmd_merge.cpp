// rnnlyap merge: the unit files of a run's shards (or a partial file) combined into its result.
#include <cstdio>
#include <fstream>

#include "commands.hpp"
#include "report.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/units.hpp"

namespace rnnlyap::cli {

void add_merge_command(CLI::App& app, MergeCommand& c) {
  c.app = app.add_subcommand(
      "merge", "combine the unit files of a run's shards (--shard I/N) into its result");
  c.app->add_option("files", c.files, "the shards' unit files")->required();
  c.app->add_option("--out", c.out,
                    "result JSON (default: standard output; sweep.json for a sweep)");
  c.app->add_option("--csv", c.csv, "a sweep's grid as CSV (default: OUT with .csv)");
  c.app->add_option("--npz", c.npz, "every array of the result as a NumPy .npz");
  c.app->add_flag("--quiet", c.quiet, "no summary line");
}

namespace {

// The plan the first file's head line names.
UnitPlan plan_of(const std::string& first_file) {
  std::ifstream first(first_file);
  std::string head;
  if (!first || !std::getline(first, head))
    throw InvalidInput(first_file + ": cannot read it, or it is empty");
  return UnitPlan::from_head(head, first_file);
}

// Every unit of the plan must be there.
void require_all_units(const UnitStore& store) {
  const UnitPlan& plan = store.plan();
  const std::vector<std::size_t> missing = store.missing();
  if (plan.kind() != UnitKind::sweep || !missing.empty())  // a sweep's come with its result
    for (const auto& w : store.warnings()) warn(w);
  if (!missing.empty())
    throw InvalidInput(std::to_string(missing.size()) + " of " + std::to_string(plan.size()) +
                       " units are missing (the first: " + plan.label(missing.front()) +
                       "): run the shards that compute them (the same command with their --shard) "
                       "and merge again");
}

int merge_sweep(const MergeCommand& m, const UnitStore& store, Outputs& files) {
  const std::string out = m.out.empty() ? "sweep.json" : m.out;
  const std::string csv_path = csv_path_for(out, m.csv);
  files.add("--out", out);
  files.add("--csv", csv_path);
  files.add("--npz", m.npz);
  files.check();
  files.open();
  finish_sweep(store.sweep_result(), files, "", out, csv_path, m.quiet);
  return 0;
}

int merge_spectrum(const MergeCommand& m, const UnitStore& store, Outputs& files) {
  if (!m.csv.empty())
    throw InvalidInput("--csv is for sweeps; these files hold a spectrum's units");
  files.add("--out", m.out.empty() ? "-" : m.out);
  files.add("--npz", m.npz);
  files.check();
  files.open();
  const EnsembleResult e = store.ensemble_result();
  const std::string arrays = files.has("--npz") ? members_npz(e) : std::string();
  const std::string json = report_members(e, m.quiet);
  files.commit({{"--npz", [&] { return arrays; }}, {"--out", [&] { return json; }}});
  return 0;
}

}  // namespace

int run_merge(const MergeCommand& m) {
  require_names(*m.app, {"--out", "--csv", "--npz"});
  Outputs files;
  for (const std::string& f : m.files) files.add_input("FILE", f);
  files.check();  // regular files, before any is read
  UnitStore store(plan_of(m.files.front()), "");
  for (const std::string& f : m.files) store.add_file(f);
  require_all_units(store);
  return store.plan().kind() == UnitKind::sweep ? merge_sweep(m, store, files)
                                                : merge_spectrum(m, store, files);
}

}  // namespace rnnlyap::cli
