// The options `spectrum` and `sweep` share, as the command line gives them (SpectrumArgs) and as
// the library takes them (SpectrumOptions): their definitions, their resolution into the library's
// options, and the refusal of an option that does not apply (README, "Errors").
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "rnnlyap/options.hpp"

namespace rnnlyap::cli {

// The library's default of a choice, as the command line spells it.
template <class Enum>
std::string default_choice(Enum SpectrumOptions::*member) {
  return std::string(to_string(SpectrumOptions{}.*member));
}

struct SpectrumArgs {
  std::string model = default_choice(&SpectrumOptions::model),
              integrator = default_choice(&SpectrumOptions::integrator),
              weights = default_choice(&SpectrumOptions::weights),
              backend = default_choice(&SpectrumOptions::backend),
              precision = default_choice(&SpectrumOptions::precision),
              qr = default_choice(&SpectrumOptions::qr);
  std::string out, trace, checkpoint, resume, npz, clv;
  double clv_transient = 0;
  std::string seed = "1";  // parsed by parse_seed: the whole range 0 ... 2^64 - 1, nothing else
  std::string network_seed, state_seed, basis_seed, noise_seed;
  std::string nonlinearity = default_choice(&SpectrumOptions::nonlinearity);  // rnn: tanh | relu
  std::string shard;                                                          // --shard I/N
  std::string distribute_network;  // --distribute-network PRxPC
  double checkpoint_every = 300;
  bool quiet = false;
  int k = 0;
};

/// Options shared by `spectrum` and `sweep`.
void add_common_options(CLI::App& sub, SpectrumOptions& o, SpectrumArgs& a);
/// `spectrum`'s options: the common ones, then its own.
void add_spectrum_options(CLI::App& sub, SpectrumOptions& o, SpectrumArgs& a);

/// Whether `flag` is an option of `sub` and was given.
bool given(const CLI::App& sub, const char* flag);

/// The library's options from the command line's: choices parsed, seeds read, options that do not
/// apply to the model refused.
void resolve(SpectrumOptions& o, const SpectrumArgs& a, const CLI::App& sub);
/// On --resume the options come from the checkpoint; only where and how verbosely to run may
/// change.
void resume_options(SpectrumOptions& o, const SpectrumArgs& a, const CLI::App& sub);

/// Options naming a file must not be given an empty name ("--resume ''" is not a fresh run); no
/// option takes an empty value (CLI11 would read "" as 0 for a number).
void require_names(const CLI::App& sub, std::initializer_list<const char*> names);

}  // namespace rnnlyap::cli
