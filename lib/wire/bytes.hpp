#pragma once
// Network byte order loads and stores at arbitrary (unaligned) offsets. Every
// wire parser reads through these after checking the span is long enough, so
// there are no casts of packet memory to wider types.
#include <cstdint>
#include <cstring>

#include <rte_byteorder.h>

namespace shoal::wire {

inline uint16_t load_be16(const uint8_t *p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return rte_be_to_cpu_16(v);
}

inline uint32_t load_be32(const uint8_t *p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return rte_be_to_cpu_32(v);
}

inline void store_be16(uint8_t *p, uint16_t v) {
  const uint16_t be = rte_cpu_to_be_16(v);
  std::memcpy(p, &be, sizeof be);
}

inline void store_be32(uint8_t *p, uint32_t v) {
  const uint32_t be = rte_cpu_to_be_32(v);
  std::memcpy(p, &be, sizeof be);
}

} // namespace shoal::wire
