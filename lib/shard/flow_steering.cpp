#include "shard/flow_steering.hpp"

#include <bit>
#include <cstring>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_random.h>
#include <rte_thash.h>

namespace shoal::shard {

namespace {

// rte_softrss_be wants the key as host-order 32-bit words (rte_convert_rss_key)
// so that it can skip a byte swap per input bit; the result is the same hash
// as rte_softrss over the key bytes.
struct ConvertedKey {
  std::array<uint32_t, kRssKeyLen / 4> w{};
  explicit ConvertedKey(const RssKey &key) {
    std::array<uint32_t, kRssKeyLen / 4> raw{};
    std::memcpy(raw.data(), key.data(), kRssKeyLen);
    rte_convert_rss_key(raw.data(), w.data(), static_cast<int>(kRssKeyLen));
  }
};

const ConvertedKey &converted_symmetric_key() {
  static const ConvertedKey k(symmetric_rss_key());
  return k;
}

// The RSS input for IPv4/TCP as rte_softrss reads it: three host-order words,
// src addr, dst addr, (src port << 16 | dst port) -- rte_ipv4_tuple's layout.
uint32_t hash_words(const ConvertedKey &key, uint32_t src, uint32_t dst, uint32_t ports) {
  alignas(16) rte_thash_tuple t{};
  t.v4.src_addr = src;
  t.v4.dst_addr = dst;
  t.v4.sport = static_cast<uint16_t>(ports >> 16);
  t.v4.dport = static_cast<uint16_t>(ports);
  return rte_softrss_be(reinterpret_cast<uint32_t *>(&t.v4), RTE_THASH_V4_L4_LEN,
                        reinterpret_cast<const uint8_t *>(key.w.data()));
}

uint32_t hash_of(const ConvertedKey &key, const Ipv4FlowTuple &f) {
  return hash_words(key, f.src_addr.v, f.dst_addr.v,
                    (uint32_t{f.src_port} << 16) | uint32_t{f.dst_port});
}

} // namespace

const RssKey &symmetric_rss_key() {
  static const RssKey key = [] {
    RssKey k{};
    for (size_t i = 0; i < k.size(); i += 2) {
      k[i] = 0x6d;
      k[i + 1] = 0x5a;
    }
    return k;
  }();
  return key;
}

uint32_t rss_hash(const Ipv4FlowTuple &f, const RssKey &key) {
  if (&key == &symmetric_rss_key())
    return hash_of(converted_symmetric_key(), f);
  return hash_of(ConvertedKey(key), f);
}

Reta Reta::round_robin(uint16_t n_queues, uint16_t size) {
  Reta r;
  if (n_queues == 0)
    n_queues = 1;
  if (size == 0 || !std::has_single_bit(size))
    size = kSoftwareSize;
  r.n_queues_ = n_queues;
  r.mask_ = size - 1u;
  r.entries_.resize(size);
  for (uint16_t j = 0; j < size; j++)
    r.entries_[j] = static_cast<uint16_t>(j % n_queues);
  return r;
}

uint16_t owner_shard(const Ipv4FlowTuple &f, uint16_t n_shards, const Reta &reta) {
  if (n_shards <= 1)
    return 0;
  const uint16_t q = reta.queue_of(hash_of(converted_symmetric_key(), f));
  // A RETA naming more queues than there are shards would be a set-up bug;
  // fold it rather than index past the shard array.
  return q < n_shards ? q : static_cast<uint16_t>(q % n_shards);
}

rte_eth_rss_conf rss_conf(uint64_t device_rss_offloads) {
  rte_eth_rss_conf c{};
  // The ethdev API takes a non-const pointer but only reads the key.
  c.rss_key = const_cast<uint8_t *>(symmetric_rss_key().data());
  c.rss_key_len = kRssKeyLen;
  c.rss_hf = kRssHashFunctions & device_rss_offloads;
  return c;
}

std::optional<Reta> program_rss(uint16_t port_id, uint16_t n_queues, bool *hardware,
                                std::string *error) {
  *hardware = false;
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port_id, &info); rc != 0) {
    *error = "port " + std::to_string(port_id) + ": rte_eth_dev_info_get: " + rte_strerror(-rc);
    return std::nullopt;
  }
  if (n_queues <= 1 || info.reta_size == 0 ||
      (info.flow_type_rss_offloads & kRssHashFunctions) == 0)
    return Reta::round_robin(n_queues);
  if (!std::has_single_bit(info.reta_size) || info.reta_size % RTE_ETH_RETA_GROUP_SIZE != 0) {
    *error = "port " + std::to_string(port_id) + ": RETA size " + std::to_string(info.reta_size) +
             " is not a power-of-two multiple of " + std::to_string(RTE_ETH_RETA_GROUP_SIZE);
    return std::nullopt;
  }
  if (info.hash_key_size != 0 && info.hash_key_size != kRssKeyLen) {
    *error = "port " + std::to_string(port_id) + ": RSS key size " +
             std::to_string(info.hash_key_size) + ", shoal's symmetric key has " +
             std::to_string(kRssKeyLen);
    return std::nullopt;
  }
  rte_eth_rss_conf conf = rss_conf(info.flow_type_rss_offloads);
  if (int rc = rte_eth_dev_rss_hash_update(port_id, &conf); rc != 0) {
    *error =
        "port " + std::to_string(port_id) + ": rte_eth_dev_rss_hash_update: " + rte_strerror(-rc);
    return std::nullopt;
  }
  Reta reta = Reta::round_robin(n_queues, info.reta_size);
  std::vector<rte_eth_rss_reta_entry64> groups(info.reta_size / RTE_ETH_RETA_GROUP_SIZE);
  for (size_t j = 0; j < reta.size(); j++) {
    auto &g = groups[j / RTE_ETH_RETA_GROUP_SIZE];
    g.mask = ~uint64_t{0};
    g.reta[j % RTE_ETH_RETA_GROUP_SIZE] = reta.entries()[j];
  }
  if (int rc = rte_eth_dev_rss_reta_update(port_id, groups.data(), info.reta_size); rc != 0) {
    *error =
        "port " + std::to_string(port_id) + ": rte_eth_dev_rss_reta_update: " + rte_strerror(-rc);
    return std::nullopt;
  }
  *hardware = true;
  return reta;
}

std::optional<uint16_t> choose_ephemeral_port(wire::Ipv4Addr local, wire::Ipv4Addr remote,
                                              uint16_t rport, uint16_t shard, uint16_t n_shards,
                                              const Reta &reta, PortInUse in_use,
                                              uint32_t random_start, PortRange range) {
  if (range.first == 0 || range.first > range.last || (n_shards > 1 && shard >= n_shards))
    return std::nullopt;
  const uint32_t count = uint32_t{range.last} - range.first + 1;
  const uint32_t start = random_start % count;

  // The reply packet: remote -> local, our port as the destination port.
  // Toeplitz is linear: H(t ^ d) = H(t) ^ H(d), and H(0) = 0. So the hash with
  // port p is base ^ XOR of bit[b] for each set bit b of p.
  const ConvertedKey &key = converted_symmetric_key();
  const uint32_t base = hash_words(key, remote.v, local.v, uint32_t{rport} << 16);
  std::array<uint32_t, 16> bit{};
  for (unsigned b = 0; b < 16; b++)
    bit[b] = hash_words(key, 0, 0, uint32_t{1} << b);

  for (uint32_t i = 0; i < count; i++) {
    const auto port = static_cast<uint16_t>(range.first + (start + i) % count);
    if (n_shards > 1) {
      uint32_t h = base;
      for (uint32_t m = port; m != 0; m &= m - 1)
        h ^= bit[static_cast<unsigned>(std::countr_zero(m))];
      const uint16_t q = reta.queue_of(h);
      if ((q < n_shards ? q : q % n_shards) != shard)
        continue;
    }
    if (!in_use(port))
      return port;
  }
  return std::nullopt;
}

std::optional<uint16_t> choose_ephemeral_port(wire::Ipv4Addr local, wire::Ipv4Addr remote,
                                              uint16_t rport, uint16_t shard, uint16_t n_shards,
                                              const Reta &reta, PortInUse in_use, PortRange range) {
  return choose_ephemeral_port(local, remote, rport, shard, n_shards, reta, in_use,
                               static_cast<uint32_t>(rte_rand()), range);
}

} // namespace shoal::shard
