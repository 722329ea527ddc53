// Ensemble throughput: B small networks as one batch (compute_ensemble, which batches them on a
// GPU) against separate runs (compute_spectrum per seed, in the same process, so no start-up cost
// is counted). Prints networks per second both ways and the ratio; the target on a GPU is
// ≥ 20× at B = 1000, N = 100.
//   rnnlyap_ensemble_bench [--backend cpu|cuda] [--device I] [--n 100] [--ensemble 1000]
//                          [--separate 20] [--t-sim 100] [--t-ons-warmup 20] [--t-warmup 20]
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "rnnlyap/spectrum.hpp"

using namespace rnnlyap;
using Clock = std::chrono::steady_clock;

namespace {

int run(int argc, char** argv) {
  SpectrumOptions o;
  o.n = 100;
  o.g = 3;
  o.t_sim = 100;
  o.t_ons_warmup = 20;
  o.t_warmup = 20;
  int ensemble = 1000, separate = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--backend")
      o.backend = v == "cuda" ? BackendKind::cuda : BackendKind::cpu;
    else if (a == "--device")
      o.device = std::stoi(v);
    else if (a == "--n")
      o.n = std::stoi(v);
    else if (a == "--ensemble")
      ensemble = std::stoi(v);
    else if (a == "--separate")
      separate = std::stoi(v);
    else if (a == "--t-sim")
      o.t_sim = std::stod(v);
    else if (a == "--t-ons-warmup")
      o.t_ons_warmup = std::stod(v);
    else if (a == "--t-warmup")
      o.t_warmup = std::stod(v);
    else {
      std::fprintf(stderr, "rnnlyap_ensemble_bench: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  compute_spectrum(o);  // warm-up: handles, first-touch
  auto t0 = Clock::now();
  for (int s = 0; s < separate; ++s) {
    o.seed = 100 + static_cast<std::uint64_t>(s);
    compute_spectrum(o);
  }
  const double sep = std::chrono::duration<double>(Clock::now() - t0).count() / separate;
  o.seed = 1;
  o.ensemble = ensemble;
  t0 = Clock::now();
  const EnsembleResult e = compute_ensemble(o);
  const double bat = std::chrono::duration<double>(Clock::now() - t0).count() / ensemble;
  std::printf("backend %s (%s), N = %d, %lld tangent steps per network\n",
              e.members.front().backend.c_str(), e.members.front().device.c_str(), o.n,
              static_cast<long long>(e.members.front().timing.tangent_steps));
  std::printf("separate runs: %8.2f networks/s  (%d runs)\n", 1 / sep, separate);
  std::printf("ensemble %4d: %8.2f networks/s\n", ensemble, 1 / bat);
  std::printf("throughput ratio (ensemble / separate): %.1fx\n", sep / bat);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rnnlyap_ensemble_bench: %s\n", e.what());
    return 2;
  }
}
