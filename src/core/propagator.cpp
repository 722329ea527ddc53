// One propagator for every model on every executor, and the placement of a run (which backend,
// does it fit), written once.
#include "propagator.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <type_traits>

#include "backends.hpp"
#include "executor.hpp"
#include "models/cell.hpp"
#include "models/model.hpp"
#include "models/random_network.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"

namespace rnnlyap::detail {
namespace {

constexpr double kMiB = 1048576.0;

template <class T>
class ModelPropagator final : public Propagator {
 public:
  ModelPropagator(std::unique_ptr<Executor<T>> ex, std::unique_ptr<TangentModel<T>> model, int k,
                  QrMethod qr)
      : ex_(std::move(ex)), model_(std::move(model)), k_(k) {
    model_->upload(*ex_, k_);
    qr_ = ex_->make_reorthonormalizer(model_->batch(), model_->tangent_rows(), k_, qr);
  }

  BackendKind kind() const override { return ex_->kind(); }
  std::string device() const override { return ex_->device(); }
  int batch() const override { return model_->batch(); }

  void set_state(std::span<const double> h) override {
    const std::size_t want = static_cast<std::size_t>(model_->batch()) * model_->state_size();
    if (h.size() != want)
      throw InvalidInput("state has " + std::to_string(h.size()) + " entries, expected " +
                         std::to_string(want));
    model_->set_state({h.begin(), h.end()});
  }
  std::vector<double> state_blocking() override { return model_->state_blocking(); }

  void set_basis(std::span<const double> q) override {
    if (q.size() != basis_size())
      throw InvalidInput("basis has " + std::to_string(q.size()) + " entries, expected " +
                         std::to_string(basis_size()));
    const int rows = model_->tangent_rows();
    const std::size_t full = static_cast<std::size_t>(rows) * k_, held = held_basis();
    for (int m = 0; m < model_->batch(); ++m)
      ex_->matrix_in_fp64(model_->basis() + m * held, rows, k_, [&](int c0, int c1, double* out) {
        const double* from = q.data() + m * full + static_cast<std::size_t>(rows) * c0;
        std::copy(from, from + static_cast<std::size_t>(rows) * (c1 - c0), out);
      });
  }
  void set_basis_columns(const std::function<void(int, int, double*)>& columns) override {
    if (model_->batch() != 1) throw Error("set_basis_columns: one member only");
    ex_->matrix_in_fp64(model_->basis(), model_->tangent_rows(), k_, columns);
  }
  std::vector<double> basis_blocking() override {
    const int rows = model_->tangent_rows();
    const std::size_t full = static_cast<std::size_t>(rows) * k_, held = held_basis();
    if (!ex_->writes_files()) {  // a distributed run's other ranks: they send their blocks
      for (int m = 0; m < model_->batch(); ++m)
        ex_->matrix_out_blocking(nullptr, model_->basis() + m * held, rows, k_);
      return {};
    }
    std::vector<T> v(basis_size());
    for (int m = 0; m < model_->batch(); ++m)
      ex_->matrix_out_blocking(v.data() + m * full, model_->basis() + m * held, rows, k_);
    return {v.begin(), v.end()};
  }

  void advance_state(std::int64_t step0, std::int64_t steps) override {
    for (std::int64_t s = 0; s < steps; ++s) model_->state_step(step0 + s);
  }
  void advance_tangent(std::int64_t step0, std::int64_t steps) override {
    for (std::int64_t s = 0; s < steps; ++s) model_->tangent_step(step0 + s);
  }
  void reorthonormalize(bool accumulate) override {
    qr_->reorthonormalize(model_->basis(), accumulate);
  }
  LogSums take_logs_blocking() override { return qr_->take_logs_blocking(); }
  void keep_r(bool on) override { qr_->keep_r(on); }
  bool any_rank(bool v) override { return !ex_->all_ok(!v); }
  bool writes_files() const override { return ex_->writes_files(); }
  std::vector<double> last_r_blocking() override { return qr_->last_r_blocking(); }

 private:
  std::size_t basis_size() const {
    return static_cast<std::size_t>(model_->batch()) * model_->tangent_rows() * k_;
  }
  // Values of one member's basis on the executor (a distributed executor: its blocks).
  std::size_t held_basis() const { return ex_->matrix_values(model_->tangent_rows(), k_); }

  // Destroyed in reverse order: the re-orthonormaliser, then the model's buffers, then the
  // executor.
  std::unique_ptr<Executor<T>> ex_;
  std::unique_ptr<TangentModel<T>> model_;
  std::unique_ptr<Reorthonormalizer<T>> qr_;
  int k_;
};

// Bytes the run needs on `ex`: the model's buffers, each rounded up to the executor's allocation
// granularity, and the re-orthonormaliser's (with the R factors when covariant vectors keep them).
template <class T>
double bytes_needed(const Executor<T>& ex, const TangentModel<T>& m, int k,
                    const Placement& where) {
  return m.bytes_needed(ex, k) +
         static_cast<double>(m.buffer_count()) * static_cast<double>(ex.allocation_granularity()) +
         static_cast<double>(
             ex.reorthonormalizer_bytes(m.batch(), m.tangent_rows(), k, where.qr, where.keep_r));
}

template <class T>
[[noreturn]] void throw_does_not_fit(const Executor<T>& ex, const TangentModel<T>& m, int k,
                                     double need) {
  const bool gpu = backend(ex.kind()).accelerator;
  throw DoesNotFit(
      "the run needs " + std::to_string(static_cast<long long>(std::ceil(need / kMiB))) +
      " MiB of " + (gpu ? "GPU memory; " : "memory; ") + ex.device() + " has " +
      std::to_string(static_cast<long long>(static_cast<double>(ex.bytes_available()) / kMiB)) +
      " MiB free (" + std::to_string(m.batch()) + " x " + std::to_string(m.tangent_rows()) + " x " +
      std::to_string(k) + " basis, " + (std::is_same_v<T, float> ? "fp32" : "fp64") + ")");
}

// The backend rule, written once: a named backend, or `auto` (backends.hpp: an accelerator where
// present, usable and the run fits there, else the CPU). The memory check happens before anything
// of the run is allocated; an allocation that fails on the GPU all the same (others took the
// memory meanwhile) is OutOfDeviceMemory, after which `auto` goes to the CPU too.
// One network over a grid of MPI ranks: each rank checks its blocks against its share of the
// node's memory, and the ranks agree before any allocates (a rank that does not fit stops all).
template <class T>
std::unique_ptr<Propagator> place_distributed(const Placement& where,
                                              std::unique_ptr<TangentModel<T>> model, int k) {
  const DistributedBackend* d = distributed_backend();
  if (d == nullptr)
    throw BackendUnavailable(
        "--distribute-network needs the rnnlyap program built with MPI and ScaLAPACK (rnnlyap "
        "info says whether it was)");
  // The ranks' CPUs (ScaLAPACK) unless --backend cuda asks for their GPUs (cuBLASMp/cuSOLVERMp):
  // `auto` keeps to the CPUs, the variant every build with --distribute-network has.
  const bool gpu = where.backend == BackendKind::cuda;
  if (gpu && d->make_gpu_fp64 == nullptr)
    throw BackendUnavailable(
        "--distribute-network with --backend cuda needs the rnnlyap program built with the CUDA "
        "backend and the cuBLASMp/cuSOLVERMp headers (rnnlyap info says whether it was)");
  const int n = model->tangent_rows();
  std::unique_ptr<Executor<T>> ex;
  if constexpr (std::is_same_v<T, float>)
    ex = gpu ? d->make_gpu_fp32(where.grid_rows, where.grid_cols, n)
             : d->make_fp32(where.grid_rows, where.grid_cols, n, where.threads);
  else
    ex = gpu ? d->make_gpu_fp64(where.grid_rows, where.grid_cols, n)
             : d->make_fp64(where.grid_rows, where.grid_cols, n, where.threads);
  // Every rank says the same: the most any rank needs, the least any has (0: no limit known).
  const double need = ex->max_over_ranks(bytes_needed(*ex, *model, k, where));
  const double known = static_cast<double>(ex->bytes_available());
  const double have = -ex->max_over_ranks(known > 0 ? -known : -INFINITY);
  if (std::isfinite(have) && have > 0 && need > have)
    throw DoesNotFit(
        "the run needs " + std::to_string(static_cast<long long>(std::ceil(need / kMiB))) +
        " MiB of memory per rank; the rank with the least has " +
        std::to_string(static_cast<long long>(have / kMiB)) + " MiB free (" +
        std::to_string(model->tangent_rows()) + " x " + std::to_string(k) + " basis over " +
        std::to_string(where.grid_rows) + "x" + std::to_string(where.grid_cols) + " ranks, " +
        (std::is_same_v<T, float> ? "fp32" : "fp64") + ")");
  return std::make_unique<ModelPropagator<T>>(std::move(ex), std::move(model), k, where.qr);
}

template <class T>
std::unique_ptr<Propagator> place(
    const Placement& where, const std::function<std::unique_ptr<TangentModel<T>>()>& make_model,
    int k) {
  std::unique_ptr<TangentModel<T>> model = make_model();
  if (where.grid_rows > 0) return place_distributed<T>(where, std::move(model), k);
  const BackendKind kind = placed_backend(where);
  if (kind != BackendKind::cpu) {
    std::unique_ptr<Executor<T>> ex = make_executor<T>(kind, where.device);
    const double need = bytes_needed(*ex, *model, k, where);
    if (need <= static_cast<double>(ex->bytes_available())) {
      try {
        return std::make_unique<ModelPropagator<T>>(std::move(ex), std::move(model), k, where.qr);
      } catch (const OutOfDeviceMemory&) {
        if (where.backend != BackendKind::auto_select) throw;
        model = make_model();  // the propagator's constructor took the first one with it
      }
    } else if (where.backend != BackendKind::auto_select) {
      throw_does_not_fit(*ex, *model, k, need);
    }
  }
  std::unique_ptr<Executor<T>> cpu =
      make_executor<T>(BackendKind::cpu, where.device, where.threads);
  const double need = bytes_needed(*cpu, *model, k, where);
  const std::size_t have = cpu->bytes_available();
  if (have != 0 && need > static_cast<double>(have)) throw_does_not_fit(*cpu, *model, k, need);
  return std::make_unique<ModelPropagator<T>>(std::move(cpu), std::move(model), k, where.qr);
}

// place() in the run's precision: `make` is a generic lambda, make.template operator()<T>() the
// model in precision T.
template <class Make>
std::unique_ptr<Propagator> place_in_precision(const Placement& where, int k, const Make& make) {
  if (where.precision == Precision::fp32)
    return place<float>(
        where, [&] { return make.template operator()<float>(); }, k);
  return place<double>(
      where, [&] { return make.template operator()<double>(); }, k);
}

// k exponents of an n-dimensional tangent space.
void require_k(int k, int n) {
  if (k < 1 || k > n)
    throw InvalidInput("k = " + std::to_string(k) + " must be in [1, N = " + std::to_string(n) +
                       "]");
}

}  // namespace

// With a GPU present, `auto` means it: a --device that does not exist is then an error (exit 2),
// not a silent fall-back to the CPU. The test-only emulated device is not a GPU, and a GPU this
// build cannot run on (its compute capability, the driver) means the CPU (backends.hpp).
BackendKind placed_backend(const Placement& where) {
  return resolve_backend(where.backend, where.device);
}

void check_weights_fit(const SpectrumOptions& opt) {
  // A file's size is checked when it is read; one network over many ranks never holds J whole (each
  // rank checks its blocks when placed).
  if (opt.weights == WeightKind::file || opt.distributed()) return;
  double need = 8.0 * opt.n * opt.n;
  if (!placement_is_cuda(placement_of(opt)))
    need += network_model_bytes(1, opt.n, opt.num_exponents(), dynamics_of(opt), opt.precision);
  const double have = static_cast<double>(host_memory_bytes());
  if (have > 0 && need > have)
    throw InvalidInput("N = " + std::to_string(opt.n) +
                       ", k = " + std::to_string(opt.num_exponents()) + " needs " +
                       std::to_string(std::llround(need / kMiB)) +
                       " MiB of memory; this process may use " +
                       std::to_string(std::llround(have / kMiB)) + " MiB available");
}

std::unique_ptr<Propagator> make_network_propagator(const Placement& where,
                                                    const std::vector<const Network*>& nets,
                                                    const Dynamics& dyn,
                                                    const std::vector<std::uint64_t>& keys, int k) {
  if (nets.empty() || nets.size() != keys.size())
    throw InvalidInput("a batch needs one noise key per network");
  const int n = nets[0]->n;
  for (const Network* net : nets)
    if (net->n != n) throw InvalidInput("the networks of a batch must have the same size");
  require_k(k, n);
  return place_in_precision(where, k, [&]<class T>() {
    return std::make_unique<RandomNetworkModel<T>>(nets, dyn, keys);
  });
}

std::unique_ptr<Propagator> make_network_propagator(const Placement& where,
                                                    const NetworkColumns& net, const Dynamics& dyn,
                                                    std::uint64_t key, int k) {
  require_k(k, net.n);
  return place_in_precision(
      where, k, [&]<class T>() { return std::make_unique<RandomNetworkModel<T>>(net, dyn, key); });
}

std::unique_ptr<Propagator> make_cell_propagator(const Placement& where, const CellNetwork& net,
                                                 const InputSequences& inputs, int first, int count,
                                                 int k, bool lstm_h_only) {
  if (count < 1 || first < 0 || first + count > inputs.batch)
    throw InvalidInput("sequences " + std::to_string(first) + " .. " +
                       std::to_string(first + count - 1) + " are not in the inputs (" +
                       std::to_string(inputs.batch) + " sequences)");
  if (inputs.input_size != net.input_size)
    throw InvalidInput("the inputs have " + std::to_string(inputs.input_size) +
                       " features per step but the cell expects " + std::to_string(net.input_size));
  const int dim = net.tangent_rows(lstm_h_only);
  if (k < 1 || k > dim)
    throw InvalidInput("k = " + std::to_string(k) + " must be in [1, " + std::to_string(dim) + "]");
  return place_in_precision(where, k, [&]<class T>() {
    return std::make_unique<CellModel<T>>(net, inputs, first, count, lstm_h_only);
  });
}

}  // namespace rnnlyap::detail
