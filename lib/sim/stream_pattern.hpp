#pragma once
// The byte stream of a transfer test: byte i of the stream with key k is a
// pure function of (k, i), so the sender fills its send ring from it and the
// receiver checks every span it reads against it at the span's own stream
// offset -- no copy of what was sent is kept. A lost, duplicated, reordered
// or corrupted byte shows up as the first offset where the two disagree.
//
// Each aligned 8-byte word is a strong 64-bit mix (the splitmix64 finaliser)
// of the key and the word's index, so a block delivered at the wrong offset
// (any shift, any multiple of 8) or from the other direction's stream (other
// key) does not match by accident.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace shoal::sim {

class StreamPattern {
public:
  explicit StreamPattern(uint64_t key = 0) : key_(key) {}
  uint64_t key() const { return key_; }

  // The byte at stream offset `offset`.
  uint8_t at(uint64_t offset) const;
  // Writes the stream's bytes [offset, offset + out.size()) into `out`.
  void fill(uint64_t offset, std::span<uint8_t> out) const;
  // The index (within `bytes`) of the first byte that differs from the
  // stream at [offset, offset + bytes.size()); nullopt when all match.
  std::optional<size_t> mismatch(uint64_t offset, std::span<const uint8_t> bytes) const;

private:
  uint64_t word(uint64_t index) const;
  uint64_t key_;
};

} // namespace shoal::sim
