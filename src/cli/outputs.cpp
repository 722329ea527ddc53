#include "outputs.hpp"

#include <sys/stat.h>

#include <cerrno>

#include "rnnlyap/errors.hpp"

namespace rnnlyap::cli {

void Outputs::add(std::string flag, std::string path) {
  if (!path.empty()) outputs_.push_back({{std::move(flag), std::move(path)}, nullptr});
}

void Outputs::add_read_back(std::string flag, std::string path) {
  if (!path.empty()) outputs_.push_back({{std::move(flag), std::move(path), true}, nullptr});
}

void Outputs::add_input(std::string flag, std::string path) {
  if (!path.empty()) inputs_.push_back({std::move(flag), std::move(path)});
}

void Outputs::check() const {
  std::vector<io::PathOption> outputs;
  for (const Output& o : outputs_) outputs.push_back(o.path);
  io::check_paths(outputs, inputs_);
}

void Outputs::open() {
  for (Output& o : outputs_)
    if (!o.path.file_only) o.file = std::make_unique<io::OutputFile>(o.path.option, o.path.path);
}

const Outputs::Output* Outputs::find(const std::string& flag) const {
  for (const Output& o : outputs_)
    if (o.path.option == flag) return &o;
  return nullptr;
}

io::OutputFile* Outputs::file(const std::string& flag) const {
  const Output* o = find(flag);
  return o ? o->file.get() : nullptr;
}

bool Outputs::has(const std::string& flag) const {
  return find(flag) != nullptr;
}

void Outputs::commit(const std::vector<Written>& in_order) {
  for (const Written& w : in_order) {
    io::OutputFile* f = file(w.flag);
    if (!f) continue;
    if (w.writer) f->write(w.writer());
    f->commit();
  }
}

bool names_a_file(const std::string& path) {
  if (path.empty() || path == "-" || io::named_descriptor(path) >= 0) return false;
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? S_ISREG(st.st_mode) : errno == ENOENT;
}

void require_unit_file(const std::string& out) {
  if (out.empty() || out == "-" || io::named_descriptor(out) >= 0)
    throw InvalidInput("--shard writes its units to the file --out: give one");
  io::check_paths({{"--out", out, true}}, {});
}

}  // namespace rnnlyap::cli
