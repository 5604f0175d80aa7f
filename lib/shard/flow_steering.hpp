#pragma once
// Flow steering: which shard owns a TCP/IPv4 4-tuple, and how a shard picks an
// ephemeral port so that the replies to its connect() come back to it.
//
// The owner is what a NIC computes for receive-side scaling (Microsoft RSS
// spec, "Toeplitz hash"): hash = Toeplitz(key, src addr | dst addr | src port
// | dst port), queue = RETA[hash mod RETA size]. shoal computes the same thing
// in software (rte_softrss), so on a NIC programmed with program_rss() the
// hardware and the software agree, and on a device without Toeplitz RSS (TAP,
// net_ring) the software answer alone decides and a packet that arrives on the
// wrong queue is handed to its owner (shard/handoff.hpp).
//
// The key is symmetric (Woo & Park, "Scalable TCP Session Monitoring with
// Symmetric Receive-side Scaling", 2012): 0x6d5a repeated. Its bit pattern
// repeats every 16 bits, and the address and port fields start on 16-bit
// boundaries, so swapping (src addr, src port) with (dst addr, dst port)
// leaves the hash unchanged: both directions of a connection land on the same
// queue, hence the same shard. Shard i polls rx queue i.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <rte_ethdev.h>

#include "wire/addr.hpp"

namespace shoal::shard {

// 40 bytes: the key length every RSS-capable NIC accepts for IPv4/IPv6.
inline constexpr size_t kRssKeyLen = 40;
using RssKey = std::array<uint8_t, kRssKeyLen>;

// 0x6d, 0x5a repeated 20 times.
const RssKey &symmetric_rss_key();

// The hash types shoal asks for: TCP over IPv4 hashed on the 4-tuple.
// (Fragments would hash on addresses only, but shoal drops fragments.)
inline constexpr uint64_t kRssHashFunctions = RTE_ETH_RSS_NONFRAG_IPV4_TCP;

// A TCP/IPv4 flow as the NIC sees a packet of it: source and destination as
// they appear in that packet's headers.
struct Ipv4FlowTuple {
  wire::Ipv4Addr src_addr, dst_addr;
  uint16_t src_port = 0, dst_port = 0;

  Ipv4FlowTuple reversed() const { return {dst_addr, src_addr, dst_port, src_port}; }
  bool operator==(const Ipv4FlowTuple &) const = default;
};

// Toeplitz hash of the tuple under `key` (the RSS input order: src addr, dst
// addr, src port, dst port; exactly what rte_softrss computes over an
// rte_ipv4_tuple).
uint32_t rss_hash(const Ipv4FlowTuple &, const RssKey &key = symmetric_rss_key());

// The NIC's redirection table: entry j names the rx queue for hashes whose low
// bits are j. Its size is a power of two (64, 128, 512 ... on real NICs).
class Reta {
public:
  // The RETA size used where the device has none (TAP, net_ring): the answer
  // is then purely a software convention, shared by rx steering and
  // choose_ephemeral_port.
  static constexpr uint16_t kSoftwareSize = 128;

  // Entry j = j % n_queues: every queue gets an equal share of the hash space
  // (to within one entry). size must be a power of two; n_queues >= 1.
  static Reta round_robin(uint16_t n_queues, uint16_t size = kSoftwareSize);

  uint16_t queue_of(uint32_t hash) const { return entries_[hash & mask_]; }
  size_t size() const { return entries_.size(); }
  uint16_t n_queues() const { return n_queues_; }
  const std::vector<uint16_t> &entries() const { return entries_; }

private:
  std::vector<uint16_t> entries_;
  uint32_t mask_ = 0;
  uint16_t n_queues_ = 1;
};

// The shard that owns the flow: the queue the NIC would deliver it on. With
// one shard (single-queue device) always 0, without hashing.
uint16_t owner_shard(const Ipv4FlowTuple &, uint16_t n_shards, const Reta &);

// What lib/dpdk programs into a port that has Toeplitz RSS: rte_eth_conf's
// rxmode.mq_mode = RTE_ETH_MQ_RX_RSS and rx_adv_conf.rss_conf = rss_conf(..)
// at rte_eth_dev_configure, then program_rss() once the port is configured.
// rss_hf is masked with what the device offers (dev_info.flow_type_rss_offloads).
// The returned conf points at the static symmetric key.
rte_eth_rss_conf rss_conf(uint64_t device_rss_offloads);

// Writes the symmetric key (rte_eth_dev_rss_hash_update, in case the conf at
// configure time was not ours) and the round-robin RETA (queue j % n_queues at
// entry j) into the port, and returns the Reta that owner_shard() must use with it. A device
// without a RETA (reta_size 0: TAP, net_ring, net_null) gets Reta::round_robin over the software
// size instead and *hardware is set to false: the shard must then check ownership of every packet
// and hand off what it does not own. nullopt and a reason in *error if the device refuses the
// table.
std::optional<Reta> program_rss(uint16_t port_id, uint16_t n_queues, bool *hardware,
                                std::string *error);

// The range connect() draws ephemeral ports from (Linux's default
// net.ipv4.ip_local_port_range; RFC 6056 section 2.1 recommends 1024-65535).
struct PortRange {
  uint16_t first = 32768, last = 60999;
};

// A non-owning reference to a callable `bool(uint16_t port)`, so that
// choosing a port allocates nothing.
class PortInUse {
public:
  template <typename F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, PortInUse>)
      PortInUse(F &&f) // NOLINT: implicit on purpose, like std::function_ref
      : obj_(const_cast<void *>(static_cast<const void *>(&f))), call_([](void *o, uint16_t port) {
          return static_cast<bool>((*static_cast<std::remove_reference_t<F> *>(o))(port));
        }) {}
  bool operator()(uint16_t port) const { return call_(obj_, port); }

private:
  void *obj_;
  bool (*call_)(void *, uint16_t);
};

// An ephemeral local port for a connection local:? -> remote:rport such that
// the flow maps to `shard` (owner_shard of the reply, remote -> local, which
// the symmetric key makes the same as the outgoing direction) and
// in_use(port) is false. The scan starts at `random_start` within the range
// (RFC 6056 section 3.3.2: random start, then sequential, so ports are not
// predictable), and costs O(n_shards) hash evaluations on average: the
// Toeplitz hash is linear over GF(2), so the hash of each candidate is the
// hash with port 0 XOR the port bits' contributions, computed once.
// nullopt when no free port in the range maps to the shard.
std::optional<uint16_t> choose_ephemeral_port(wire::Ipv4Addr local, wire::Ipv4Addr remote,
                                              uint16_t rport, uint16_t shard, uint16_t n_shards,
                                              const Reta &, PortInUse in_use, uint32_t random_start,
                                              PortRange = {});
// The same with random_start drawn from rte_rand().
std::optional<uint16_t> choose_ephemeral_port(wire::Ipv4Addr local, wire::Ipv4Addr remote,
                                              uint16_t rport, uint16_t shard, uint16_t n_shards,
                                              const Reta &, PortInUse in_use, PortRange = {});

} // namespace shoal::shard
