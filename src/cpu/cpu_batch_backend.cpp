// The CPU batch propagator: B CPU backends behind one propagator, with the batch layout of
// BatchBackend (member-major states, bases and logs). It makes the batched ensemble path of the
// driver testable without a GPU, and it is the reference the CUDA batch is compared with.
#include <memory>
#include <vector>

#include "../core/backend.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {
namespace {

class CpuBatchBackend final : public BatchBackend {
 public:
  CpuBatchBackend(Precision p, QrMethod q) : precision_(p), qr_(q) {}

  std::string name() const override { return "cpu"; }
  std::string device() const override { return members_.empty() ? "CPU" : members_[0]->device(); }

  void upload(const std::vector<Network>& nets, const Dynamics& dyn,
              const std::vector<std::uint64_t>& noise_keys, int k) override {
    if (nets.empty() || nets.size() != noise_keys.size())
      throw InvalidInput("a batch needs one noise key per network");
    members_.clear();
    n_ = nets[0].n;
    k_ = k;
    for (std::size_t b = 0; b < nets.size(); ++b) {
      if (nets[b].n != n_) throw InvalidInput("the networks of a batch must have the same size");
      Dynamics d = dyn;
      d.noise_key = noise_keys[b];
      members_.push_back(make_cpu_backend(precision_, qr_));
      members_.back()->upload(nets[b], d, k);
    }
  }

  void set_state(std::span<const double> h) override { scatter(h, n_, &Backend::set_state); }
  std::vector<double> state() override { return gather(&Backend::state); }
  void set_basis(std::span<const double> q) override {
    scatter(q, static_cast<std::size_t>(n_) * k_, &Backend::set_basis);
  }
  std::vector<double> basis() override { return gather(&Backend::basis); }
  void advance_state(std::int64_t step0, std::int64_t steps) override {
    for (auto& m : members_) m->advance_state(step0, steps);
  }
  void advance_tangent(std::int64_t step0, std::int64_t steps) override {
    for (auto& m : members_) m->advance_tangent(step0, steps);
  }
  void reorthonormalize(bool accumulate) override {
    for (auto& m : members_) m->reorthonormalize(accumulate);
  }
  std::vector<double> take_log_sums() override { return gather(&Backend::take_log_sums); }

 private:
  void scatter(std::span<const double> all, std::size_t per,
               void (Backend::*set)(std::span<const double>)) {
    if (all.size() != per * members_.size()) throw InvalidInput("batch array of the wrong size");
    for (std::size_t b = 0; b < members_.size(); ++b)
      ((*members_[b]).*set)(all.subspan(b * per, per));
  }
  std::vector<double> gather(std::vector<double> (Backend::*get)()) {
    std::vector<double> all;
    for (auto& m : members_) {
      const std::vector<double> part = ((*m).*get)();
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }

  Precision precision_;
  QrMethod qr_;
  int n_ = 0, k_ = 0;
  std::vector<std::unique_ptr<Backend>> members_;
};

}  // namespace

std::unique_ptr<BatchBackend> make_cpu_batch_backend(Precision precision, QrMethod qr) {
  return std::make_unique<CpuBatchBackend>(precision, qr);
}

}  // namespace rnnlyap::detail
