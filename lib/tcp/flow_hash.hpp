#pragma once
// flow_hash: the keyed hash of a 4-tuple that places it in the shard's
// tables (ConnTable for connections, the TIME_WAIT index, the cookie replay
// table). Keyed with the engine's secret so that a remote peer cannot aim
// many tuples at one probe chain.
#include <cstdint>

#include "tcp/engine.hpp"

namespace shoal::tcp {

inline uint64_t flow_hash(const FourTuple &t, uint64_t key) {
  // Two rounds of a 64-bit multiply-xorshift mixer over the packed tuple.
  uint64_t a = (uint64_t{t.local_addr.v} << 32 | t.remote_addr.v) ^ key;
  uint64_t b = (uint64_t{t.local_port} << 16 | t.remote_port) ^ (key * 0x9e3779b97f4a7c15ull);
  uint64_t h = a * 0x9e3779b97f4a7c15ull;
  h ^= h >> 29;
  h += b;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 29;
  return h;
}

} // namespace shoal::tcp
