#include "unit_runs.hpp"

#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <thread>

#include "options.hpp"
#include "process.hpp"
#include "progress.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"

namespace rnnlyap::cli {

Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  auto whole = [&](const std::string& s) {
    if (s.empty() || s.size() > 6 || !std::all_of(s.begin(), s.end(), ::isdigit))
      throw InvalidInput("--shard must be I/N with whole numbers 1 <= I <= N, got '" + text + "'");
    return std::stoi(s);
  };
  if (slash == std::string::npos)
    throw InvalidInput("--shard must be I/N with whole numbers 1 <= I <= N, got '" + text + "'");
  const int i = whole(text.substr(0, slash)), n = whole(text.substr(slash + 1));
  if (i < 1 || i > n)
    throw InvalidInput("--shard must be I/N with whole numbers 1 <= I <= N, got '" + text + "'");
  return {i - 1, n};
}

UnitPlan placed_for_rank(const UnitPlan& plan, const SpectrumOptions& o, const CLI::App& sub) {
  if (g_ranks.size <= 1) return plan;
  std::optional<int> device, threads;
  if (!given(sub, "--device") && o.backend != BackendKind::cpu) {
    const auto gpus = cuda_devices();
    if (!gpus.empty()) device = g_ranks.local_rank % static_cast<int>(gpus.size());
  }
  if (!given(sub, "--threads")) threads = rank_threads(g_ranks);
  return plan.placed(device, threads);
}

std::unique_ptr<UnitStore> open_units(const UnitPlan& plan, const std::string& path,
                                      Outputs& files) {
  std::unique_ptr<UnitStore> store;
  if (g_ranks.rank == 0) {
    store = std::make_unique<UnitStore>(plan, path);
    files.open();
  }
  ranks_agree();
  return store;
}

std::vector<std::size_t> units_to_compute(const UnitStore& store,
                                          const std::optional<Shard>& shard) {
  std::vector<std::size_t> todo = store.missing();
  if (shard)
    std::erase_if(todo, [&](std::size_t u) {
      return store.plan().shard_of(u, shard->count) != shard->index;
    });
  return todo;
}

void compute_units(const UnitPlan& plan, UnitStore* store, const std::vector<std::size_t>& todo,
                   const std::string& name, bool quiet, double log_seconds) {
  ProgressBar bar(progress_mode(quiet || g_ranks.rank != 0), log_seconds);
  run_units(
      g_ranks, plan, store, todo, name,
      [&](std::size_t done, std::size_t total, const std::string& label) {
        bar.update(label, static_cast<std::int64_t>(done), static_cast<std::int64_t>(total));
      },
      [] { return stop_requested(); });
  bar.finish();
}

}  // namespace rnnlyap::cli
