#include "tcp_harness.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "wire/checksum.hpp"

namespace shoal::tcp::test {

std::string format_time(Instant t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%10.3fs", static_cast<double>(to_ns(t)) / 1e9);
  return buf;
}

std::string Sent::str() const {
  return wire::format_tcp(tcp, payload.size());
}

void Capture::transmit(PacketBuf packet, TxOffload offload) {
  rte_mbuf *m = packet.mbuf();
  std::vector<uint8_t> bytes(m->pkt_len);
  const auto *p = static_cast<const uint8_t *>(rte_pktmbuf_read(m, 0, m->pkt_len, bytes.data()));
  if (p != bytes.data())
    std::memcpy(bytes.data(), p, m->pkt_len);
  Sent s;
  for (const rte_mbuf *seg = m->next; seg != nullptr; seg = seg->next)
    s.payload_addrs.push_back(rte_pktmbuf_mtod(seg, const uint8_t *));
  s.offload = offload;
  s.tso_segsz = offload.tso_segsz;
  rte_pktmbuf_free(m);
  s.at = clock ? *clock : Instant{};
  // With checksum offload (or TSO) the port fills the checksums in.
  const bool ip_sum = offload.checksum == TxOffload::Checksum::none;
  const bool tcp_sum = offload.checksum == TxOffload::Checksum::none;
  if (wire::parse_ipv4(bytes, ip_sum, s.ip) != wire::ParseError::ok ||
      wire::parse_tcp(std::span<const uint8_t>(bytes).subspan(s.ip.header_len, s.ip.payload_len),
                      s.ip.src, s.ip.dst, tcp_sum, s.tcp) != wire::ParseError::ok) {
    ++bad;
    if (trace)
      trace->push_back(format_time(s.at) + " OUT  <malformed or bad checksum>");
    ADD_FAILURE() << "engine sent a malformed datagram or one with a bad checksum";
    return;
  }
  auto payload = std::span<const uint8_t>(bytes).subspan(s.ip.header_len + s.tcp.header_len,
                                                         s.ip.payload_len - s.tcp.header_len);
  s.payload.assign(payload.begin(), payload.end());
  if (trace)
    trace->push_back(format_time(s.at) + " OUT  " + s.str());
  queue.push_back(std::move(s));
}

EngineConfig test_config() {
  EngineConfig c;
  c.local_address = kLocal;
  c.secret_seed = 42;
  c.max_connections = 64;
  c.max_time_wait = 64;
  c.rcv_buf = 65535; // no window scaling needed unless a test asks
  c.snd_buf = 65535;
  // The traces check delayed ACK from the first segment on; the quick-ACK
  // tests turn the start-of-connection quick ACKs back on.
  c.quickack_segments = 0;
  // The handshakes here take no time (SRTT 0): a tail loss probe would go
  // 2 ms after every segment. The traces check RFC 6298 timing; the tail
  // loss probe tests (tlp_test.cpp) turn it back on.
  c.tail_loss_probe = false;
  // Likewise RACK: with ACKs in the same instant as the data (RACK.rtt 0,
  // reo_wnd 0) it would find a hole lost at the first SACK, before the
  // duplicate-ACK counts these traces check. rack_test.cpp turns it on.
  c.rack = false;
  return c;
}

namespace {
int failed_parts() {
  const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr)
    return 0;
  const auto *result = info->result();
  int n = 0;
  for (int i = 0; i < result->total_part_count(); ++i)
    n += result->GetTestPartResult(i).failed() ? 1 : 0;
  return n;
}
} // namespace

Harness::Harness(EngineConfig cfg, unsigned pool_size) {
  failures_at_start = failed_parts();
  pool = shoal::test::make_pktmbuf_pool(pool_size);
  pool_start = rte_mempool_avail_count(pool);
  out.trace = &trace;
  out.clock = &now;
  now = instant_from_ns(1'000'000'000); // t = 1 s: leaves room for clocks below "now"
  eng = std::make_unique<Engine>(cfg, pool, out, now);
}

Harness::~Harness() {
  eng.reset();
  EXPECT_EQ(rte_mempool_avail_count(pool), pool_start) << "mbufs leaked after engine teardown";
  if (failed_parts() > failures_at_start)
    std::fprintf(stderr, "---- trace ----\n%s---- end of trace ----\n", dump().c_str());
  rte_mempool_free(pool);
}

std::string Harness::dump() const {
  std::string s;
  for (const auto &line : trace)
    s += line + "\n";
  return s;
}

std::string pattern(size_t n, size_t from) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>('a' + (from + i) % 26);
  return s;
}

wire::TcpRepr make_seg(uint16_t src_port, uint16_t dst_port, uint8_t flags, uint32_t seq,
                       uint32_t ack, uint16_t window) {
  wire::TcpRepr h;
  h.src_port = src_port;
  h.dst_port = dst_port;
  h.flags = flags;
  h.seq = seq;
  h.ack = ack;
  h.window = window;
  return h;
}

void Harness::inject(const wire::TcpRepr &h, std::span<const uint8_t> payload,
                     wire::Ipv4Addr from) {
  if (tracing)
    trace.push_back(format_time(now) + " IN   " + wire::format_tcp(h, payload.size()));
  rte_mbuf *m = rte_pktmbuf_alloc(pool);
  ASSERT_NE(m, nullptr);
  const size_t tcp_len = wire::tcp_header_len(h);
  const size_t total = 20 + tcp_len + payload.size();
  ASSERT_LE(total, rte_pktmbuf_tailroom(m));
  auto *p = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, static_cast<uint16_t>(total)));
  wire::Ipv4Repr ip;
  ip.src = from;
  ip.dst = kLocal;
  ip.protocol = wire::kIpProtoTcp;
  ip.payload_len = static_cast<uint16_t>(tcp_len + payload.size());
  wire::emit_ipv4(ip, {p, 20}, true);
  wire::emit_tcp_header(h, {p + 20, tcp_len});
  if (!payload.empty())
    std::memcpy(p + 20 + tcp_len, payload.data(), payload.size());
  std::span<uint8_t> segment(p + 20, tcp_len + payload.size());
  wire::set_tcp_checksum(segment, wire::tcp_checksum(from, kLocal, segment));
  if (!payload_pieces.empty() && !payload.empty()) {
    // The same bytes as a chain: the headers stay in m, the payload moves
    // to fresh mbufs, each piece starting at a different buffer offset.
    rte_pktmbuf_trim(m, static_cast<uint16_t>(payload.size()));
    size_t off = 0;
    for (size_t i = 0; off < payload.size(); ++i) {
      const size_t want = payload_pieces[std::min(i, payload_pieces.size() - 1)];
      const bool last = i + 1 >= payload_pieces.size();
      const size_t n = last ? payload.size() - off : std::min(want, payload.size() - off);
      rte_mbuf *piece = rte_pktmbuf_alloc(pool);
      ASSERT_NE(piece, nullptr);
      rte_pktmbuf_adj(piece, static_cast<uint16_t>(i % 7)); // odd start addresses too
      auto *d = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(piece, static_cast<uint16_t>(n)));
      ASSERT_NE(d, nullptr);
      std::memcpy(d, payload.data() + off, n);
      ASSERT_EQ(rte_pktmbuf_chain(m, piece), 0);
      off += n;
    }
  }
  eng->input_ipv4(m, RxChecksum{}, now);
}

void Harness::advance_to(Instant t) {
  now = t;
  eng->advance(t);
}

void Harness::run_until(Instant t) {
  for (;;) {
    auto next = eng->next_timer();
    if (!next || *next > t)
      break;
    advance_to(std::max(*next, now));
  }
  advance_to(t);
}

std::optional<Sent> Harness::pop() {
  if (out.queue.empty())
    return std::nullopt;
  Sent s = std::move(out.queue.front());
  out.queue.pop_front();
  return s;
}

void Harness::expect_quiet(size_t timers) {
  EXPECT_EQ(eng->connection_count(), 0u) << "connections left";
  EXPECT_EQ(eng->armed_timer_count(), timers) << "armed timers";
  EXPECT_EQ(out.queue.size(), 0u) << "unchecked output, first: "
                                  << (out.queue.empty() ? "" : out.queue.front().str());
  EXPECT_EQ(rte_mempool_avail_count(pool), pool_start) << "mbufs not back in the pool";
  EXPECT_EQ(out.bad, 0);
}

void Recorder::on_connected(Connection &c) {
  conn = &c;
  events.push_back("connected");
}

void Recorder::on_readable(Connection &c) {
  events.push_back("readable");
  if (!consume)
    return;
  c.for_each_readable([&](std::span<const uint8_t> s) { received.append(s.begin(), s.end()); });
  c.consume(c.readable());
}

void Recorder::on_peer_closed(Connection &c) {
  events.push_back("peer_closed");
  if (close_on_peer_close)
    c.close();
}

void Recorder::on_closed(Connection &, CloseReason r) {
  events.push_back(std::string("closed:") + to_string(r));
  closed = r;
  conn = nullptr;
}

void Peer::send_raw(uint8_t flags, uint32_t seq, uint32_t ack, const std::string &payload) {
  wire::TcpRepr s = make_seg(port, local_port, flags, seq, (flags & ACK) ? ack : 0, window);
  if (flags & SYN)
    s.options = syn_options;
  h.inject(s, payload);
}

void Peer::send(uint8_t flags, const std::string &payload) {
  send_raw(flags, snd_nxt, rcv_nxt, payload);
  snd_nxt +=
      static_cast<uint32_t>(payload.size()) + ((flags & SYN) ? 1 : 0) + ((flags & FIN) ? 1 : 0);
}

Sent Peer::expect(uint8_t flags, const char *what) {
  auto s = h.pop();
  if (!s) {
    ADD_FAILURE() << "expected a segment with flags " << int(flags) << " (" << what
                  << "), got nothing";
    return Sent{};
  }
  EXPECT_EQ(s->tcp.flags & ~PSH, flags) << what << ": got " << s->str();
  EXPECT_EQ(s->tcp.src_port, local_port) << what;
  EXPECT_EQ(s->tcp.dst_port, port) << what;
  if (s->has(SYN))
    rcv_nxt = s->tcp.seq + 1 + static_cast<uint32_t>(s->payload.size());
  else if (!s->has(RST) && s->tcp.seq == rcv_nxt)
    rcv_nxt += s->seq_len();
  return *s;
}

void Peer::expect_none(const char *what) {
  EXPECT_EQ(h.pending(), 0u) << what << ": unexpected "
                             << (h.pending() ? h.out.queue.front().str() : "");
  h.out.queue.clear();
}

Connection *open_passive(Harness &h, Peer &p, Recorder &r) {
  h.eng->listen(p.local_port, [&r](Connection &) -> ConnectionHandler * { return &r; });
  p.send(SYN);
  Sent synack = p.expect(SYN | ACK, "SYN-ACK");
  EXPECT_EQ(synack.tcp.ack, p.snd_nxt);
  p.send(ACK);
  EXPECT_EQ(r.conn, h.eng->find(p.tuple()));
  return r.conn;
}

Sent close_into_time_wait(Peer &p, Connection &c) {
  c.close();
  p.expect(FIN | ACK, "our FIN");
  p.send(ACK);
  p.send(FIN | ACK);
  return p.expect(ACK, "the last ACK");
}

Connection *open_active(Harness &h, Peer &p, Recorder &r) {
  Connection *c = h.eng->connect(kRemote, p.port, &r, p.local_port);
  EXPECT_NE(c, nullptr);
  p.expect(SYN, "SYN");
  p.send(SYN | ACK);
  p.expect(ACK, "ACK of SYN-ACK");
  EXPECT_EQ(r.conn, c);
  return c;
}

size_t write_str(Connection &c, const std::string &s) {
  return c.write(std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(s.data()), s.size()));
}

Connection *open_with_rtt(Harness &h, Peer &p, Recorder &r, Duration rtt) {
  h.eng->listen(p.local_port, [&r](Connection &) -> ConnectionHandler * { return &r; });
  p.send(SYN);
  p.expect(SYN | ACK, "SYN-ACK");
  h.advance(rtt);
  p.send(ACK);
  EXPECT_NE(r.conn, nullptr);
  return r.conn;
}

void finish(Harness &h, Peer &p, Connection *c) {
  if (c != nullptr)
    c->abort();
  p.expect(RST | ACK, "abort");
  h.expect_quiet();
}

uint64_t counter(Harness &h, Counter k) {
  return h.eng->counters()[k];
}

} // namespace shoal::tcp::test
