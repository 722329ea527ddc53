// The finished units of a run (UnitStore, include/rnnlyap/units.hpp): read from a unit file,
// checked against the plan, appended to the file as units finish, merged from other unit files,
// and put together into the run's result. The lines are io/unit_codec.hpp's.
#include "unit_plan.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "io/file_errors.hpp"
#include "io/output_file.hpp"
#include "io/unit_codec.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap {

using nlohmann::json;

UnitStore::UnitStore(UnitPlan plan, std::string path)
    : plan_(std::move(plan)),
      path_(std::move(path)),
      results_(plan_.size()),
      from_file_(plan_.size(), 0) {
  if (path_.empty()) return;
  // Read back and replaced: a regular file or none yet (a device, a FIFO, a folder or a missing
  // folder is refused now, before anything is computed).
  io::check_file_to_read_back(path_, "unit file");
  std::ifstream f(path_);
  if (!f) return;
  std::string line;
  if (!std::getline(f, line)) return;  // empty: as if absent
  const UnitPlan theirs = UnitPlan::from_head(line, path_);
  if (theirs.impl_->identity() != plan_.impl_->identity())
    throw InvalidInput(path_ +
                       ": written for a run with other options or input files; delete it or " +
                       "choose another output");
  while (std::getline(f, line)) take(line, true);
  note_ignored(path_);
}

std::optional<std::size_t> UnitStore::take(const std::string& line, bool from_file) {
  json j;
  std::optional<std::size_t> u;
  SpectrumResult r;
  try {
    j = io::read_unit_line(line);
    if (j.at("run").get<std::string>() != plan_.impl_->run) {
      // A line of another run (files put together by hand): never used, never kept.
      if (!from_file) throw InvalidInput("a unit line of another run");
      ++other_runs_;
      return std::nullopt;
    }
    r = io::unit_result(j.at("result"));
    u = plan_.impl_->unit_of(j.at("unit"));
  } catch (const InvalidInput&) {
    if (!from_file) throw;
    ++torn_;
    return std::nullopt;
  } catch (const std::exception&) {  // json: an edited or torn line
    if (!from_file) throw InvalidInput("a unit line whose check fails");
    ++torn_;
    return std::nullopt;
  }
  const int want = u ? plan_.impl_->exponents_of(*u) : 0;
  if (!u || (want > 0 && static_cast<int>(r.exponents.size()) != want)) {
    if (!from_file) throw InvalidInput("a unit line for a unit not in this run");
    // A unit of the same run off this grid (a sweep resumed with fewer values): kept in the
    // file, not used.
    ++foreign_;
    other_points_.push_back(line);
    return std::nullopt;
  }
  if (results_[*u]) {
    if (!from_file) throw Error("unit " + plan_.label(*u) + " was computed twice");
    ++duplicates_;
    return std::nullopt;
  }
  results_[*u] = std::move(r);
  lines_.push_back(line);
  ++done_;
  if (from_file) {
    ++taken_;
    from_file_[*u] = 1;
  }
  return u;
}

void UnitStore::note_ignored(const std::string& file) {
  auto note = [&](int count, const char* what) {
    if (count > 0)
      warnings_.push_back(file + ": " + std::to_string(count) + " line" +
                          (count == 1 ? " " : "s ") + what);
  };
  note(torn_, "whose check failed (edited or cut short) ignored");
  note(duplicates_, "repeating a unit already read ignored");
  note(other_runs_, "of another run (other options) ignored");
  note(foreign_, "for grid points not in this run kept in the file, not used");
  torn_ = duplicates_ = other_runs_ = foreign_ = 0;
}

void UnitStore::save() {
  if (path_.empty() || file_) return;
  // (Re)written from the kept lines, atomically (io/output_file.hpp: a temporary of this process
  // renamed over the file's final target, so a symlink stays a link), so that ignored lines go and
  // a kill meanwhile loses nothing; then the target is appended to.
  std::string text = plan_.head() + "\n";
  for (const std::string& l : other_points_) text += l + "\n";
  for (const std::string& l : lines_) text += l + "\n";
  std::string target;
  const std::string why = io::replace_file(path_, text, &target);
  if (!why.empty()) throw Error("cannot write " + detail::printable(path_) + ": " + why);
  file_.reset(std::fopen(target.c_str(), "a"));
  if (!file_) throw Error("cannot append to " + path_ + ": " + std::strerror(errno));
}

void UnitStore::append(const std::string& line) {
  if (path_.empty()) return;
  if (!file_) {
    // The file is created when the first unit finishes (a run that stops before that leaves
    // nothing behind); the new line is among the kept ones.
    save();
    return;
  }
  std::fputs((line + "\n").c_str(), file_.get());
  if (std::fflush(file_.get()) != 0 || std::ferror(file_.get()))
    throw Error("writing " + path_ + " failed");
}

void UnitStore::add(const std::string& line) {
  if (take(line, false)) append(line);
}

std::size_t UnitStore::add_file(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  if (!f || !std::getline(f, line)) throw InvalidInput(path + ": cannot read it, or it is empty");
  const UnitPlan theirs = UnitPlan::from_head(line, path);
  if (theirs.impl_->identity() != plan_.impl_->identity() ||
      theirs.impl_->grid_json() != plan_.impl_->grid_json())
    throw InvalidInput(path + ": written for another run (other options, grid or input files)");
  const std::size_t before = done_;
  while (std::getline(f, line)) take(line, true);
  other_points_.clear();
  note_ignored(path);
  return done_ - before;
}

std::vector<std::size_t> UnitStore::missing() const {
  std::vector<std::size_t> m;
  for (std::size_t u = 0; u < results_.size(); ++u)
    if (!results_[u]) m.push_back(u);
  return m;
}

namespace {

std::vector<SpectrumResult> members_of(const std::vector<std::optional<SpectrumResult>>& results,
                                       std::size_t first, std::size_t count) {
  std::vector<SpectrumResult> m;
  for (std::size_t u = first; u < first + count; ++u) {
    if (!results[u]) throw Error("unit " + std::to_string(u) + " is not finished");
    m.push_back(*results[u]);
  }
  return m;
}

}  // namespace

SweepResult UnitStore::sweep_result() const {
  const UnitPlan::Impl& s = *plan_.impl_;
  if (s.kind != UnitKind::sweep) throw Error("sweep_result of a run that is not a sweep");
  SweepResult r;
  r.spec = s.spec;
  for (std::size_t p = 0; p < s.points.size(); ++p) {
    const EnsembleResult e =
        ensemble_statistics(members_of(results_, p * s.per_point, s.per_point));
    r.grid.push_back(sweep_point(e, s.points[p].g, s.points[p].alpha, s.points[p].n));
    if (std::all_of(from_file_.begin() + static_cast<std::ptrdiff_t>(p * s.per_point),
                    from_file_.begin() + static_cast<std::ptrdiff_t>((p + 1) * s.per_point),
                    [](char f) { return f != 0; }))
      ++r.resumed_points;
  }
  r.transitions = find_transitions(r.grid, s.spec.base);
  r.warnings = warnings_;
  return r;
}

EnsembleResult UnitStore::ensemble_result() const {
  if (plan_.kind() == UnitKind::sweep) throw Error("ensemble_result of a sweep");
  return ensemble_statistics(members_of(results_, 0, results_.size()));
}

}  // namespace rnnlyap
