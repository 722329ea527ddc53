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

struct SpectrumArgs {
  std::string model = "rate", integrator = "euler", weights = "gaussian", backend = "auto",
              precision = "fp64", qr = "householder";
  std::string out, trace, checkpoint, resume, npz, clv;
  double clv_transient = 0;
  std::string seed = "1";  // parsed by parse_seed: the whole range 0 ... 2^64 - 1, nothing else
  std::string network_seed, state_seed, basis_seed, noise_seed;
  std::string nonlinearity = "tanh";  // rnn: tanh | relu
  std::string shard;                  // --shard I/N
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
