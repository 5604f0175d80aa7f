// Flow steering: the symmetric Toeplitz key, agreement with rte_softrss and
// with the published RSS verification vectors, the RETA, ephemeral-port choice
// for every shard, and the spread of random flows over shards.
#include <array>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rte_dev.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>
#include <rte_thash.h>

#include "eal_env.hpp"
#include "shard/flow_steering.hpp"

namespace shoal::shard {
namespace {

using wire::Ipv4Addr;

std::string describe(const Ipv4FlowTuple &t) {
  return t.src_addr.to_string() + ":" + std::to_string(t.src_port) + " -> " +
         t.dst_addr.to_string() + ":" + std::to_string(t.dst_port);
}

Ipv4FlowTuple random_tuple(std::mt19937_64 &rng) {
  const uint64_t a = rng(), b = rng();
  return {Ipv4Addr{static_cast<uint32_t>(a)}, Ipv4Addr{static_cast<uint32_t>(a >> 32)},
          static_cast<uint16_t>(b), static_cast<uint16_t>(b >> 16)};
}

// The Toeplitz hash straight from its definition (Microsoft RSS spec): for
// every set bit i of the input (most significant bit of the first byte
// first), XOR in the 32 key bits starting at bit i. Independent of DPDK.
uint32_t reference_toeplitz(const RssKey &key, const Ipv4FlowTuple &t) {
  std::array<uint8_t, 12> in{};
  t.src_addr.to_bytes(&in[0]);
  t.dst_addr.to_bytes(&in[4]);
  in[8] = static_cast<uint8_t>(t.src_port >> 8);
  in[9] = static_cast<uint8_t>(t.src_port);
  in[10] = static_cast<uint8_t>(t.dst_port >> 8);
  in[11] = static_cast<uint8_t>(t.dst_port);
  auto key_bit = [&](size_t i) { return (key[i / 8] >> (7 - i % 8)) & 1u; };
  uint32_t h = 0;
  for (size_t i = 0; i < in.size() * 8; i++) {
    if (((in[i / 8] >> (7 - i % 8)) & 1u) == 0)
      continue;
    uint32_t window = 0;
    for (size_t k = 0; k < 32; k++)
      window = (window << 1) | key_bit(i + k);
    h ^= window;
  }
  return h;
}

// rte_softrss over the raw key bytes and an rte_ipv4_tuple, the way DPDK's
// own documentation uses it.
uint32_t dpdk_softrss(const RssKey &key, const Ipv4FlowTuple &t) {
  alignas(16) rte_thash_tuple tuple{};
  tuple.v4.src_addr = t.src_addr.v;
  tuple.v4.dst_addr = t.dst_addr.v;
  tuple.v4.sport = t.src_port;
  tuple.v4.dport = t.dst_port;
  alignas(4) RssKey k = key;
  return rte_softrss(reinterpret_cast<uint32_t *>(&tuple.v4), RTE_THASH_V4_L4_LEN, k.data());
}

// The key of the Microsoft RSS specification's verification suite.
const RssKey kMicrosoftKey = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
                              0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
                              0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
                              0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

Ipv4Addr ip(const char *s) {
  return *Ipv4Addr::parse(s);
}

TEST(RssKey, IsTheRepeated6d5aPattern) {
  const RssKey &k = symmetric_rss_key();
  for (size_t i = 0; i < k.size(); i++)
    EXPECT_EQ(k[i], i % 2 == 0 ? 0x6d : 0x5a) << "byte " << i;
}

TEST(RssHash, MatchesTheMicrosoftVerificationVectors) {
  struct Vector {
    Ipv4FlowTuple t;
    uint32_t hash;
  };
  // "Verifying the RSS Hash Calculation", IPv4 with TCP ports.
  const Vector vectors[] = {
      {{ip("66.9.149.187"), ip("161.142.100.80"), 2794, 1766}, 0x51ccc178},
      {{ip("199.92.111.2"), ip("65.69.140.83"), 14230, 4739}, 0xc626b0ea},
      {{ip("24.19.198.95"), ip("12.22.207.184"), 12898, 38024}, 0x5c2b394a},
      {{ip("38.27.205.30"), ip("209.142.163.6"), 48228, 2217}, 0xafc7327f},
      {{ip("153.39.163.191"), ip("202.188.127.2"), 44251, 1303}, 0x10e828a2},
  };
  for (const Vector &v : vectors) {
    EXPECT_EQ(rss_hash(v.t, kMicrosoftKey), v.hash) << describe(v.t);
    EXPECT_EQ(dpdk_softrss(kMicrosoftKey, v.t), v.hash) << describe(v.t);
    EXPECT_EQ(reference_toeplitz(kMicrosoftKey, v.t), v.hash) << describe(v.t);
  }
}

TEST(RssHash, AgreesWithRteSoftrssAndTheDefinitionOnRandomTuples) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 20000; i++) {
    const Ipv4FlowTuple t = random_tuple(rng);
    for (const RssKey *key : {&symmetric_rss_key(), &kMicrosoftKey}) {
      const uint32_t h = rss_hash(t, *key);
      ASSERT_EQ(h, dpdk_softrss(*key, t)) << describe(t);
      ASSERT_EQ(h, reference_toeplitz(*key, t)) << describe(t);
    }
  }
}

TEST(RssHash, SymmetricKeyHashesBothDirectionsAlike) {
  std::mt19937_64 rng(2);
  for (int i = 0; i < 100000; i++) {
    const Ipv4FlowTuple t = random_tuple(rng);
    ASSERT_EQ(rss_hash(t), rss_hash(t.reversed())) << describe(t);
  }
  // The check is not vacuous: the Microsoft key is not symmetric.
  const Ipv4FlowTuple t{ip("66.9.149.187"), ip("161.142.100.80"), 2794, 1766};
  EXPECT_NE(rss_hash(t, kMicrosoftKey), rss_hash(t.reversed(), kMicrosoftKey));
}

TEST(Reta, RoundRobinPutsQueueJModNAtEntryJ) {
  const Reta r = Reta::round_robin(3, 128);
  ASSERT_EQ(r.size(), 128u);
  EXPECT_EQ(r.n_queues(), 3);
  for (size_t j = 0; j < r.size(); j++)
    EXPECT_EQ(r.entries()[j], j % 3) << "entry " << j;
  // Only the low 7 bits of the hash index a 128-entry table.
  EXPECT_EQ(r.queue_of(0x12345680u), r.entries()[0]);
  EXPECT_EQ(r.queue_of(0xffffffffu), r.entries()[127]);
  // A size that is not a power of two falls back to the software size.
  EXPECT_EQ(Reta::round_robin(2, 100).size(), Reta::kSoftwareSize);
  EXPECT_EQ(Reta::round_robin(0).n_queues(), 1);
}

TEST(OwnerShard, IsTheRetaEntryOfTheHashAndTheSameBothWays) {
  std::mt19937_64 rng(3);
  const Reta reta = Reta::round_robin(4, 512);
  for (int i = 0; i < 10000; i++) {
    const Ipv4FlowTuple t = random_tuple(rng);
    const uint16_t owner = owner_shard(t, 4, reta);
    ASSERT_EQ(owner, (dpdk_softrss(symmetric_rss_key(), t) & 511u) % 4) << describe(t);
    ASSERT_EQ(owner, owner_shard(t.reversed(), 4, reta)) << describe(t);
  }
  EXPECT_EQ(owner_shard(random_tuple(rng), 1, reta), 0);
}

TEST(OwnerShard, SpreadsRandomFlowsEvenly) {
  for (uint16_t n : {2, 3, 4, 8}) {
    const Reta reta = Reta::round_robin(n);
    std::vector<size_t> per_shard(n), entries_per_shard(n);
    for (uint16_t e : reta.entries())
      entries_per_shard[e]++;
    std::mt19937_64 rng(100 + n);
    constexpr size_t kFlows = 100000;
    for (size_t i = 0; i < kFlows; i++)
      per_shard[owner_shard(random_tuple(rng), n, reta)]++;
    for (uint16_t s = 0; s < n; s++) {
      // The share a shard should get is its share of RETA entries.
      const double expected = double(kFlows) * double(entries_per_shard[s]) / double(reta.size());
      EXPECT_NEAR(double(per_shard[s]), expected, expected * 0.04)
          << n << " shards: shard " << s << " got " << per_shard[s] << " of " << kFlows;
    }
  }
}

TEST(RssConf, PointsAtTheSymmetricKeyAndMasksHashTypes) {
  rte_eth_rss_conf c = rss_conf(~uint64_t{0});
  EXPECT_EQ(c.rss_key_len, kRssKeyLen);
  EXPECT_EQ(c.rss_key, symmetric_rss_key().data());
  EXPECT_EQ(c.rss_hf, RTE_ETH_RSS_NONFRAG_IPV4_TCP);
  EXPECT_EQ(rss_conf(RTE_ETH_RSS_IPV6).rss_hf, 0u);
}

// net_ring has no RETA: the software table decides.
TEST(ProgramRss, DeviceWithoutRetaGetsTheSoftwareTable) {
  shoal::test::ensure_eal();
  rte_ring *r = rte_ring_create("steer_rss_r", 64, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
  ASSERT_NE(r, nullptr);
  const int id = rte_eth_from_rings("steer_rss_ring", &r, 1, &r, 1, 0);
  ASSERT_GE(id, 0);
  bool hardware = true;
  std::string error;
  const auto reta = program_rss(static_cast<uint16_t>(id), 2, &hardware, &error);
  ASSERT_TRUE(reta.has_value()) << error;
  EXPECT_FALSE(hardware);
  EXPECT_EQ(reta->size(), Reta::kSoftwareSize);
  EXPECT_EQ(reta->n_queues(), 2);
  rte_eth_dev_close(static_cast<uint16_t>(id));
  rte_ring_free(r);

  EXPECT_FALSE(program_rss(RTE_MAX_ETHPORTS - 1, 2, &hardware, &error).has_value());
  EXPECT_NE(error, "");
}

// net_null offers a RETA and a Toeplitz key like a NIC: configured the way
// lib/dpdk should (mq_mode RSS, rss_conf()), program_rss writes the key and
// queue j % n at entry j, and the device reports exactly those back.
TEST(ProgramRss, NicWithRetaIsProgrammedWithTheKeyAndRoundRobinTable) {
  shoal::test::ensure_eal();
  ASSERT_EQ(rte_eal_hotplug_add("vdev", "net_null_steer_rss", ""), 0);
  uint16_t port = 0;
  ASSERT_EQ(rte_eth_dev_get_port_by_name("net_null_steer_rss", &port), 0);
  rte_eth_dev_info info{};
  ASSERT_EQ(rte_eth_dev_info_get(port, &info), 0);
  if (info.reta_size == 0)
    GTEST_SKIP() << "this net_null has no RETA";

  bool hardware = false;
  std::string error;
  // Not configured for RSS yet: the device refuses, and says so.
  EXPECT_FALSE(program_rss(port, 3, &hardware, &error).has_value());
  EXPECT_NE(error.find("rss"), std::string::npos) << error;

  rte_eth_conf conf{};
  conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
  conf.rx_adv_conf.rss_conf = rss_conf(info.flow_type_rss_offloads);
  ASSERT_EQ(rte_eth_dev_configure(port, 3, 3, &conf), 0);
  const auto reta = program_rss(port, 3, &hardware, &error);
  ASSERT_TRUE(reta.has_value()) << error;
  EXPECT_TRUE(hardware);
  ASSERT_EQ(reta->size(), info.reta_size);

  std::vector<rte_eth_rss_reta_entry64> groups(info.reta_size / RTE_ETH_RETA_GROUP_SIZE);
  for (auto &g : groups)
    g.mask = ~uint64_t{0};
  ASSERT_EQ(rte_eth_dev_rss_reta_query(port, groups.data(), info.reta_size), 0);
  for (size_t j = 0; j < info.reta_size; j++)
    ASSERT_EQ(groups[j / RTE_ETH_RETA_GROUP_SIZE].reta[j % RTE_ETH_RETA_GROUP_SIZE], j % 3)
        << "RETA entry " << j;

  alignas(4) RssKey key{};
  rte_eth_rss_conf got{};
  got.rss_key = key.data();
  got.rss_key_len = kRssKeyLen;
  ASSERT_EQ(rte_eth_dev_rss_hash_conf_get(port, &got), 0);
  EXPECT_EQ(key, symmetric_rss_key());
  EXPECT_EQ(rte_eal_hotplug_remove("vdev", "net_null_steer_rss"), 0);
}

// For every shard count and every shard: the port chosen for a connect()
// makes both directions of the connection hash to that shard, is free, and is
// found after about n_shards candidates.
TEST(ChooseEphemeralPort, LandsOnTheRequestedShardForEveryShard) {
  const Ipv4Addr local = ip("198.18.0.2");
  std::mt19937_64 rng(4);
  for (uint16_t n : {1, 2, 3, 4, 8, 16}) {
    const Reta reta = Reta::round_robin(n);
    const PortRange range;
    const uint32_t count = uint32_t{range.last} - range.first + 1;
    uint64_t scanned = 0, trials = 0;
    for (uint16_t shard = 0; shard < n; shard++) {
      for (int k = 0; k < 200; k++) {
        const Ipv4Addr remote{static_cast<uint32_t>(rng())};
        const auto rport = static_cast<uint16_t>(rng());
        const auto start = static_cast<uint32_t>(rng());
        const auto port = choose_ephemeral_port(
            local, remote, rport, shard, n, reta, [](uint16_t) { return false; }, start);
        ASSERT_TRUE(port.has_value()) << n << " shards, shard " << shard;
        ASSERT_GE(*port, range.first);
        ASSERT_LE(*port, range.last);
        const Ipv4FlowTuple out{local, remote, *port, rport};
        ASSERT_EQ(owner_shard(out, n, reta), shard) << describe(out) << " with " << n << " shards";
        ASSERT_EQ(owner_shard(out.reversed(), n, reta), shard) << describe(out.reversed());
        scanned += (*port - range.first + count - start % count) % count + 1;
        trials++;
      }
    }
    const double mean = double(scanned) / double(trials);
    EXPECT_LT(mean, 2.0 * n) << n << " shards: " << mean << " candidates per port on average";
  }
}

TEST(ChooseEphemeralPort, SkipsPortsInUse) {
  const Ipv4Addr local = ip("198.18.0.2"), remote = ip("198.18.0.1");
  const Reta reta = Reta::round_robin(4);
  std::set<uint16_t> used;
  std::vector<uint16_t> asked;
  for (int i = 0; i < 50; i++) {
    const auto port = choose_ephemeral_port(
        local, remote, 80, 2, 4, reta,
        [&](uint16_t p) {
          asked.push_back(p);
          return used.count(p) != 0;
        },
        12345);
    ASSERT_TRUE(port.has_value());
    ASSERT_TRUE(used.insert(*port).second) << "port " << *port << " handed out twice";
    EXPECT_EQ(owner_shard({remote, local, 80, *port}, 4, reta), 2);
  }
  // The predicate is asked only about ports that map to the shard.
  for (uint16_t p : asked)
    EXPECT_EQ(owner_shard({remote, local, 80, p}, 4, reta), 2) << "asked about port " << p;
}

TEST(ChooseEphemeralPort, NulloptWhenNothingIsFree) {
  const Ipv4Addr local = ip("198.18.0.2"), remote = ip("198.18.0.1");
  const Reta reta = Reta::round_robin(2);
  EXPECT_FALSE(choose_ephemeral_port(
                   local, remote, 80, 1, 2, reta, [](uint16_t) { return true; }, 7)
                   .has_value());
  // A one-port range that maps to the other shard.
  const PortRange one{40000, 40000};
  const uint16_t other = owner_shard({remote, local, 80, 40000}, 2, reta) == 0 ? 1 : 0;
  EXPECT_FALSE(choose_ephemeral_port(
                   local, remote, 80, other, 2, reta, [](uint16_t) { return false; }, 0, one)
                   .has_value());
  EXPECT_EQ(choose_ephemeral_port(
                local, remote, 80, static_cast<uint16_t>(1 - other), 2, reta,
                [](uint16_t) { return false; }, 0, one),
            std::optional<uint16_t>(40000));
  // Bad arguments.
  EXPECT_FALSE(choose_ephemeral_port(
                   local, remote, 80, 2, 2, reta, [](uint16_t) { return false; }, 0)
                   .has_value());
  EXPECT_FALSE(
      choose_ephemeral_port(
          local, remote, 80, 0, 2, reta, [](uint16_t) { return false; }, 0, PortRange{5, 4})
          .has_value());
}

TEST(ChooseEphemeralPort, RandomStartSpreadsThePortsChosen) {
  const Ipv4Addr local = ip("198.18.0.2"), remote = ip("198.18.0.1");
  const Reta reta = Reta::round_robin(2);
  std::set<uint16_t> ports;
  for (int i = 0; i < 100; i++) {
    const auto p =
        choose_ephemeral_port(local, remote, 443, 0, 2, reta, [](uint16_t) { return false; });
    ASSERT_TRUE(p.has_value());
    ports.insert(*p);
  }
  EXPECT_GT(ports.size(), 90u) << "rte_rand() start should rarely repeat a port";
}

} // namespace
} // namespace shoal::shard
