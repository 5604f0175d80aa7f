#pragma once
// Frame plumbing shared by the shard fuzz target and the corpus generator:
// wrapping an IPv4 datagram in Ethernet inside an mbuf, the ARP request a
// peer sends first, and re-stamping the checksums of a datagram whose
// fields a fuzz record rewrote.
#include <cstdint>
#include <span>
#include <vector>

#include <rte_mbuf.h>

#include "wire/addr.hpp"

namespace shoal::fuzz {

// Where the shard fuzz target lives: the engine's shard and the peer.
inline constexpr wire::MacAddr kShardMac{{0x02, 0, 0, 0, 0, 0x01}};
inline constexpr wire::MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 0x02}};
inline constexpr wire::Ipv4Addr kShardIp = wire::Ipv4Addr::from_octets(198, 18, 0, 1);
inline constexpr wire::Ipv4Addr kPeerIp = wire::Ipv4Addr::from_octets(198, 18, 0, 2);

// Ethernet header (peer -> shard, `ethertype`) + `payload`, as bytes.
std::vector<uint8_t> ethernet_frame(uint16_t ethertype, std::span<const uint8_t> payload);
// The peer's "who has kShardIp" (the shard learns the peer's MAC from it).
std::vector<uint8_t> arp_request_from_peer();
// One mbuf holding `frame`; nullptr when the pool is empty or it does not fit.
rte_mbuf *frame_mbuf(rte_mempool *pool, std::span<const uint8_t> frame);
// Recomputes the IPv4 header checksum and, for TCP, the TCP checksum of a
// datagram (bytes from the IPv4 header on) whose lengths are consistent.
// Does nothing to what does not parse far enough.
void restamp_checksums(std::span<uint8_t> datagram);

} // namespace shoal::fuzz
