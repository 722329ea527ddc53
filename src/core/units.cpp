// Work units of a run and unit files (include/rnnlyap/units.hpp): what MPI ranks, job-array shards
// and a resumed sweep share. Every number of a unit line is written exactly (17 significant
// digits; non-finite ones spelled out), so a run put together from unit lines is the run computed
// in one process.
#include "rnnlyap/units.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/memory_limit.hpp"
#include "core/options_json.hpp"
#include "io/checkpoint.hpp"
#include "io/file_errors.hpp"
#include "io/output_file.hpp"
#include "propagator.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/trained.hpp"

namespace rnnlyap {

using nlohmann::json;

namespace {

constexpr const char* kFormat = "rnnlyap units 1";

json number_json(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}
double number_from(const json& j) {
  if (j.is_number()) return j.get<double>();
  const std::string s = j.get<std::string>();
  if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  throw InvalidInput("not a number: " + s);
}
json numbers_json(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(number_json(x));
  return a;
}
std::vector<double> numbers_from(const json& j) {
  std::vector<double> v;
  for (const auto& x : j) v.push_back(number_from(x));
  return v;
}

// Each line carries the FNV-1a hash of the rest of it, so that an edited or torn line is
// recognised.
std::string line_check(const json& j) {
  const std::string text = j.dump();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(detail::fnv1a(text.data(), text.size())));
  return buf;
}
std::string with_check(json j) {
  j["check"] = line_check(j);
  return j.dump();
}
bool check_holds(json& j) {
  if (!j.is_object() || !j.contains("check") || !j["check"].is_string()) return false;
  const std::string check = j["check"].get<std::string>();
  j.erase("check");
  return line_check(j) == check;
}

// A member's result, every field exactly.
json result_json(const SpectrumResult& r) {
  const SpectrumSummary& s = r.summary;
  json ftle = json::array();
  for (const auto& w : r.ftle) ftle.push_back(numbers_json(w));
  return {{"exponents", numbers_json(r.exponents)},
          {"stderr", numbers_json(r.stderr_)},
          {"summary",
           {{"max_exponent", number_json(s.max_exponent)},
            {"mean_exponent", number_json(s.mean_exponent)},
            {"sum", number_json(s.sum)},
            {"n_positive", s.n_positive},
            {"ky_dimension", number_json(s.ky_dimension)},
            {"ky_is_lower_bound", s.ky_is_lower_bound},
            {"ks_entropy", number_json(s.ks_entropy)}}},
          {"summary_stderr",
           {{"max_exponent", number_json(r.summary_stderr.max_exponent)},
            {"mean_exponent", number_json(r.summary_stderr.mean_exponent)},
            {"sum", number_json(r.summary_stderr.sum)},
            {"ky_dimension", number_json(r.summary_stderr.ky_dimension)},
            {"ks_entropy", number_json(r.summary_stderr.ks_entropy)}}},
          {"options", detail::options_to_json(r.options)},
          {"schedule",
           {{"warmup_steps", r.schedule.warmup_steps},
            {"steps_per_ons", r.schedule.steps_per_ons},
            {"ons_warmup", r.schedule.ons_warmup},
            {"ons_sim", r.schedule.ons_sim},
            {"step_time", r.schedule.step_time}}},
          {"backend", r.backend},
          {"device", r.device},
          {"timing",
           {{"seconds", r.timing.seconds},
            {"tangent_steps", r.timing.tangent_steps},
            {"qr_count", r.timing.qr_count}}},
          {"warnings", r.warnings},
          {"sequence", r.sequence},
          {"ftle", ftle}};
}

SpectrumResult result_from(const json& j) {
  SpectrumResult r;
  r.exponents = numbers_from(j.at("exponents"));
  r.stderr_ = numbers_from(j.at("stderr"));
  if (r.exponents.empty() || r.stderr_.size() != r.exponents.size())
    throw InvalidInput("exponents and standard errors do not match");
  const json& s = j.at("summary");
  r.summary.max_exponent = number_from(s.at("max_exponent"));
  r.summary.mean_exponent = number_from(s.at("mean_exponent"));
  r.summary.sum = number_from(s.at("sum"));
  r.summary.n_positive = s.at("n_positive").get<int>();
  r.summary.ky_dimension = number_from(s.at("ky_dimension"));
  r.summary.ky_is_lower_bound = s.at("ky_is_lower_bound").get<bool>();
  r.summary.ks_entropy = number_from(s.at("ks_entropy"));
  // Units written before the summary had error bars lack them: NaN, as for one block.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.summary_stderr.max_exponent = r.summary_stderr.mean_exponent = r.summary_stderr.sum =
      r.summary_stderr.ky_dimension = r.summary_stderr.ks_entropy = nan;
  if (j.contains("summary_stderr")) {
    const json& se = j.at("summary_stderr");
    r.summary_stderr.max_exponent = number_from(se.at("max_exponent"));
    r.summary_stderr.mean_exponent = number_from(se.at("mean_exponent"));
    r.summary_stderr.sum = number_from(se.at("sum"));
    r.summary_stderr.ky_dimension = number_from(se.at("ky_dimension"));
    r.summary_stderr.ks_entropy = number_from(se.at("ks_entropy"));
  }
  r.options = detail::options_from_json(j.at("options"));
  const json& sc = j.at("schedule");
  r.schedule.warmup_steps = sc.at("warmup_steps").get<std::int64_t>();
  r.schedule.steps_per_ons = sc.at("steps_per_ons").get<std::int64_t>();
  r.schedule.ons_warmup = sc.at("ons_warmup").get<std::int64_t>();
  r.schedule.ons_sim = sc.at("ons_sim").get<std::int64_t>();
  r.schedule.step_time = sc.at("step_time").get<double>();
  r.backend = j.at("backend").get<std::string>();
  r.device = j.at("device").get<std::string>();
  const json& t = j.at("timing");
  r.timing.seconds = t.at("seconds").get<double>();
  r.timing.tangent_steps = t.at("tangent_steps").get<std::int64_t>();
  r.timing.qr_count = t.at("qr_count").get<std::int64_t>();
  r.warnings = j.at("warnings").get<std::vector<std::string>>();
  r.sequence = j.at("sequence").get<int>();
  for (const auto& w : j.at("ftle")) {
    r.ftle.push_back(numbers_from(w));
    if (r.ftle.back().size() != r.exponents.size()) throw InvalidInput("ftle of the wrong width");
  }
  return r;
}

// FNV-1a of a file's bytes: a unit file names the contents of the files its run read, so that
// another file under the same name is not taken for the same run.
std::string file_hash(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InvalidInput("cannot read " + path);
  std::uint64_t h = 0xcbf29ce484222325ull;
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h = detail::fnv1a(buf.data(), static_cast<std::size_t>(f.gcount()), h);
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

// The same value up to the last digits of a decimal written differently.
bool same(double a, double b) {
  return std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(a));
}

std::string kind_name(UnitKind k) {
  return k == UnitKind::sweep ? "sweep" : k == UnitKind::ensemble ? "ensemble" : "sequences";
}

}  // namespace

struct UnitPlan::Impl {
  UnitKind kind = UnitKind::ensemble;
  SpectrumOptions opt;  // as given (a sweep's base)
  SweepSpec spec;       // UnitKind::sweep
  struct Point {
    double g;
    std::optional<double> alpha;
    int n;
  };
  std::vector<Point> points;  // a sweep's; one (unused) point otherwise
  std::size_t per_point = 1, units = 0;
  std::shared_ptr<const CellNetwork> net;  // UnitKind::sequences
  std::shared_ptr<const InputSequences> inputs;
  std::optional<json> files;  // from a head; else hashed from the files when needed
  std::optional<int> device, threads;
  bool computes = true;
  std::string run;  // a hash of identity(): every unit line carries it

  void identify() {
    files = files_json();  // hashed once
    const std::string text = identity().dump();
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx",
                  static_cast<unsigned long long>(detail::fnv1a(text.data(), text.size())));
    run = buf;
  }

  // Every unit's result is kept until the run ends, in memory and as its unit line (JSON text:
  // about 3 times the 8 bytes of each number), so the finite-time windows of all units are counted
  // together before any unit runs (the loop counts one unit at a time). A random network's N is
  // known from its options; a weights file's from its header, read by the first unit (rows only
  // size covariant vectors, which units never keep).
  void check_memory() const {
    // kept_series counts three copies of each window (the loop's, the result's, an output's); a
    // store holds about four (the result, and its line at about 3 times its bytes).
    constexpr double kKeptCopies = 4.0 / 3.0;
    double bytes = 0;
    std::string remedy;
    for (std::size_t p = 0; p < points.size(); ++p) {
      const SpectrumOptions o = point_options(p);
      for (const detail::KeptSeries& k :
           detail::kept_series(o, make_schedule(o), o.n, static_cast<int>(per_point), false)) {
        bytes += kKeptCopies * k.bytes;
        remedy = k.remedy;
      }
    }
    if (bytes > 0)
      detail::check_kept_memory({{"the finite-time windows of all " + std::to_string(units) +
                                      " units (each result and its unit line, kept to the end)",
                                  bytes, remedy}},
                                static_cast<double>(host_memory_bytes()));
  }

  SpectrumOptions point_options(std::size_t p) const {
    SpectrumOptions o = opt;
    if (kind == UnitKind::sweep) {
      o.g = points[p].g;
      o.n = points[p].n;
      if (points[p].alpha) {
        o.weights = WeightKind::levy;
        o.alpha = *points[p].alpha;
      }
    }
    if (device) o.device = *device;
    if (threads) o.threads = *threads;
    return o;
  }

  json files_json() const {
    if (files) return *files;
    json f = json::object();
    for (const std::string* p : {&opt.weights_file, &opt.inputs_file, &opt.initial_state_file})
      if (!p->empty()) f[*p] = file_hash(*p);
    return f;
  }

  // What decides the numbers: the options without where they run (and, for a sweep, without the
  // grid, whose points are matched one by one), and the contents of the files read.
  json identity() const {
    json j = detail::options_to_json(opt);
    for (const char* key : {"backend", "device", "threads"}) j.erase(key);
    if (kind == UnitKind::sweep)
      for (const char* key : {"g", "n", "alpha", "weights"}) j.erase(key);
    j["k"] = opt.k ? json(*opt.k) : json(nullptr);
    return {{"kind", kind_name(kind)},
            {"options", j},
            {"files", files_json()},
            {"units", kind == UnitKind::sweep ? json(nullptr) : json(units)}};
  }

  json grid_json() const {
    if (kind != UnitKind::sweep) return nullptr;
    return {{"g", spec.g}, {"alpha", spec.alpha}, {"n", spec.n}};
  }

  json key(std::size_t u) const {
    const std::size_t p = u / per_point, m = u % per_point;
    switch (kind) {
      case UnitKind::sweep:
        return {{"g", points[p].g},
                {"alpha", points[p].alpha ? json(*points[p].alpha) : json(nullptr)},
                {"n", points[p].n},
                {"member", m}};
      case UnitKind::ensemble:
        return {{"member", m}};
      case UnitKind::sequences:
        return {{"sequence", m}};
    }
    return nullptr;
  }

  // The unit a key names, if it is one of this plan's.
  std::optional<std::size_t> unit_of(const json& k) const {
    const std::size_t m =
        k.at(kind == UnitKind::sequences ? "sequence" : "member").get<std::size_t>();
    if (m >= per_point) return std::nullopt;
    if (kind != UnitKind::sweep) return m;
    const double g = k.at("g").get<double>();
    const std::optional<double> alpha =
        k.at("alpha").is_null() ? std::nullopt : std::optional<double>(k.at("alpha").get<double>());
    const int n = k.at("n").get<int>();
    for (std::size_t p = 0; p < points.size(); ++p)
      if (same(points[p].g, g) && points[p].alpha.has_value() == alpha.has_value() &&
          (!alpha || same(*points[p].alpha, *alpha)) && points[p].n == n)
        return p * per_point + m;
    return std::nullopt;
  }

  // Exponents a unit computes (0: not known before the run).
  int exponents_of(std::size_t u) const {
    const SpectrumOptions o = point_options(u / per_point);
    if (kind == UnitKind::sequences) return o.k.value_or(0);
    return o.n > 0 ? o.num_exponents() : 0;
  }
};

UnitPlan UnitPlan::sweep(const SweepSpec& spec) {
  if (spec.g.empty() || spec.n.empty())
    throw InvalidInput("a sweep needs at least one g and one n");
  for (int n : spec.n)
    if (n < 1) throw InvalidInput("--n must be at least 1, got " + std::to_string(n));
  // A value given twice would be one grid point computed twice (and matched once on resume).
  // (Values that agree to 12 digits are one point: unit lines are matched to points that way.)
  auto once = [](auto values, const char* flag) {
    std::sort(values.begin(), values.end());
    const auto twice = std::adjacent_find(values.begin(), values.end(), [](auto a, auto b) {
      return same(static_cast<double>(a), static_cast<double>(b));
    });
    if (twice != values.end()) {
      std::ostringstream v;
      v << *twice;
      throw InvalidInput(std::string(flag) + ": " + v.str() + " is given twice");
    }
  };
  once(spec.g, "--g");
  once(spec.alpha, "--alpha");
  once(spec.n, "--n");
  auto impl = std::make_shared<Impl>();
  impl->kind = UnitKind::sweep;
  impl->opt = spec.base;
  impl->spec = spec;
  const std::vector<std::optional<double>> alphas =
      spec.alpha.empty() ? std::vector<std::optional<double>>{std::nullopt}
                         : std::vector<std::optional<double>>(spec.alpha.begin(), spec.alpha.end());
  for (const auto& a : alphas)
    for (int n : spec.n)
      for (double g : spec.g) impl->points.push_back({g, a, n});
  impl->per_point = static_cast<std::size_t>(std::max(1, spec.base.ensemble));
  impl->units = impl->points.size() * impl->per_point;
  // Every grid point is validated, and its weights' memory checked, before any is computed: a
  // sweep refused (exit 2) has computed nothing and written nothing.
  for (std::size_t p = 0; p < impl->points.size(); ++p) {
    const SpectrumOptions o = impl->point_options(p);
    validate(o);
    detail::check_weights_fit(o);
  }
  impl->check_memory();
  impl->identify();
  UnitPlan plan;
  plan.impl_ = std::move(impl);
  return plan;
}

UnitPlan UnitPlan::spectrum(const SpectrumOptions& opt) {
  validate(opt);
  auto impl = std::make_shared<Impl>();
  impl->opt = opt;
  impl->points.push_back({opt.g, std::nullopt, opt.n});
  if (is_cell(opt.model)) {
    impl->kind = UnitKind::sequences;
    const std::string model(to_string(opt.model));
    if (opt.weights_file.empty())
      throw InvalidInput("--model " + model + " needs --weights-file W.npz");
    if (opt.inputs_file.empty()) throw InvalidInput("--model " + model + " needs --inputs X.npy");
    CellNetwork net = load_cell_network(opt.model, opt.weights_file);
    net.nonlinearity = opt.nonlinearity;
    impl->net = std::make_shared<const CellNetwork>(std::move(net));
    impl->inputs = std::make_shared<const InputSequences>(load_inputs(opt.inputs_file));
    impl->per_point = static_cast<std::size_t>(impl->inputs->batch);
  } else {
    impl->kind = UnitKind::ensemble;
    if (opt.weights != WeightKind::file) detail::check_weights_fit(opt);
    impl->per_point = static_cast<std::size_t>(std::max(1, opt.ensemble));
  }
  impl->units = impl->per_point;
  if (impl->kind == UnitKind::ensemble) impl->check_memory();
  impl->identify();
  UnitPlan plan;
  plan.impl_ = std::move(impl);
  return plan;
}

UnitPlan UnitPlan::from_head(const std::string& line, const std::string& file) {
  json h;
  try {
    h = json::parse(line);
  } catch (const json::exception&) {
    throw InvalidInput(file + ": not a unit file of rnnlyap");
  }
  if (!h.is_object() || h.value("format", std::string()) != kFormat)
    throw InvalidInput(file +
                       ": not a unit file of this version of rnnlyap (a partial file of another "
                       "version: delete it to start over)");
  if (!check_holds(h)) throw InvalidInput(file + ": its first line was edited (its check fails)");
  try {
    SpectrumOptions o = detail::options_from_json(h.at("params"));
    o.k = h.at("k").is_null() ? std::nullopt : std::optional<int>(h.at("k").get<int>());
    const std::string kind = h.at("kind").get<std::string>();
    auto impl = std::make_shared<Impl>();
    impl->files = h.at("files");
    impl->computes = false;
    if (kind == "sweep") {
      SweepSpec spec;
      spec.base = o;
      spec.g = h.at("grid").at("g").get<std::vector<double>>();
      spec.alpha = h.at("grid").at("alpha").get<std::vector<double>>();
      spec.n = h.at("grid").at("n").get<std::vector<int>>();
      UnitPlan plan = sweep(spec);
      auto s = std::make_shared<Impl>(*plan.impl_);
      s->files = impl->files;
      s->computes = false;
      s->identify();
      plan.impl_ = std::move(s);
      return plan;
    }
    if (kind != "ensemble" && kind != "sequences") throw InvalidInput("unknown kind " + kind);
    impl->kind = kind == "ensemble" ? UnitKind::ensemble : UnitKind::sequences;
    impl->opt = o;
    impl->points.push_back({o.g, std::nullopt, o.n});
    impl->per_point = impl->units = h.at("units").get<std::size_t>();
    impl->identify();
    UnitPlan plan;
    plan.impl_ = std::move(impl);
    return plan;
  } catch (const json::exception& e) {
    throw InvalidInput(file + ": its first line lacks a field (" + std::string(e.what()) + ")");
  }
}

UnitKind UnitPlan::kind() const {
  return impl_->kind;
}
std::size_t UnitPlan::size() const {
  return impl_->units;
}
std::size_t UnitPlan::per_point() const {
  return impl_->per_point;
}
const SpectrumOptions& UnitPlan::options() const {
  return impl_->opt;
}
const SweepSpec& UnitPlan::sweep_spec() const {
  return impl_->spec;
}

std::string UnitPlan::label(std::size_t u) const {
  const Impl& s = *impl_;
  const std::size_t p = u / s.per_point, m = u % s.per_point;
  std::ostringstream l;
  if (s.kind == UnitKind::sweep) {
    l << "g=" << s.points[p].g << " N=" << s.points[p].n;
    if (s.points[p].alpha) l << " alpha=" << *s.points[p].alpha;
    if (s.per_point > 1) l << " member " << m;
  } else {
    l << (s.kind == UnitKind::sequences ? "sequence " : "member ") << m;
  }
  return l.str();
}

std::vector<std::pair<std::size_t, std::size_t>> UnitPlan::runs(
    const std::vector<std::size_t>& units) const {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  const std::size_t per = impl_->per_point;
  for (std::size_t u : units)
    if (!out.empty() && out.back().first + out.back().second == u && u % per != 0)
      ++out.back().second;
    else
      out.emplace_back(u, 1);
  return out;
}

int UnitPlan::shard_of(std::size_t u, int shards) const {
  const std::size_t b = impl_->per_point, p = u / b, m = u % b;
  const std::size_t n = static_cast<std::size_t>(shards);
  return static_cast<int>((p + m * n / b) % n);
}

UnitPlan UnitPlan::placed(std::optional<int> device, std::optional<int> threads) const {
  auto s = std::make_shared<Impl>(*impl_);
  if (device) s->device = device;
  if (threads) s->threads = threads;
  UnitPlan plan;
  plan.impl_ = std::move(s);
  return plan;
}

std::string UnitPlan::head() const {
  const Impl& s = *impl_;
  json h = s.identity();
  h["format"] = kFormat;
  h["params"] = detail::options_to_json(s.opt);
  h["k"] = s.opt.k ? json(*s.opt.k) : json(nullptr);
  h["grid"] = s.grid_json();
  return with_check(h);
}

std::vector<std::string> UnitPlan::compute(std::size_t first, std::size_t count,
                                           const Observers& observers,
                                           const RunControl& control) const {
  const Impl& s = *impl_;
  if (!s.computes) throw Error("this unit plan was read from a file and cannot compute");
  if (count == 0 || first + count > s.units ||
      first / s.per_point != (first + count - 1) / s.per_point)
    throw Error("UnitPlan::compute: units " + std::to_string(first) + " + " +
                std::to_string(count) + " are not in one point");
  const std::size_t p = first / s.per_point, m0 = first % s.per_point;
  SpectrumOptions o = s.point_options(p);
  RunControl stop_only;  // units keep no checkpoints
  stop_only.stop_requested = control.stop_requested;
  EnsembleResult e;
  if (s.kind == UnitKind::sequences) {
    InputSequences part;
    part.batch = static_cast<int>(count);
    part.steps = s.inputs->steps;
    part.input_size = s.inputs->input_size;
    const std::size_t len = static_cast<std::size_t>(part.steps) * part.input_size;
    part.data.assign(s.inputs->data.begin() + static_cast<std::ptrdiff_t>(m0 * len),
                     s.inputs->data.begin() + static_cast<std::ptrdiff_t>((m0 + count) * len));
    e = compute_trained_spectra(o, *s.net, part, observers, stop_only);
    for (std::size_t i = 0; i < count; ++i) e.members[i].sequence = static_cast<int>(m0 + i);
  } else {
    o.seed = s.opt.seed + m0;
    o.ensemble = static_cast<int>(count);
    e = compute_ensemble(o, observers, stop_only);
  }
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < count; ++i) {
    SpectrumResult& r = e.members[i];
    // Recorded as the whole run's member: its ensemble, and the placement as given.
    r.options.ensemble = s.opt.ensemble;
    r.options.device = s.opt.device;
    r.options.threads = s.opt.threads;
    lines.push_back(
        with_check({{"run", s.run}, {"unit", s.key(first + i)}, {"result", result_json(r)}}));
  }
  return lines;
}

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
    j = json::parse(line);
    if (!check_holds(j)) throw InvalidInput("check failed");
    if (j.at("run").get<std::string>() != plan_.impl_->run) {
      // A line of another run (files put together by hand): never used, never kept.
      if (!from_file) throw InvalidInput("a unit line of another run");
      ++other_runs_;
      return std::nullopt;
    }
    r = result_from(j.at("result"));
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
