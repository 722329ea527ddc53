// rnnlyap spectrum: a single run (with its checkpoint, trace and covariant vectors), or the units
// of an ensemble or a trained network's sequences spread over MPI ranks or computed as one shard.
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <span>

#include "commands.hpp"
#include "process.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "rnnlyap/arrays.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/npy.hpp"
#include "rnnlyap/spectrum.hpp"
#include "rnnlyap/trained.hpp"
#include "rnnlyap/units.hpp"
#include "unit_runs.hpp"

namespace rnnlyap::cli {

void add_spectrum_command(CLI::App& app, SpectrumCommand& c) {
  c.app = app.add_subcommand("spectrum", "compute a Lyapunov spectrum");
  add_spectrum_options(*c.app, c.opt, c.args);
}

namespace {

// The files a spectrum reads.
void add_inputs(Outputs& files, const SpectrumOptions& o) {
  files.add_input("--weights-file", o.weights_file);
  files.add_input("--inputs", o.inputs_file);
  files.add_input("--initial-state", o.initial_state_file);
}

// ---- Units: spread over MPI ranks or one shard -------------------------------------------------

// What units cannot do: the options of single runs, a shard under MPI, a shard's --npz.
void refuse_for_units(const SpectrumOptions& o, const SpectrumArgs& a,
                      const std::optional<Shard>& shard) {
  const std::string how = shard ? "--shard" : "MPI ranks";
  if (!a.checkpoint.empty() || !a.resume.empty())
    throw InvalidInput("--checkpoint and --resume are for single runs, not with " + how +
                       " (finished units are kept instead)");
  if (!a.trace.empty()) throw InvalidInput("--trace is for single runs, not with " + how);
  if (o.clv || o.clv_stats)
    throw InvalidInput("--clv and --clv-stats are for single runs, not with " + how);
  if (shard && g_ranks.size > 1)
    throw InvalidInput("--shard is for runs without MPI (MPI ranks share the units themselves)");
  if (o.distributed())
    throw InvalidInput(
        "--distribute-network spreads one network over ranks; it cannot be combined with " + how +
        ", which spread independent spectra");
  if (!shard && g_ranks.size == 1 && !a.quiet)
    std::fprintf(stderr, "rnnlyap: continuing the run kept in %s.partial.jsonl\n", a.out.c_str());
  if (shard) require_unit_file(a.out);
  if (shard && !a.npz.empty())
    throw InvalidInput("--npz is for the combined result: give it to rnnlyap merge");
}

// The files of a run's units, checked: rank 0 writes the unit file (a shard's --out, or the
// partial file beside --out) and the result; every rank reads the inputs.
Outputs unit_run_files(const SpectrumOptions& o, const SpectrumArgs& a, bool shard,
                       const std::string& units_path) {
  Outputs files;
  add_inputs(files, o);
  if (g_ranks.rank == 0 && shard) files.add_read_back("--out", a.out);
  if (g_ranks.rank == 0 && !shard) {
    files.add("--out", a.out.empty() ? "-" : a.out);
    files.add_read_back("--out (its partial file)", units_path);
    files.add("--npz", a.npz);
  }
  files.check();
  return files;
}

// An ensemble or a trained network's sequences spread over MPI ranks or computed as one shard:
// its units, kept in a unit file (beside --out, or --out itself for a shard), then the same
// result as one process.
int run_spectrum_units(SpectrumOptions o, const SpectrumArgs& a, const CLI::App& sub) {
  g_agreement_pending = g_ranks.size > 1;
  require_names(sub, {"--out", "--trace", "--npz", "--checkpoint", "--resume", "--weights-file",
                      "--inputs", "--initial-state"});
  const double log_seconds = progress_log_seconds();
  resolve(o, a, sub);
  validate(o);
  std::optional<Shard> shard;
  if (!a.shard.empty()) shard = parse_shard(a.shard);
  refuse_for_units(o, a, shard);
  const std::string units_path = shard                 ? a.out
                                 : names_a_file(a.out) ? a.out + ".partial.jsonl"
                                                       : std::string();
  Outputs files = unit_run_files(o, a, shard.has_value(), units_path);
  const UnitPlan plan = UnitPlan::spectrum(o);
  const std::unique_ptr<UnitStore> store = open_units(plan, units_path, files);
  g_checkpointing = 1;  // SIGINT/SIGTERM: stop; the unit file keeps the finished units
  if (store) report_store(*store, a.quiet);
  const std::vector<std::size_t> todo =
      store ? units_to_compute(*store, shard) : std::vector<std::size_t>{};
  compute_units(placed_for_rank(plan, o, sub), store.get(), todo, units_path, a.quiet, log_seconds);
  if (g_ranks.rank != 0) return 0;
  if (shard) {
    store->save();
    report_shard(*store, todo.size(), shard->index, shard->count, a.quiet);
    return 0;
  }
  const EnsembleResult e = store->ensemble_result();
  const std::string arrays = files.has("--npz") ? members_npz(e) : std::string();
  const std::string json = report_members(e, a.quiet);
  files.commit({{"--npz", [&] { return arrays; }}, {"--out", [&] { return json; }}});
  if (!units_path.empty()) io::remove_file(units_path);
  return 0;
}

// ---- A single run ------------------------------------------------------------------------------

// The --trace CSV, written as the run goes: a header, then the running estimate at every
// re-orthonormalisation; kept too when the .npz is to hold it.
class TraceWriter {
 public:
  TraceWriter(io::OutputFile* file, bool keep) : file_(file), keep_(keep) {}
  void operator()(double t, std::span<const double> est) {
    std::FILE* f = file_->get();
    if (!header_) {
      std::fputs("time", f);
      for (std::size_t i = 0; i < est.size(); ++i) std::fprintf(f, ",lambda_%zu", i + 1);
      std::fputc('\n', f);
      header_ = true;
    }
    std::fprintf(f, "%.10g", t);
    for (double v : est) std::fprintf(f, ",%.10g", v);
    std::fputc('\n', f);
    file_->note_failure();
    if (keep_) kept_.add(t, est);
  }
  bool given() const { return file_ != nullptr; }
  bool keeps() const { return keep_; }
  const Trace* kept() const { return given() ? &kept_ : nullptr; }

 private:
  io::OutputFile* file_;
  bool keep_;
  bool header_ = false;
  Trace kept_;
};

// Every output and input path, checked before anything is computed (README, "Errors"). With
// --distribute-network the ranks other than 0 write nothing: their inputs alone.
Outputs single_run_files(const SpectrumOptions& o, const SpectrumArgs& a) {
  Outputs files;
  if (g_ranks.rank != 0) {
    add_inputs(files, o);
    files.add_input("--resume", a.resume);
    files.check();
    return files;
  }
  files.add("--out", a.out.empty() ? "-" : a.out);
  files.add("--trace", a.trace);
  files.add("--npz", a.npz);
  files.add("--clv", a.clv);
  files.add_read_back("--checkpoint", a.checkpoint);
  add_inputs(files, o);
  files.add_input("--resume", a.resume);
  files.check();
  return files;
}

// The --clv .npy: the covariant vectors at the middle of the window.
std::string clv_npy(const SpectrumResult& r) {
  if (!r.clv || r.clv->vectors.empty()) throw Error("--clv: no covariant vectors were computed");
  const std::size_t rows = static_cast<std::size_t>(r.clv->rows);
  return npy_bytes(
      npz_float64("clv", {rows, r.clv->vectors.size() / rows}, clv_vectors_c_order(*r.clv)));
}

// A single run's outputs, made from its result: the JSON (with the report on stderr) and, when
// given, the .npz and the covariant vectors.
struct Made {
  std::string json, arrays, clv;
};

struct SingleRun {
  const SpectrumOptions& o;
  const SpectrumArgs& a;
  const Outputs& files;
  const Observers& obs;
  const RunControl& control;
  ProgressBar& bar;
  const TraceWriter& trace;
};

Made run_trained(const SingleRun& run) {
  if (run.control.checkpoint_path.size() || run.control.resume_path.size())
    throw InvalidInput("--checkpoint and --resume are for random networks, not trained models");
  if (run.trace.given()) throw InvalidInput("--trace is for random networks, not trained models");
  const EnsembleResult e = compute_trained_spectra(run.o, run.obs);
  run.bar.finish();
  Made m;
  if (run.files.has("--clv")) m.clv = clv_npy(e.members.front());
  if (run.files.has("--npz")) m.arrays = members_npz(e);
  m.json = report_members(e, run.a.quiet);
  return m;
}

Made run_ensemble(const SingleRun& run) {
  const EnsembleResult e = compute_ensemble(run.o, run.obs, run.control);
  run.bar.finish();
  Made m;
  if (run.files.has("--npz")) m.arrays = members_npz(e);
  m.json = report_members(e, run.a.quiet);
  return m;
}

Made run_one(const SingleRun& run) {
  const SpectrumResult r = compute_spectrum(run.o, run.obs, run.control);
  run.bar.finish();
  Made m;
  if (g_ranks.rank != 0) return m;  // --distribute-network: rank 0 reports and writes
  if (run.files.has("--npz")) m.arrays = to_npz(r, run.trace.kept());
  if (run.files.has("--clv")) m.clv = clv_npy(r);
  m.json = report_single(r, run.a.quiet);
  return m;
}

// --distribute-network: `compute` on every rank. A failure every rank sees (a run that goes
// non-finite, a network that does not fit) ends every rank as usual, rank 0 saying why; a failure
// of one rank alone (the others wait for it in ScaLAPACK) is said by that rank, which then aborts
// the job (mpirun stops the others) with its exit status.
template <class F>
Made run_with_ranks(F compute) {
  try {
    return compute();
  } catch (const std::exception& e) {
    const Failure f = failure_of(e);
    if (all_ranks_failed(g_ranks, 10.0)) {
      if (g_ranks.rank != 0) throw QuietExit{f.status};
      throw;
    }
    say(f.format, f.text.c_str());
    abort_ranks(g_ranks, f.status);
  }
}

// --distribute-network: the ranks the grid needs, and each rank's BLAS threads (its share of the
// node's cores unless --threads).
void prepare_distributed(SpectrumOptions& o, const SpectrumArgs& a, const CLI::App& sub) {
  const long long need = static_cast<long long>(o.grid_rows) * o.grid_cols;
  if (need != g_ranks.size)
    throw InvalidInput("--distribute-network " + a.distribute_network + " needs " +
                       std::to_string(need) + " MPI ranks (mpirun -n " + std::to_string(need) +
                       " rnnlyap ...); this job has " + std::to_string(g_ranks.size) +
                       (mpi_library().empty() ? " (this rnnlyap is built without MPI)" : ""));
  if (!given(sub, "--threads")) o.threads = rank_threads(g_ranks);
}

int run_single(SpectrumOptions o, const SpectrumArgs& a, const CLI::App& sub) {
  const bool distributed = !a.distribute_network.empty();
  g_agreement_pending = distributed && g_ranks.size > 1;
  require_names(sub, {"--out", "--trace", "--npz", "--checkpoint", "--resume", "--weights-file",
                      "--inputs", "--initial-state", "--clv"});
  const double log_seconds = progress_log_seconds();
  if ((given(sub, "--clv") || given(sub, "--clv-stats")) &&
      (!a.resume.empty() || !a.checkpoint.empty()))
    throw InvalidInput(
        "--clv and --clv-stats are not kept in checkpoints: give them without --checkpoint and "
        "--resume");
  resolve(o, a, sub);
  if (!a.resume.empty()) {
    io::check_paths({}, {{"--resume", a.resume}});
    resume_options(o, a, sub);
  }
  validate(o);
  if (distributed) prepare_distributed(o, a, sub);
  if (!(a.checkpoint_every > 0)) throw InvalidInput("--checkpoint-every must be > 0 seconds");
  Outputs files = single_run_files(o, a);
  // Open the outputs before the run, so that a bad path fails now and not after hours (and, with
  // --distribute-network, before the ranks agree to start).
  files.open();
  ranks_agree();  // --distribute-network: every rank's input was accepted
  RunControl control;
  control.checkpoint_path = a.checkpoint;
  control.checkpoint_every = a.checkpoint_every;
  control.resume_path = a.resume;
  control.stop_requested = [] { return stop_requested(); };
  g_checkpointing = a.checkpoint.empty() ? 0 : 1;
  ProgressBar bar(progress_mode(a.quiet || g_ranks.rank != 0), log_seconds);
  TraceWriter trace(files.file("--trace"), files.has("--npz"));
  Observers obs;
  obs.progress = [&](Phase p, std::int64_t done, std::int64_t total) {
    bar.update(std::string(to_string(p)), done, total);
  };
  if (trace.given()) {
    obs.trace = [&](double t, std::span<const double> est) { trace(t, est); };
    obs.trace_kept = trace.keeps();  // counted in the run's memory check
  } else if (distributed && !a.trace.empty()) {
    // Rank 0 writes the trace; the others follow the run the same way (a trace takes the logs,
    // and checks them, at every re-orthonormalisation), so that every rank finds a non-finite
    // run at the same point.
    obs.trace = [](double, std::span<const double>) {};
  }
  const SingleRun run{o, a, files, obs, control, bar, trace};
  const Made m = is_cell(o.model) ? run_trained(run)
                 : o.ensemble > 1 ? run_ensemble(run)
                 : distributed    ? run_with_ranks([&] { return run_one(run); })
                                  : run_one(run);
  if (g_ranks.rank != 0) return 0;
  files.commit({{"--trace", nullptr},
                {"--npz", [&] { return m.arrays; }},
                {"--clv", [&] { return m.clv; }},
                {"--out", [&] { return m.json; }}});
  return 0;
}

}  // namespace

int run_spectrum(const SpectrumCommand& c) {
  const SpectrumArgs& a = c.args;
  const bool trained = a.model == "rnn" || a.model == "gru" || a.model == "lstm";
  // Units: spread over ranks, a shard, or the partial file a stopped distributed run left (which
  // one process continues too).
  const bool units = trained || c.opt.ensemble > 1;
  struct stat st {};
  const bool left =
      units && names_a_file(a.out) && ::stat((a.out + ".partial.jsonl").c_str(), &st) == 0;
  if (!a.shard.empty() || (g_ranks.size > 1 && units) || left)
    return run_spectrum_units(c.opt, a, *c.app);
  // One run: rank 0 computes it alone, or every rank its blocks (--distribute-network).
  if (g_ranks.rank != 0 && a.distribute_network.empty()) return 0;
  return run_single(c.opt, a, *c.app);
}

}  // namespace rnnlyap::cli
