#pragma once
// The in-process target's way back: what a router in front of the server
// would do with its replies. The server's SYN-ACKs to spoofed sources leave
// for the Internet and never reach the legitimate client's host; here they
// are freed in bulk, and only the frames for the client (its IPv4 address,
// or ARP) are passed on to the client stack's rx ring.
//
// Without it the client stack had to receive and drop every SYN-ACK of the
// flood (32 per poll), the ring to it filled whenever that thread was
// preempted, and the server then spent a fifth of its time re-offering
// its tx backlog (perf: Shard::send_backlog).
//
// Runs on the generator's thread (single consumer of `from_server`, single
// producer of `to_client`).
#include <cstdint>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "wire/addr.hpp"

namespace shoal::synflood {

class ReturnPath {
public:
  ReturnPath(rte_ring *from_server, rte_ring *to_client, wire::Ipv4Addr client)
      : from_(from_server), to_(to_client), client_be_(client.to_be()) {}

  // Moves up to `max` frames; returns how many were taken off the wire.
  unsigned drain(unsigned max);

  uint64_t passed() const { return passed_; }   // to the client
  uint64_t dropped() const { return dropped_; } // to spoofed sources (or the client ring full)

private:
  rte_ring *from_, *to_;
  uint32_t client_be_;
  uint64_t passed_ = 0, dropped_ = 0;
};

} // namespace shoal::synflood
