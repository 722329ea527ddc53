// The CPU batch propagator: B CPU backends behind one propagator, with the batch layout of
// BatchBackend (member-major states, bases and logs). It makes the batched ensemble path of the
// driver testable without a GPU, and it is the reference the CUDA batch is compared with.
#include <memory>
#include <vector>

#include "../core/backend.hpp"
#include "../core/member_batch.hpp"
#include "rnnlyap/errors.hpp"

namespace rnnlyap::detail {
namespace {

class CpuBatchBackend final : public MemberBatch<BatchBackend, Backend> {
 public:
  CpuBatchBackend(Precision p, QrMethod q) : precision_(p), qr_(q) {}

  void upload(const std::vector<Network>& nets, const Dynamics& dyn,
              const std::vector<std::uint64_t>& noise_keys, int k) override {
    if (nets.empty() || nets.size() != noise_keys.size())
      throw InvalidInput("a batch needs one noise key per network");
    std::vector<std::unique_ptr<Backend>> members;
    const int n = nets[0].n;
    for (std::size_t b = 0; b < nets.size(); ++b) {
      if (nets[b].n != n) throw InvalidInput("the networks of a batch must have the same size");
      Dynamics d = dyn;
      d.noise_key = noise_keys[b];
      members.push_back(make_cpu_backend(precision_, qr_));
      members.back()->upload(nets[b], d, k);
    }
    assign(std::move(members), static_cast<std::size_t>(n),
           static_cast<std::size_t>(n) * static_cast<std::size_t>(k));
  }

 private:
  Precision precision_;
  QrMethod qr_;
};

}  // namespace

std::unique_ptr<BatchBackend> make_cpu_batch_backend(Precision precision, QrMethod qr) {
  return std::make_unique<CpuBatchBackend>(precision, qr);
}

}  // namespace rnnlyap::detail
