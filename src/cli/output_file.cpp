#include "output_file.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "rnnlyap/errors.hpp"

namespace rnnlyap::cli {
namespace {

// Temporary names for the signal handler; fixed-size storage because a handler may not allocate.
std::array<std::array<char, 4096>, 4> g_pending{};

void register_pending(const std::string& tmp) {
  for (auto& slot : g_pending)
    if (slot[0] == '\0' && tmp.size() < slot.size()) {
      std::memcpy(slot.data(), tmp.c_str(), tmp.size() + 1);
      return;
    }
}

void unregister_pending(const std::string& tmp) {
  for (auto& slot : g_pending)
    if (tmp == slot.data()) slot[0] = '\0';
}

}  // namespace

OutputFile::OutputFile(std::string path) : path_(std::move(path)) {
  tmp_ = path_ + ".tmp." + std::to_string(::getpid());
  file_ = std::fopen(tmp_.c_str(), "w");
  if (!file_) throw InvalidInput("cannot write " + path_ + ": " + std::strerror(errno));
  register_pending(tmp_);
}

OutputFile::~OutputFile() {
  if (file_) {
    std::fclose(file_);
    std::remove(tmp_.c_str());
    unregister_pending(tmp_);
  }
}

void OutputFile::commit() {
  const bool ok = std::fflush(file_) == 0 && !std::ferror(file_);
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  unregister_pending(tmp_);
  if (!ok || !closed || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp_.c_str());
    throw InvalidInput("cannot write " + path_ + ": " + why);
  }
}

void remove_pending_outputs_from_signal_handler() {
  for (auto& slot : g_pending)
    if (slot[0] != '\0') ::unlink(slot.data());
}

}  // namespace rnnlyap::cli
