// The reference step of a trained network (cell_reference.hpp).
#include "cell_reference.hpp"

#include <algorithm>

#include "../elementwise.hpp"

namespace rnnlyap::detail {

std::vector<double> cell_step(const CellNetwork& net, std::span<const double> state,
                              std::span<const double> x) {
  const int n = net.hidden, gn = net.gates() * n, per = net.layer_state_size();
  const bool relu = net.type == Model::rnn && net.nonlinearity == Nonlinearity::relu;
  std::vector<double> out(state.begin(), state.end());
  for (int l = 0; l < net.num_layers(); ++l) {
    const CellLayer& w = net.layer(l);
    // Layer 0 reads the input, layer l > 0 the new h of layer l − 1.
    const std::span<const double> in =
        l == 0 ? x : std::span<const double>(out).subspan(static_cast<std::size_t>(l - 1) * per, n);
    const std::span<const double> s = state.subspan(static_cast<std::size_t>(l) * per, per);
    double* o = out.data() + static_cast<std::size_t>(l) * per;
    const int ni = l == 0 ? net.input_size : n;
    std::vector<double> gi(gn), gh(gn);
    for (int r = 0; r < gn; ++r) {
      double a = w.b_ih.empty() ? 0 : w.b_ih[r], b = w.b_hh.empty() ? 0 : w.b_hh[r];
      for (int j = 0; j < ni; ++j) a += w.w_ih[static_cast<std::size_t>(r) * ni + j] * in[j];
      for (int j = 0; j < n; ++j) b += w.w_hh[static_cast<std::size_t>(r) * n + j] * s[j];
      gi[r] = a;
      gh[r] = b;
    }
    for (int i = 0; i < n; ++i) {
      if (net.type == Model::rnn) {
        o[i] = relu ? std::max(gi[i] + gh[i], 0.0) : phi(gi[i] + gh[i]);
      } else if (net.type == Model::gru) {
        const double r = sigmoid(gi[i] + gh[i]), z = sigmoid(gi[n + i] + gh[n + i]);
        const double nn = phi(gi[2 * n + i] + r * gh[2 * n + i]);
        o[i] = (1 - z) * nn + z * s[i];
      } else {
        const double ig = sigmoid(gi[i] + gh[i]), fg = sigmoid(gi[n + i] + gh[n + i]);
        const double gg = phi(gi[2 * n + i] + gh[2 * n + i]),
                     og = sigmoid(gi[3 * n + i] + gh[3 * n + i]);
        o[n + i] = fg * s[n + i] + ig * gg;
        o[i] = og * phi(o[n + i]);
      }
    }
  }
  return out;
}

}  // namespace rnnlyap::detail
