// LatencyHistogram (lib/common/histogram.hpp): bucket layout, accuracy of
// percentiles against sorted samples, merge, JSON.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "common/histogram.hpp"

namespace shoal {
namespace {

using H = LatencyHistogram;

TEST(Histogram, BucketsTileTheRangeWithoutGaps) {
  // Each bucket starts right after the previous one ends, and every value in
  // it maps back to it.
  for (size_t i = 1; i < H::kBuckets; ++i) {
    ASSERT_EQ(H::bucket_lowest(i), H::bucket_highest(i - 1) + 1) << i;
    ASSERT_EQ(H::bucket_index(H::bucket_lowest(i)), i);
    ASSERT_EQ(H::bucket_index(H::bucket_highest(i)), i);
    // Below 256 every value has its own bucket; above, the relative width
    // stays below 1 % (1/128).
    const double width = double(H::bucket_highest(i) - H::bucket_lowest(i) + 1);
    if (i < 256)
      ASSERT_EQ(width, 1.0) << i;
    else
      ASSERT_LE(width / double(H::bucket_lowest(i)), 1.0 / 128 + 1e-12) << i;
  }
  EXPECT_EQ(H::bucket_index(H::kMaxValue), H::kBuckets - 1);
  EXPECT_LE(sizeof(H), 32 * 1024u); // fixed memory
}

TEST(Histogram, SmallValuesAreExact) {
  H h;
  for (uint64_t v = 0; v < 256; ++v)
    h.record(v);
  EXPECT_EQ(h.count(), 256u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 255u);
  EXPECT_DOUBLE_EQ(h.mean(), 127.5);
  EXPECT_EQ(h.percentile(50), 127u);
  EXPECT_EQ(h.percentile(100), 255u);
  EXPECT_EQ(h.percentile(0), 0u);
}

// Nearest-rank percentile of sorted samples: the reference.
uint64_t reference(const std::vector<uint64_t> &sorted, double p) {
  if (p <= 0)
    return sorted.front();
  const auto rank = static_cast<size_t>(std::ceil(p / 100.0 * double(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

void expect_accurate(const std::vector<uint64_t> &samples, const char *what) {
  H h;
  for (uint64_t v : samples)
    h.record(v);
  std::vector<uint64_t> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(h.count(), sorted.size());
  EXPECT_EQ(h.min(), sorted.front());
  EXPECT_EQ(h.max(), sorted.back());
  long double sum = 0;
  for (uint64_t v : sorted)
    sum += v;
  EXPECT_NEAR(h.mean(), double(sum / sorted.size()), 1e-6 * h.mean() + 1e-9);
  for (double p : {0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const double want = double(reference(sorted, p));
    const double got = double(h.percentile(p));
    EXPECT_LE(std::abs(got - want), 0.01 * want + 1e-9)
        << what << " p" << p << ": histogram " << got << ", samples " << want;
  }
}

TEST(Histogram, AccurateAgainstSortedSamples) {
  std::mt19937_64 rng(42);
  std::vector<uint64_t> uniform, lognormal, bimodal;
  std::uniform_int_distribution<uint64_t> u(1, 10'000'000);
  std::lognormal_distribution<double> ln(std::log(50'000.0), 1.2);
  std::normal_distribution<double> fast(60'000, 5'000), slow(4'000'000, 400'000);
  for (int i = 0; i < 200'000; ++i) {
    uniform.push_back(u(rng));
    lognormal.push_back(static_cast<uint64_t>(std::max(1.0, ln(rng))));
    bimodal.push_back(static_cast<uint64_t>(std::max(1.0, i % 10 ? fast(rng) : slow(rng))));
  }
  expect_accurate(uniform, "uniform 1ns..10ms");
  expect_accurate(lognormal, "lognormal around 50us");
  expect_accurate(bimodal, "bimodal 60us / 4ms");
  expect_accurate({7}, "one sample");
  expect_accurate({1, 100'000'000'000}, "1 ns and 100 s");
}

TEST(Histogram, SaturatesAboveTheRange) {
  H h;
  h.record(uint64_t{1} << 60);
  h.record(std::chrono::seconds(1000));
  h.record(std::chrono::nanoseconds(-5)); // a clock going backwards records 0
  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(h.saturated(), 2u);
  EXPECT_EQ(h.max(), H::kMaxValue);
  EXPECT_EQ(h.min(), 0u);
}

TEST(Histogram, MergeEqualsRecordingEverything) {
  std::mt19937_64 rng(7);
  H a, b, all;
  for (int i = 0; i < 50'000; ++i) {
    const uint64_t v = rng() % 1'000'000'000;
    (i % 3 ? a : b).record(v);
    all.record(v);
  }
  H merged = a;
  merged.merge(b);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_DOUBLE_EQ(merged.mean(), all.mean());
  for (double p : {1.0, 50.0, 99.0, 99.99})
    EXPECT_EQ(merged.percentile(p), all.percentile(p));
  for (size_t i = 0; i < H::kBuckets; ++i)
    ASSERT_EQ(merged.bucket_count(i), all.bucket_count(i));
  H empty;
  merged.merge(empty);
  EXPECT_EQ(merged.min(), all.min());
}

TEST(Histogram, EmptyAndReset) {
  H h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.to_json(), "{\"count\":0,\"min\":0,\"max\":0,\"mean\":0.000,\"saturated\":0,"
                         "\"percentiles\":{\"50\":0,\"90\":0,\"99\":0,\"99.9\":0,\"99.99\":0},"
                         "\"cdf\":[]}");
  h.record(5);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
  h.record_n(1000, 0);
  EXPECT_EQ(h.count(), 0u);
}

TEST(Histogram, JsonForCdfPlots) {
  H h;
  h.record_n(10, 3);
  h.record(1000);
  EXPECT_EQ(h.to_json(), "{\"count\":4,\"min\":10,\"max\":1000,\"mean\":257.500,\"saturated\":0,"
                         "\"percentiles\":{\"50\":10,\"90\":1000,\"99\":1000,\"99.9\":1000,"
                         "\"99.99\":1000},\"cdf\":[[10,0.75],[1000,1]]}");
}

} // namespace
} // namespace shoal
