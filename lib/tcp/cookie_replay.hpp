#pragma once
// ConsumedCookies: the SYN cookies that already built a connection, kept for
// as long as a cookie can validate (two rotation periods), so that a replay
// of a cookie ACK after the connection closed does not build it again.
//
// Why it is needed: a cookie is stateless; while its secret is live, the
// same final ACK validates every time. If the connection it built has gone
// (our LAST_ACK ended it, or a RST, or the TIME_WAIT record is elsewhere),
// a captured or retransmitted cookie ACK would reach the listener and
// recreate a connection the peer has already closed. When the server closed
// first its TIME_WAIT record catches the replay before the listener; this
// record covers every other way the connection may have ended.
//
// Memory is fixed: a power-of-two table of (keyed 64-bit digest of tuple and
// cookie, expiry) allocated on the first cookie validated, probed linearly
// over a short window. Expired entries are free slots. When a window holds
// only live entries the one closest to expiry is overwritten (counted by the
// caller as an eviction: replay protection for that cookie is lost, which
// only happens past `capacity` cookie connections per validity window).
#include <cstdint>
#include <memory>

#include "common/time.hpp"
#include "tcp/engine.hpp"

namespace shoal::tcp {

class ConsumedCookies {
public:
  ConsumedCookies(uint32_t capacity, Duration lifetime, uint64_t key);

  // Records a consumed cookie until now + lifetime. True if an unexpired
  // entry had to be evicted to make room.
  bool insert(const FourTuple &, uint32_t cookie, Instant now);
  // The cookie was consumed within the lifetime.
  bool contains(const FourTuple &, uint32_t cookie, Instant now) const;

  uint32_t capacity() const { return slots_n_; }
  size_t memory_bytes() const { return slots_ ? slots_n_ * sizeof(Slot) : 0; }

private:
  static constexpr uint32_t kProbe = 8;
  struct Slot {
    uint64_t digest = 0; // 0: never used
    int64_t expiry_ns = 0;
  };
  uint64_t digest(const FourTuple &, uint32_t cookie) const;

  uint32_t slots_n_;
  Duration lifetime_;
  uint64_t key_;
  std::unique_ptr<Slot[]> slots_;
};

} // namespace shoal::tcp
