#include "tcp/cookie_replay.hpp"

#include "tcp/flow_hash.hpp"

namespace shoal::tcp {

ConsumedCookies::ConsumedCookies(uint32_t capacity, Duration lifetime, uint64_t key)
    : lifetime_(lifetime), key_(key) {
  uint32_t n = kProbe;
  while (n < capacity && n < (1u << 30))
    n <<= 1;
  slots_n_ = n;
}

uint64_t ConsumedCookies::digest(const FourTuple &t, uint32_t cookie) const {
  // The flow hash is keyed with the engine secret; folding the cookie into
  // the key separates entries of one tuple. Never 0 (0 marks unused).
  const uint64_t d = flow_hash(t, key_ ^ (uint64_t{cookie} * 0x9e3779b97f4a7c15ull));
  return d == 0 ? 1 : d;
}

bool ConsumedCookies::insert(const FourTuple &t, uint32_t cookie, Instant now) {
  if (!slots_)
    slots_ = std::make_unique<Slot[]>(slots_n_); // first cookie connection: fixed from here on
  const uint64_t d = digest(t, cookie);
  const int64_t n = to_ns(now);
  const uint32_t mask = slots_n_ - 1;
  uint32_t victim = static_cast<uint32_t>(d) & mask;
  for (uint32_t i = 0; i < kProbe; ++i) {
    Slot &s = slots_[(static_cast<uint32_t>(d) + i) & mask];
    if (s.digest == 0 || s.expiry_ns <= n || s.digest == d) {
      s.digest = d;
      s.expiry_ns = n + lifetime_.count();
      return false;
    }
    if (s.expiry_ns < slots_[victim].expiry_ns)
      victim = (static_cast<uint32_t>(d) + i) & mask;
  }
  slots_[victim] = Slot{d, n + lifetime_.count()};
  return true;
}

bool ConsumedCookies::contains(const FourTuple &t, uint32_t cookie, Instant now) const {
  if (!slots_)
    return false;
  const uint64_t d = digest(t, cookie);
  const int64_t n = to_ns(now);
  const uint32_t mask = slots_n_ - 1;
  for (uint32_t i = 0; i < kProbe; ++i) {
    const Slot &s = slots_[(static_cast<uint32_t>(d) + i) & mask];
    if (s.digest == 0)
      return false;
    if (s.digest == d && s.expiry_ns > n)
      return true;
  }
  return false;
}

} // namespace shoal::tcp
