// Every file a command writes, in one place: each output is added with the option that named it,
// all of them are checked (with the inputs) before anything is computed, opened before the run (a
// bad path fails now, not after hours), and written and committed at the end, so that an output
// appears complete or not at all (io/output_file.hpp).
//
// A new output format is one writer (the function that makes its bytes from the result) and one
// added output; the command hands the writer to commit() where the output's turn comes.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/output_file.hpp"

namespace rnnlyap::cli {

class Outputs {
 public:
  /// An output the command writes, named by `flag`; an empty path: not given, nothing added.
  /// Outputs are checked and opened in the order they were added.
  void add(std::string flag, std::string path);
  /// A file the library writes and reads back (a checkpoint, a unit or partial file): checked
  /// with the others (a regular file or a new one), never opened here.
  void add_read_back(std::string flag, std::string path);
  /// An input file (checked to be a regular file that no output names); empty: not given.
  void add_input(std::string flag, std::string path);

  /// io::check_paths over everything added so far: throws InvalidInput (exit 2) naming the option.
  void check() const;
  /// Opens every output added with add() (io::OutputFile), in order.
  void open();
  /// The open output `flag`, for a command that writes it as the run goes (the trace); nullptr
  /// when it was not given.
  io::OutputFile* file(const std::string& flag) const;
  /// Whether the output `flag` was given.
  bool has(const std::string& flag) const;

  /// An output's turn at the end: its bytes made by `writer` (called only when the output was
  /// given), or no writer for one already written as the run went.
  struct Written {
    std::string flag;
    std::function<std::string()> writer;
  };
  /// Writes and commits the outputs in this order, each before the next is written (a failure,
  /// exit 1, leaves the later ones unwritten: the result JSON goes last where it must never stand
  /// beside a failed output). Outputs not given are skipped.
  void commit(const std::vector<Written>& in_order);

 private:
  struct Output {
    io::PathOption path;
    std::unique_ptr<io::OutputFile> file;  // after open(); not for read-back files
  };
  const Output* find(const std::string& flag) const;
  std::vector<Output> outputs_;
  std::vector<io::PathOption> inputs_;
};

/// A path that names a file (existing or to be created), not standard output, a device or a FIFO.
bool names_a_file(const std::string& path);

/// --shard writes its unit file to --out, which merge reads back: a file name (not standard output
/// or a descriptor), and a regular file or a new one (a FIFO, a device or a folder is named as
/// such).
void require_unit_file(const std::string& out);

}  // namespace rnnlyap::cli
