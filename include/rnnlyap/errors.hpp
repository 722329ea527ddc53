// Exceptions thrown by rnnlyap. Vendor status codes are kept as integers so that this header needs
// no CUDA or BLAS header (docs/design.md).
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

namespace rnnlyap {

enum class OptionId;  // rnnlyap/option_table.hpp
enum class Spelling;

/// Base of every rnnlyap exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The user's input is invalid (options, files, sizes). The program exits with status 2.
class InvalidInput : public Error {
 public:
  using Error::Error;
  /// A message about option `id`: its name, then `value` unless empty, then `text` (" must be
  /// ..."). what() names the option as the command line does ("--t-ons 0.25 is not ..."),
  /// message(Spelling::python) as Python does ("t_ons=0.25 is not ...").
  InvalidInput(OptionId id, std::string value, std::string text);
  /// The option the message is about, when it was made with one.
  std::optional<OptionId> option() const { return option_; }
  /// The message with the option named as front end `s` spells it.
  std::string message(Spelling s) const;

 private:
  std::optional<OptionId> option_;
  std::string value_, text_;
};

/// A backend that was asked for is not available (not compiled in, or no device present).
class BackendUnavailable : public InvalidInput {
 public:
  using InvalidInput::InvalidInput;
};

/// The run does not fit in the memory where it would run: refused by the memory check before
/// anything was allocated, or an allocation failed (OutOfDeviceMemory). Exit status 2. Under
/// `--backend auto` the run goes to the CPU instead, and a batch of trained sequences is halved.
class DoesNotFit : public InvalidInput {
 public:
  using InvalidInput::InvalidInput;
};

/// A GPU allocation failed (cudaMalloc's cudaErrorMemoryAllocation, or a vendor library's
/// allocation failure): others took the memory after the check, or the check fell short.
class OutOfDeviceMemory : public DoesNotFit {
 public:
  using DoesNotFit::DoesNotFit;
};

/// A run was stopped on request (SIGINT/SIGTERM) after writing its checkpoint.
class Interrupted : public Error {
 public:
  using Error::Error;
};

/// A vendor library (BLAS/LAPACK, CUDA runtime, cuBLAS, cuSOLVER) reported a failure.
class VendorError : public Error {
 public:
  VendorError(const std::string& api, int status, const std::string& what, const char* file,
              int line)
      : Error(api + " error " + std::to_string(status) + " (" + what + ") at " +
              source_relative(file) + ":" + std::to_string(line)),
        status_(status) {}
  /// The vendor's numeric status code.
  int status() const noexcept { return status_; }

 private:
  /// The path within the project ("src/cuda/x.hpp"), never the build machine's absolute path.
  static std::string source_relative(const char* file) {
    const std::string f = file;
    const std::size_t at = f.rfind("/src/");
    return at == std::string::npos ? f.substr(f.find_last_of('/') + 1) : f.substr(at + 1);
  }
  int status_;
};

}  // namespace rnnlyap
