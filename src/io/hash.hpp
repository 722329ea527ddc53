// The 64-bit FNV-1a hash that rnnlyap's files use to recognise their contents: checkpoint sums,
// network hashes, the checks of unit lines and the identity of a run.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rnnlyap::detail {

/// 64-bit FNV-1a of `size` bytes, continuing from `h`.
inline std::uint64_t fnv1a(const void* data, std::size_t size,
                           std::uint64_t h = 0xcbf29ce484222325ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

}  // namespace rnnlyap::detail
