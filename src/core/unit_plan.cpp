// Which units a run has and how each is computed (UnitPlan, include/rnnlyap/units.hpp): a sweep's
// (grid point, member) pairs, an ensemble's members, a trained network's sequences; the identity
// and keys that match a unit line to its run and unit. The lines are io/unit_codec.hpp's.
#include "unit_plan.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "io/unit_codec.hpp"
#include "memory_limit.hpp"
#include "options_json.hpp"
#include "propagator.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/option_table.hpp"

namespace rnnlyap {

using nlohmann::json;

namespace {

// The same value up to the last digits of a decimal written differently.
bool same(double a, double b) {
  return std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(a));
}

std::string kind_name(UnitKind k) {
  return k == UnitKind::sweep ? "sweep" : k == UnitKind::ensemble ? "ensemble" : "sequences";
}

}  // namespace

void UnitPlan::Impl::identify() {
  files = files_json();  // hashed once
  run = io::hash_text(identity().dump());
}

// Every unit's result is kept until the run ends, in memory and as its unit line (JSON text:
// about 3 times the 8 bytes of each number), so the finite-time windows of all units are counted
// together before any unit runs (the loop counts one unit at a time). A random network's N is
// known from its options; a weights file's from its header, read by the first unit (rows only
// size covariant vectors, which units never keep).
void UnitPlan::Impl::check_memory() const {
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

SpectrumOptions UnitPlan::Impl::point_options(std::size_t p) const {
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

json UnitPlan::Impl::files_json() const {
  if (files) return *files;
  json f = json::object();
  for (const std::string* p : {&opt.weights_file, &opt.inputs_file, &opt.initial_state_file})
    if (!p->empty()) f[*p] = io::file_hash(*p);
  return f;
}

json UnitPlan::Impl::identity() const {
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

json UnitPlan::Impl::grid_json() const {
  if (kind != UnitKind::sweep) return nullptr;
  return {{"g", spec.g}, {"alpha", spec.alpha}, {"n", spec.n}};
}

json UnitPlan::Impl::key(std::size_t u) const {
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

std::optional<std::size_t> UnitPlan::Impl::unit_of(const json& k) const {
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

int UnitPlan::Impl::exponents_of(std::size_t u) const {
  const SpectrumOptions o = point_options(u / per_point);
  if (kind == UnitKind::sequences) return o.k.value_or(0);
  return o.n > 0 ? o.num_exponents() : 0;
}

UnitPlan UnitPlan::sweep(const SweepSpec& spec) {
  if (spec.g.empty() || spec.n.empty())
    throw InvalidInput("a sweep needs at least one g and one n");
  for (int n : spec.n)
    if (n < 1) throw InvalidInput(OptionId::n, "", " must be at least 1, got " + std::to_string(n));
  // A value given twice would be one grid point computed twice (and matched once on resume).
  // (Values that agree to 12 digits are one point: unit lines are matched to points that way.)
  auto once = [](auto values, OptionId id) {
    std::sort(values.begin(), values.end());
    const auto twice = std::adjacent_find(values.begin(), values.end(), [](auto a, auto b) {
      return same(static_cast<double>(a), static_cast<double>(b));
    });
    if (twice != values.end()) {
      std::ostringstream v;
      v << *twice;
      throw InvalidInput(id, "", ": " + v.str() + " is given twice");
    }
  };
  once(spec.g, OptionId::g);
  once(spec.alpha, OptionId::alpha);
  once(spec.n, OptionId::n);
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
      throw InvalidInput(OptionId::model, model, " needs --weights-file W.npz");
    if (opt.inputs_file.empty())
      throw InvalidInput(OptionId::model, model, " needs --inputs X.npy");
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
  const io::UnitHead h = io::read_head_line(line, file);
  if (h.kind == "sweep") {
    SweepSpec spec;
    spec.base = h.params;
    spec.g = h.g;
    spec.alpha = h.alpha;
    spec.n = h.n;
    UnitPlan plan = sweep(spec);
    auto s = std::make_shared<Impl>(*plan.impl_);
    s->files = h.files;
    s->computes = false;
    s->identify();
    plan.impl_ = std::move(s);
    return plan;
  }
  auto impl = std::make_shared<Impl>();
  impl->files = h.files;
  impl->computes = false;
  impl->kind = h.kind == "ensemble" ? UnitKind::ensemble : UnitKind::sequences;
  impl->opt = h.params;
  impl->points.push_back({h.params.g, std::nullopt, h.params.n});
  impl->per_point = impl->units = h.units;
  impl->identify();
  UnitPlan plan;
  plan.impl_ = std::move(impl);
  return plan;
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
  return io::head_line(impl_->identity(), impl_->opt, impl_->grid_json());
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
    lines.push_back(io::unit_line(s.run, s.key(first + i), r));
  }
  return lines;
}

}  // namespace rnnlyap
