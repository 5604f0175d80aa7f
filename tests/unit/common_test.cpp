#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include "common/version.hpp"
#include "eal_env.hpp"

TEST(Common, VersionAndEal) {
  EXPECT_STREQ(shoal::version(), "0.1.0");
  rte_mempool *mp = shoal::test::make_pktmbuf_pool(64);
  rte_mbuf *m = rte_pktmbuf_alloc(mp);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(rte_mempool_avail_count(mp), 63u);
  rte_pktmbuf_free(m);
  EXPECT_EQ(rte_mempool_avail_count(mp), 64u);
  rte_mempool_free(mp);
}
