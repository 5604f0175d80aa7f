#pragma once
// Latency histogram for benchmarks, in the spirit of HdrHistogram: log-linear
// buckets over 1 ns .. 100 s with fixed memory and O(1) record.
//
// Layout. Values below 2^(kSubBucketBits+1) = 256 ns get one bucket each
// (exact). Above, every power-of-two range [2^e, 2^(e+1)) is cut into
// 2^kSubBucketBits = 128 equal buckets, so a bucket is at most 1/128 of its
// lower bound wide: < 0.8 % relative width, and the midpoint we report is
// within 0.4 % of any value recorded in it. 100 s (< 2^37 ns) needs
// 3899 buckets of 8 bytes: 31 KiB, allocated inline.
//
// Not thread-safe: one histogram per thread, merge() at the end.
#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

namespace shoal {

// The bucket layout, as free functions so the class can size its array with
// them.
namespace histogram_layout {

inline constexpr unsigned kSubBucketBits = 7;
inline constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits; // per power of two
inline constexpr uint64_t kLinearLimit = kSubBuckets * 2; // values below: one bucket each

constexpr size_t bucket_index(uint64_t v) {
  if (v < kLinearLimit)
    return static_cast<size_t>(v);
  const unsigned e = static_cast<unsigned>(std::bit_width(v)) - 1; // 2^e <= v < 2^(e+1)
  const unsigned shift = e - kSubBucketBits;
  const uint64_t sub = (v >> shift) - kSubBuckets; // 0 .. kSubBuckets-1
  return static_cast<size_t>(kLinearLimit + (e - kSubBucketBits - 1) * kSubBuckets + sub);
}

// Smallest value that lands in bucket i.
constexpr uint64_t bucket_lowest(size_t i) {
  if (i < kLinearLimit)
    return i;
  const uint64_t k = i - kLinearLimit;
  const unsigned shift = static_cast<unsigned>(k / kSubBuckets) + 1;
  return (kSubBuckets + k % kSubBuckets) << shift;
}

// Largest value that lands in bucket i.
constexpr uint64_t bucket_highest(size_t i) {
  if (i < kLinearLimit)
    return i;
  const unsigned shift = static_cast<unsigned>((i - kLinearLimit) / kSubBuckets) + 1;
  return bucket_lowest(i) + (uint64_t{1} << shift) - 1;
}

} // namespace histogram_layout

class LatencyHistogram {
public:
  static constexpr uint64_t kMaxValue = 100'000'000'000; // 100 s in ns; larger clamps
  static constexpr size_t kBuckets = histogram_layout::bucket_index(kMaxValue) + 1;

  static constexpr size_t bucket_index(uint64_t v) { return histogram_layout::bucket_index(v); }
  static constexpr uint64_t bucket_lowest(size_t i) { return histogram_layout::bucket_lowest(i); }
  static constexpr uint64_t bucket_highest(size_t i) { return histogram_layout::bucket_highest(i); }

  // Records one latency in nanoseconds; values above kMaxValue are counted
  // as kMaxValue (and in saturated()).
  void record(uint64_t ns) { record_n(ns, 1); }
  void record(std::chrono::nanoseconds d) { record(d.count() < 0 ? 0 : uint64_t(d.count())); }
  void record_n(uint64_t ns, uint64_t n) {
    if (n == 0)
      return;
    if (ns > kMaxValue) {
      ns = kMaxValue;
      saturated_ += n;
    }
    counts_[bucket_index(ns)] += n;
    count_ += n;
    sum_ += ns * n;
    min_ = std::min(min_, ns);
    max_ = std::max(max_, ns);
  }

  void merge(const LatencyHistogram &o) {
    for (size_t i = 0; i < kBuckets; ++i)
      counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    saturated_ += o.saturated_;
    min_ = std::min(min_, o.min_);
    max_ = std::max(max_, o.max_);
  }

  void reset() { *this = LatencyHistogram{}; }

  uint64_t count() const { return count_; }
  uint64_t saturated() const { return saturated_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  // Exact (from the running sum), not from buckets.
  double mean() const { return count_ ? double(sum_) / double(count_) : 0.0; }

  // The value at percentile p (0..100): the smallest recorded value v such
  // that at least p % of the samples are <= v (nearest rank), reported as the
  // midpoint of its bucket, clamped to [min, max]. 0 when empty.
  uint64_t percentile(double p) const {
    if (count_ == 0)
      return 0;
    if (!(p > 0.0))
      return min_;
    if (p >= 100.0)
      return max_;
    uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * double(count_)));
    rank = std::clamp<uint64_t>(rank, 1, count_);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank)
        return representative(i);
    }
    return max_;
  }

  uint64_t bucket_count(size_t i) const { return i < kBuckets ? counts_[i] : 0; }

  // {"count":N,"min":..,"max":..,"mean":..,"saturated":..,
  //  "percentiles":{"50":..,"90":..,"99":..,"99.9":..,"99.99":..},
  //  "cdf":[[value_ns,fraction],...]} with one CDF point per non-empty
  // bucket (its representative value and the fraction of samples <= it):
  // ready to plot.
  std::string to_json() const {
    std::string s;
    char buf[96];
    std::snprintf(buf, sizeof buf, "{\"count\":%llu,\"min\":%llu,\"max\":%llu,\"mean\":%.3f,",
                  ull(count_), ull(min()), ull(max_), mean());
    s += buf;
    std::snprintf(buf, sizeof buf, "\"saturated\":%llu,\"percentiles\":{", ull(saturated_));
    s += buf;
    constexpr const char *kNames[] = {"50", "90", "99", "99.9", "99.99"};
    constexpr double kPs[] = {50, 90, 99, 99.9, 99.99};
    for (size_t k = 0; k < std::size(kPs); ++k) {
      std::snprintf(buf, sizeof buf, "%s\"%s\":%llu", k ? "," : "", kNames[k],
                    ull(percentile(kPs[k])));
      s += buf;
    }
    s += "},\"cdf\":[";
    uint64_t seen = 0;
    bool first = true;
    for (size_t i = 0; i < kBuckets; ++i) {
      if (counts_[i] == 0)
        continue;
      seen += counts_[i];
      std::snprintf(buf, sizeof buf, "%s[%llu,%.9g]", first ? "" : ",", ull(representative(i)),
                    double(seen) / double(count_));
      s += buf;
      first = false;
    }
    s += "]}";
    return s;
  }

private:
  static unsigned long long ull(uint64_t v) { return v; }

  uint64_t representative(size_t i) const {
    const uint64_t lo = bucket_lowest(i), hi = bucket_highest(i);
    return std::clamp(lo + (hi - lo) / 2, min_, max_);
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0; // overflows only past 1.8e19 ns (585 years) of samples
  uint64_t saturated_ = 0;
  uint64_t min_ = std::numeric_limits<uint64_t>::max();
  uint64_t max_ = 0;
};

static_assert(LatencyHistogram::kBuckets == 3899);
static_assert(LatencyHistogram::bucket_index(255) == 255);
static_assert(LatencyHistogram::bucket_index(256) == 256);
static_assert(LatencyHistogram::bucket_lowest(LatencyHistogram::bucket_index(1000)) <= 1000);
static_assert(LatencyHistogram::bucket_highest(LatencyHistogram::bucket_index(1000)) >= 1000);

} // namespace shoal
