#include "synflood/legit_client.hpp"

#include "synflood/clock.hpp"

#include <array>
#include <cstdio>
#include <vector>

namespace shoal::synflood {

namespace {

Instant clock_now() {
  return tsc_now();
}

uint64_t ns_between(Instant a, Instant b) {
  const int64_t d = (b - a).count();
  return d < 0 ? 0 : uint64_t(d);
}

const std::array<uint8_t, 1024> kPayload = [] {
  std::array<uint8_t, 1024> a{};
  for (size_t i = 0; i < a.size(); ++i)
    a[i] = uint8_t('a' + i % 26);
  return a;
}();

std::string histogram_json(const LatencyHistogram &h) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "{\"count\":%llu,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,"
                "\"mean\":%.1f}",
                (unsigned long long)h.count(), double(h.percentile(50)) / 1e3,
                double(h.percentile(90)) / 1e3, double(h.percentile(99)) / 1e3,
                double(h.percentile(99.9)) / 1e3, double(h.max()) / 1e3, h.mean() / 1e3);
  return buf;
}

} // namespace

const char *failure_name(Failure f) {
  switch (f) {
#define SHOAL_X(name, desc)                                                                        \
  case Failure::name:                                                                              \
    return #name;
    SHOAL_SYNFLOOD_FAILURES(SHOAL_X)
#undef SHOAL_X
  case Failure::count_:
    break;
  }
  return "?";
}

void LegitCounts::merge(const LegitCounts &o) {
  attempts += o.attempts;
  handshakes += o.handshakes;
  successes += o.successes;
  failures += o.failures;
  unfinished += o.unfinished;
  for (size_t i = 0; i < kFailureCount; ++i)
    failure[i] += o.failure[i];
  handshake.merge(o.handshake);
  transaction.merge(o.transaction);
}

std::string LegitCounts::to_json() const {
  const uint64_t decided = successes + failures;
  char head[320];
  std::snprintf(head, sizeof head,
                "{\"attempts\":%llu,\"handshakes\":%llu,\"successes\":%llu,\"failures\":%llu,"
                "\"unfinished\":%llu,\"success_pct\":%.3f,",
                (unsigned long long)attempts, (unsigned long long)handshakes,
                (unsigned long long)successes, (unsigned long long)failures,
                (unsigned long long)unfinished,
                decided == 0 ? 100.0 : 100.0 * double(successes) / double(decided));
  std::string s = head;
  s += "\"failure\":{";
  for (size_t i = 0; i < kFailureCount; ++i) {
    s += (i ? ",\"" : "\"") + std::string(failure_name(Failure(i))) +
         "\":" + std::to_string(failure[i]);
  }
  s += "},\"handshake_us\":" + histogram_json(handshake) +
       ",\"transaction_us\":" + histogram_json(transaction) + "}";
  return s;
}

// One legitimate connection: connect, write the request, read the whole
// response, close. Counted exactly once: success or failure (or unfinished).
// The stack owns it (connect()); it is listed in the owner's live_ while it
// exists.
class LegitClients::Attempt final : public api::Handler {
public:
  Attempt(LegitClients &owner, Instant start, unsigned phase)
      : owner_(owner), start_(start), deadline_(start + owner.p_.timeout), phase_(phase) {
    owner_.live_.insert(this);
  }
  ~Attempt() override {
    if (!connection() && !done_)
      record_failure(Failure::no_port); // connect() opened nothing
    owner_.live_.erase(this);
  }

  Instant deadline() const { return deadline_; }

  void on_connected(api::Connection c) override {
    const Instant now = clock_now();
    owner_.count(phase_, [&](LegitCounts &k) {
      ++k.handshakes;
      k.handshake.record(ns_between(start_, now));
    });
    c.set_nodelay(true);
    established_ = true;
    send(c);
  }
  void on_writable(api::Connection c) override { send(c); }
  void on_readable(api::Connection c) override { (void)receive(c); }
  void on_peer_closed(api::Connection c) override {
    if (receive(c))
      return; // decided (and maybe destroyed already)
    if (c.readable() == 0)
      fail(c, Failure::protocol); // the server closed before the whole response
  }
  void on_closed(api::Connection, api::CloseReason r) override {
    if (!done_) {
      switch (r) {
      case api::CloseReason::refused:
        record_failure(Failure::refused);
        break;
      case api::CloseReason::reset:
        record_failure(established_ ? Failure::reset : Failure::refused);
        break;
      case api::CloseReason::timed_out:
      case api::CloseReason::unreachable:
        record_failure(Failure::timed_out);
        break;
      case api::CloseReason::aborted:
      case api::CloseReason::normal:
      case api::CloseReason::stack_destroyed:
        record_failure(Failure::protocol);
        break;
      }
    }
    // The stack destroys this now.
  }

  // The deadline passed: failed, and the connection reset.
  void expire() { fail_and_abort(Failure::deadline); }
  // The run ended with this attempt open: neither success nor failure.
  void abandon() {
    if (!done_) {
      done_ = true;
      owner_.count(phase_, [](LegitCounts &k) { ++k.unfinished; });
    }
    connection().abort(); // on_closed, then the stack destroys this
  }

private:
  void send(api::Connection c) {
    const uint32_t want = owner_.p_.request;
    while (sent_ < want) {
      const uint32_t chunk = std::min<uint32_t>(want - sent_, uint32_t(kPayload.size()));
      const size_t n = c.write(std::span<const uint8_t>(kPayload.data(), chunk));
      if (n == 0)
        return; // on_writable brings us back
      sent_ += uint32_t(n);
    }
  }
  // True once the attempt is decided: `this` may be gone then.
  bool receive(api::Connection c) {
    if (done_)
      return true;
    const size_t n = c.readable();
    if (n == 0)
      return false;
    got_ += n;
    c.consume(n);
    if (got_ > owner_.p_.response) {
      fail(c, Failure::protocol);
      return true;
    }
    if (got_ < owner_.p_.response)
      return false;
    const Instant now = clock_now();
    done_ = true;
    owner_.count(phase_, [&](LegitCounts &k) {
      ++k.successes;
      k.transaction.record(ns_between(start_, now));
    });
    c.close(); // client closes first: the TIME_WAIT record is ours
    return true;
  }
  void record_failure(Failure f) {
    done_ = true;
    owner_.count(phase_, [&](LegitCounts &k) {
      ++k.failures;
      ++k.failure[size_t(f)];
    });
  }
  void fail(api::Connection c, Failure f) {
    record_failure(f);
    c.abort();
  }
  void fail_and_abort(Failure f) {
    if (done_)
      return;
    record_failure(f);
    connection().abort();
  }

  LegitClients &owner_;
  Instant start_, deadline_;
  unsigned phase_;
  uint32_t sent_ = 0;
  uint64_t got_ = 0;
  bool established_ = false;
  bool done_ = false;
};

LegitClients::LegitClients(api::Stack &stack, const LegitParams &p, unsigned phases)
    : stack_(stack), p_(p), phases_(phases) {}

LegitClients::~LegitClients() {
  abandon_all(); // the stack owns the attempts, which refer to this
}

void LegitClients::start_one(Instant now, unsigned phase) {
  count(phase, [](LegitCounts &k) { ++k.attempts; });
  // Nothing opened (no port free): the attempt goes at once, counted failed.
  stack_.connect(p_.server, p_.port, std::make_unique<Attempt>(*this, now, phase), 0);
}

void LegitClients::tick(Instant now, unsigned phase) {
  if (!started_) {
    started_ = true;
    next_start_ = now;
    next_expiry_scan_ = now;
  }
  if (starting_ && p_.rate > 0) {
    const Duration gap{1'000'000'000 / p_.rate};
    // Behind by more than a second (a stall): skip, do not burst.
    if (now - next_start_ > std::chrono::seconds(1))
      next_start_ = now;
    while (next_start_ <= now && live_.size() < p_.concurrency) {
      start_one(now, phase);
      next_start_ += gap;
    }
    if (next_start_ <= now)
      next_start_ = now; // at the concurrency cap: start as soon as one ends
  }
  if (now >= next_expiry_scan_) {
    next_expiry_scan_ = now + std::chrono::milliseconds(10);
    std::vector<Attempt *> expired;
    for (Attempt *a : live_)
      if (a->deadline() <= now)
        expired.push_back(a);
    for (Attempt *a : expired)
      if (live_.count(a) != 0)
        a->expire();
  }
}

void LegitClients::abandon_all() {
  const std::vector<Attempt *> open(live_.begin(), live_.end());
  for (Attempt *a : open)
    if (live_.count(a) != 0)
      a->abandon();
}

LegitCounts LegitClients::take_interval() {
  LegitCounts r = interval_;
  interval_ = LegitCounts{};
  return r;
}

} // namespace shoal::synflood
