#include "sim/stream_pattern.hpp"

#include <algorithm>

namespace shoal::sim {

uint64_t StreamPattern::word(uint64_t index) const {
  // splitmix64's finaliser (Steele, Lea, Flood 2014) of key + index.
  uint64_t z = key_ + 0x9e3779b97f4a7c15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint8_t StreamPattern::at(uint64_t offset) const {
  return static_cast<uint8_t>(word(offset / 8) >> (8 * (offset % 8)));
}

// Both go word by word: one mix per 8 stream bytes, the partial words at
// either end included (the byte order at() defines: little-endian).
void StreamPattern::fill(uint64_t offset, std::span<uint8_t> out) const {
  size_t i = 0;
  while (i < out.size()) {
    const uint64_t pos = offset + i;
    const uint64_t w = word(pos / 8);
    const size_t skip = pos % 8;
    const size_t n = std::min<size_t>(8 - skip, out.size() - i);
    for (size_t k = 0; k < n; ++k)
      out[i + k] = static_cast<uint8_t>(w >> (8 * (skip + k)));
    i += n;
  }
}

std::optional<size_t> StreamPattern::mismatch(uint64_t offset,
                                              std::span<const uint8_t> bytes) const {
  size_t i = 0;
  while (i < bytes.size()) {
    const uint64_t pos = offset + i;
    const uint64_t w = word(pos / 8);
    const size_t skip = pos % 8;
    const size_t n = std::min<size_t>(8 - skip, bytes.size() - i);
    if (skip == 0 && n == 8) {
      uint64_t got = 0;
      for (size_t k = 0; k < 8; ++k)
        got |= uint64_t{bytes[i + k]} << (8 * k);
      if (got == w) {
        i += 8;
        continue;
      }
    }
    for (size_t k = 0; k < n; ++k)
      if (bytes[i + k] != static_cast<uint8_t>(w >> (8 * (skip + k))))
        return i + k;
    i += n;
  }
  return std::nullopt;
}

} // namespace shoal::sim
