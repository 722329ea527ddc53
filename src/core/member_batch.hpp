// B propagators behind one, in the member-major layout of BatchBackend: states one after another,
// bases B blocks, logs B·k. Every call goes to each member in turn; a CUDA member only queues work
// on its own stream, so the members' kernels overlap on the device. Used by the CPU ensemble batch
// (src/cpu/cpu_batch_backend.cpp) and the batches of input sequences (src/core/trained.cpp).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {

template <class Base, class Member>
class MemberBatch : public Base {
 public:
  std::string name() const override { return members_.empty() ? "cpu" : members_[0]->name(); }
  std::string device() const override { return members_.empty() ? "CPU" : members_[0]->device(); }
  void set_state(std::span<const double> h) override {
    scatter(h, state_size_, &Propagator::set_state);
  }
  std::vector<double> state() override { return gather(&Propagator::state); }
  void set_basis(std::span<const double> q) override {
    scatter(q, basis_size_, &Propagator::set_basis);
  }
  std::vector<double> basis() override { return gather(&Propagator::basis); }
  void advance_state(std::int64_t step0, std::int64_t steps) override {
    for (auto& m : members_) m->advance_state(step0, steps);
  }
  void advance_tangent(std::int64_t step0, std::int64_t steps) override {
    for (auto& m : members_) m->advance_tangent(step0, steps);
  }
  void reorthonormalize(bool accumulate) override {
    for (auto& m : members_) m->reorthonormalize(accumulate);
  }
  std::vector<double> take_log_sums() override { return gather(&Propagator::take_log_sums); }

 protected:
  /// Takes the members, each holding `state_size` state values and `basis_size` basis values.
  void assign(std::vector<std::unique_ptr<Member>> members, std::size_t state_size,
              std::size_t basis_size) {
    members_ = std::move(members);
    state_size_ = state_size;
    basis_size_ = basis_size;
  }

  std::vector<std::unique_ptr<Member>> members_;

 private:
  void scatter(std::span<const double> all, std::size_t per,
               void (Propagator::*set)(std::span<const double>)) {
    if (all.size() != per * members_.size()) throw InvalidInput("batch array of the wrong size");
    for (std::size_t b = 0; b < members_.size(); ++b)
      ((*members_[b]).*set)(all.subspan(b * per, per));
  }
  std::vector<double> gather(std::vector<double> (Propagator::*get)()) {
    std::vector<double> all;
    for (auto& m : members_) {
      const std::vector<double> part = ((*m).*get)();
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }

  std::size_t state_size_ = 0, basis_size_ = 0;
};

}  // namespace rnnlyap::detail
