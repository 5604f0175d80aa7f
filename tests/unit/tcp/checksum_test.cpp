// The Internet checksum over pieces: wire::ChecksumAccumulator and the mbuf
// chain walk built on it (PacketBuf::raw_checksum), against a flat checksum
// of the same bytes. DPDK 22.11's rte_raw_cksum_mbuf loses carries when a piece
// follows an odd-length one; these chains are full of those.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include <rte_ip.h>
#include <rte_mbuf.h>

#include "eal_env.hpp"
#include "tcp/packet_buf_impl.hpp"
#include "wire/checksum.hpp"

namespace shoal::tcp::test {
namespace {

TEST(ChecksumPieces, AccumulatorMatchesTheFlatSumAtEveryCut) {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> bytes(1 + rng() % 3000);
    // Mostly 0xff: a 16-bit partial sum of such pieces carries out of 16 bits.
    for (uint8_t &b : bytes)
      b = rng() % 8 == 0 ? static_cast<uint8_t>(rng()) : 0xff;
    std::vector<std::span<const uint8_t>> pieces;
    size_t at = 0;
    while (at < bytes.size()) {
      const size_t n = std::min<size_t>(bytes.size() - at, rng() % 8 == 0 ? 0 : 1 + rng() % 700);
      pieces.push_back(std::span<const uint8_t>(bytes).subspan(at, n));
      at += n;
    }
    const uint16_t flat = rte_raw_cksum(bytes.data(), bytes.size());
    ASSERT_EQ(wire::raw_checksum(pieces), flat)
        << "round " << round << ": " << bytes.size() << " bytes in " << pieces.size() << " pieces";
  }
}

// A chain of `cuts.size() + 1` mbufs holding `bytes`, each starting at a
// random data offset (the data's alignment in memory must not matter).
rte_mbuf *make_chain(rte_mempool *pool, const std::vector<uint8_t> &bytes,
                     const std::vector<size_t> &lens, std::mt19937_64 &rng) {
  rte_mbuf *head = nullptr, *tail = nullptr;
  size_t at = 0;
  for (size_t len : lens) {
    rte_mbuf *m = rte_pktmbuf_alloc(pool);
    EXPECT_NE(m, nullptr);
    m->data_off = static_cast<uint16_t>(rng() % 64);
    auto *p = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, static_cast<uint16_t>(len)));
    EXPECT_TRUE(p != nullptr || len == 0);
    if (len > 0)
      std::copy_n(bytes.begin() + static_cast<ptrdiff_t>(at), len, p);
    at += len;
    if (head == nullptr) {
      head = tail = m;
    } else {
      EXPECT_EQ(rte_pktmbuf_chain(head, m), 0);
      tail = m;
    }
  }
  return head;
}

TEST(ChecksumPieces, MbufChainsMatchTheFlatSum) {
  shoal::test::ensure_eal();
  rte_mempool *pool = shoal::test::make_pktmbuf_pool(256);
  std::mt19937_64 rng(12);
  int dpdk_wrong = 0;
  for (int round = 0; round < 3000; ++round) {
    std::vector<size_t> lens(1 + rng() % 6);
    size_t total = 0;
    for (size_t &l : lens) {
      l = rng() % 4 == 0 ? 1 + rng() % 9 : rng() % 1500; // many odd and tiny pieces
      total += l;
    }
    if (total == 0)
      continue;
    std::vector<uint8_t> bytes(total);
    for (uint8_t &b : bytes)
      b = rng() % 4 == 0 ? static_cast<uint8_t>(rng()) : 0xff;
    rte_mbuf *m = make_chain(pool, bytes, lens, rng);
    ASSERT_NE(m, nullptr);
    // Every range [off, off + len) of the chain, drawn at random.
    const uint32_t off = static_cast<uint32_t>(rng() % total);
    const uint32_t len = static_cast<uint32_t>(1 + rng() % (total - off));
    const uint16_t flat = rte_raw_cksum(bytes.data() + off, len);
    uint16_t got = 0;
    ASSERT_TRUE(PacketBuf(m).raw_checksum(off, len, got));
    ASSERT_EQ(got, flat) << "round " << round << " off " << off << " len " << len;
    uint16_t dpdk = 0;
    if (rte_raw_cksum_mbuf(m, off, len, &dpdk) == 0 && dpdk != flat)
      ++dpdk_wrong;
    uint16_t unused = 0;
    EXPECT_FALSE(PacketBuf(m).raw_checksum(off, static_cast<uint32_t>(total - off + 1), unused))
        << "a range past the chain";
    rte_pktmbuf_free(m);
  }
  // Not an assertion on DPDK, just the size of what the helper avoids.
  std::printf("rte_raw_cksum_mbuf disagreed with the flat sum in %d of 3000 chains\n", dpdk_wrong);
  EXPECT_EQ(rte_mempool_avail_count(pool), 256u);
  rte_mempool_free(pool);
}

} // namespace
} // namespace shoal::tcp::test
