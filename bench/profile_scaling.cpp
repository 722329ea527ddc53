// Scaling profiler: seconds per tangent step and per re-orthonormalisation against N, for k = N and
// k = N/8, on one backend, through the same primitives the driver uses. Writes a CSV;
// bench/plot_scaling.py draws it (time against N on log axes with the N³ slope).
//   rnnlyap_profile --backend cpu|cuda [--device I] [--qr householder|cholesky2]
//                   [--precision fp64|fp32] [--n 256,512,...] [--max-n N] [--peak-tflops P]
//                   [--out scaling.csv]
// Flops: Euler step 2N²k (one product); Householder QR + forming Q 4Nk² − 4k³/3; CholeskyQR2
// 2 × (Nk² + k³/3 + Nk²). The fraction of peak uses --peak-tflops, or for CUDA the FP64 tensor-core
// peak of known cards (H100 SXM/H200 67, H100 PCIe 51), or for the CPU the dgemm rate measured
// here.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "core/executor.hpp"
#include "core/propagator.hpp"
#include "core/random.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/info.hpp"
#include "rnnlyap/network.hpp"

using namespace rnnlyap;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Times `op` (which must end with a host synchronisation) until 0.5 s have passed or 3 runs.
template <class Op>
double time_per_call(Op op, int calls_per_run) {
  op();  // warm-up: handles, workspaces, first-touch
  int runs = 0;
  const auto t0 = Clock::now();
  do {
    op();
    ++runs;
  } while (seconds_since(t0) < 0.5 || runs < 3);
  return seconds_since(t0) / (static_cast<double>(runs) * calls_per_run);
}

double measured_cpu_dgemm_tflops() {
  const int n = 1000;
  const auto ex = detail::make_cpu_executor<double>();
  const std::vector<double> a = gaussian_network(n, 1, 1).j;
  std::vector<double> c(a.size());
  const double s = time_per_call(
      [&] {
        ex->gemm_batched(n, n, n, 1.0, a.data(), n, 0, a.data(), n, 0, 0.0, c.data(), n, 0, 1);
      },
      1);
  return 2.0 * n * n * n / s * 1e-12;
}

double known_peak_tflops(const std::string& device) {
  if (device.find("H100") != std::string::npos)
    return device.find("PCIe") != std::string::npos ? 51.2 : 66.9;
  if (device.find("H200") != std::string::npos || device.find("GH200") != std::string::npos)
    return 66.9;
  if (device.find("A100") != std::string::npos) return 19.5;
  return 0;
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(std::stoi(item));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  BackendKind backend = BackendKind::cpu;
  int device_index = 0;
  QrMethod qr = QrMethod::householder;
  Precision precision = Precision::fp64;
  std::vector<int> sizes = {256, 512, 1024, 2048, 4096, 8192, 16384};
  int max_n = 0;
  double peak = 0;
  std::string out = "scaling.csv";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const std::string v = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--backend")
      backend = v == "cuda" ? BackendKind::cuda : BackendKind::cpu, ++i;
    else if (a == "--device")
      device_index = std::stoi(v), ++i;
    else if (a == "--qr")
      qr = v == "cholesky2" ? QrMethod::cholesky2 : QrMethod::householder, ++i;
    else if (a == "--precision")
      precision = v == "fp32" ? Precision::fp32 : Precision::fp64, ++i;
    else if (a == "--n")
      sizes = parse_list(v), ++i;
    else if (a == "--max-n")
      max_n = std::stoi(v), ++i;
    else if (a == "--peak-tflops")
      peak = std::stod(v), ++i;
    else if (a == "--out")
      out = v, ++i;
    else {
      std::fprintf(stderr, "rnnlyap_profile: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (max_n == 0) max_n = backend == BackendKind::cpu ? 2048 : 16384;

  std::FILE* csv = std::fopen(out.c_str(), "w");
  if (!csv) {
    std::fprintf(stderr, "rnnlyap_profile: cannot write %s\n", out.c_str());
    return 2;
  }
  std::fprintf(csv, "backend,device,precision,qr,n,k,op,seconds,tflops,fraction_of_peak\n");
  std::printf("%-6s %6s %6s  %-12s %12s %9s %8s\n", "backend", "N", "k", "op", "s/call", "TFLOP/s",
              "of peak");
  std::string device;
  for (int n : sizes) {
    if (n > max_n) continue;
    for (int k : {n, n / 8}) {
      try {
        detail::Placement where;
        where.backend = backend;
        where.device = device_index;
        where.precision = precision;
        where.qr = qr;
        detail::Dynamics dyn;
        dyn.dt = 0.1;
        std::unique_ptr<detail::Propagator> be;
        {
          const Network net = gaussian_network(n, 3.0, 1);  // copied by the propagator
          be = detail::make_network_propagator(where, {&net}, dyn, {detail::noise_key(1)}, k);
        }
        device = be->device();
        if (peak == 0)
          peak =
              backend == BackendKind::cpu ? measured_cpu_dgemm_tflops() : known_peak_tflops(device);
        be->set_state(detail::initial_state(n, 1));
        be->set_basis(detail::initial_basis(n, k, 1));
        be->reorthonormalize(false);
        std::int64_t step = 0;
        const int steps = n >= 8192 ? 2 : 5;
        const double s_step = time_per_call(
            [&] {
              be->advance_tangent(step, steps);
              step += steps;
              be->reorthonormalize(false);   // keeps the basis bounded; subtracted below
              be->take_log_sums_blocking();  // synchronises
            },
            1);
        const double s_qr = time_per_call(
            [&] {
              be->reorthonormalize(true);
              be->take_log_sums_blocking();
            },
            1);
        const double step_only = (s_step - s_qr) / steps;
        const double nd = n, kd = k;
        const double f_step = 2 * nd * nd * kd;
        const double f_qr = qr == QrMethod::cholesky2 ? 2 * (2 * nd * kd * kd + kd * kd * kd / 3)
                                                      : 4 * nd * kd * kd - 4 * kd * kd * kd / 3;
        for (auto [op, s, f] : {std::tuple{"tangent_step", step_only, f_step},
                                std::tuple{"reorthonormalize", s_qr, f_qr}}) {
          const double tf = f / s * 1e-12;
          std::fprintf(csv, "%s,\"%s\",%s,%s,%d,%d,%s,%.6e,%.4f,%.4f\n", be->name().c_str(),
                       device.c_str(), std::string(to_string(precision)).c_str(),
                       std::string(to_string(qr)).c_str(), n, k, op, s, tf,
                       peak > 0 ? tf / peak : 0.0);
          std::printf("%-6s %6d %6d  %-16s %9.3e %9.3f %7.1f%%\n", be->name().c_str(), n, k, op, s,
                      tf, peak > 0 ? 100 * tf / peak : 0.0);
        }
        std::fflush(stdout);
        std::fflush(csv);  // a run cut short by a timeout keeps its rows
      } catch (const InvalidInput& e) {
        std::printf("%-6s %6d %6d  skipped: %s\n", to_string(backend).data(), n, k, e.what());
      }
    }
  }
  std::fclose(csv);
  std::printf("device: %s; peak used for the fraction: %.3f TFLOP/s%s; wrote %s\n", device.c_str(),
              peak, backend == BackendKind::cpu ? " (measured dgemm)" : "", out.c_str());
  return 0;
}
