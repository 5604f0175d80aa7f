// libFuzzer target 2: a shard with a TCP listener and established
// connections fed arbitrary frames.
//
// Each input runs on a fresh Shard + ShardTcp (lib/shard/tcp_attach) with
// no port: frames go in through Shard::process_rx, the tx burst is a sink
// that reads the shard's answers. Before the input, the peer (198.18.0.2)
// makes itself known by ARP and opens kConns connections to port 80 (an
// echo application answers on them), so arbitrary frames meet ESTABLISHED
// connections, a listener, the ARP cache and ICMP.
//
// The input is a sequence of records: kind (1 byte), length (le16), bytes.
//   kind & kAim == 0: the bytes are an Ethernet frame, delivered as is.
//   kind & kAim:      the bytes are an IPv4 datagram aimed at connection
//                     (kind >> 1) & 3 (3: a new tuple, the listener's): the
//                     shard's MAC, the addresses, protocol, ports and
//                     lengths are set, seq/ack are read as offsets from the
//                     connection's RCV.NXT/SND.UNA, checksums re-stamped
//                     (unless kind & kKeepChecksums).
//   kind & kAim and kind & kIcmp: an ICMP error from the peer quoting one
//                     of OUR segments on that connection: bytes[0] picks
//                     the type (destination unreachable or time exceeded),
//                     bytes[1] the code, bytes[2..3] the next-hop MTU,
//                     bytes[4..7] the quoted seq as an offset from SND.UNA
//                     (path-MTU discovery, soft and hard errors, forged
//                     quotes).
//   kind & kTick:     no frame; the clock moves by length x 10 ms and the
//                     shard polls (timers: RTO, delayed ACK, ARP, ...).
// A UDP socket on port 53 echoes what it receives, so UDP datagrams meet a
// socket as well as closed ports (port unreachable).
// After the input the shard and engine are destroyed and the mempool must
// be back to its starting count; counters and gauges are checked after
// every record.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <vector>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "eal_env.hpp"
#include "frame_builder.hpp"
#include "fuzz_check.hpp"
#include "shard/shard.hpp"
#include "shard/tcp_attach.hpp"
#include "sim/segment_builder.hpp"
#include "tcp/connection.hpp"
#include "tcp/counters.hpp"
#include "tcp/engine.hpp"
#include "tcp/inspect.hpp"
#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace {

using namespace shoal;
using namespace std::chrono_literals;
using wire::tcp_flags::ACK;
using wire::tcp_flags::SYN;

constexpr unsigned kPoolSize = 4096;
constexpr unsigned kConns = 3;
constexpr uint16_t kListenPort = 80;
constexpr uint16_t kPeerPortBase = 40000;
constexpr uint32_t kPeerIsn = 7000;
enum : uint8_t { kAim = 0x01, kKeepChecksums = 0x08, kTick = 0x10, kIcmp = 0x20 };

rte_mempool *pool() {
  static rte_mempool *p = test::make_pktmbuf_pool(kPoolSize, 4096 + RTE_PKTMBUF_HEADROOM);
  return p;
}

// Echo: whatever arrives goes back; the peer's FIN is answered with ours.
struct Echo final : tcp::ConnectionHandler {
  void on_readable(tcp::Connection &c) override {
    c.for_each_readable([&](std::span<const uint8_t> s) { c.write(s); });
    c.consume(c.readable());
  }
  void on_peer_closed(tcp::Connection &c) override { c.shutdown_write(); }
};

class Rig {
public:
  Rig() {
    shard::ShardParams p;
    p.id = 0;
    p.mac = fuzz::kShardMac;
    p.address = fuzz::kShardIp;
    p.prefix_length = 24;
    shard_.emplace(p, pool());
    shard_->set_tx_burst(&Rig::tx_sink, this);
    tcp::EngineConfig cfg;
    cfg.max_connections = 16;
    cfg.syn_backlog = 4;
    cfg.accept_backlog = 4;
    cfg.max_time_wait = 16;
    cfg.cookie_replay_capacity = 64;
    cfg.msl = 2s;
    cfg.secret_seed = 1;
    cfg.challenge_ack_limit_per_s = 100;
    tcp_.emplace(*shard_, cfg, pool(), now_);
    FUZZ_CHECK(tcp_->engine().listen(kListenPort,
                                     [this](tcp::Connection &) { return &apps_.emplace_back(); }),
               "listen");
  }
  ~Rig() {
    tcp_.reset(); // the engine frees its connections
    shard_.reset();
  }

  // ARP from the peer, then kConns handshakes; each connection must end up ESTABLISHED.
  void open_connections() {
    shard::UdpSocket *u = shard_->udp().open(53);
    FUZZ_CHECK(u != nullptr, "no UDP socket on port 53");
    u->on_receive([](shard::UdpSocket &s, const shard::UdpDatagram &d) {
      s.send_to(d.remote, d.remote_port, d.payload);
    });
    deliver(fuzz::arp_request_from_peer());
    for (unsigned i = 0; i < kConns; ++i) {
      const uint16_t port = static_cast<uint16_t>(kPeerPortBase + i);
      synack_seq_.reset();
      deliver_ip(sim::Seg().flags(SYN).seq(kPeerIsn).win(65535).mss(1460).sack_perm().wscale(7),
                 port);
      FUZZ_CHECK(synack_seq_.has_value(), "no SYN-ACK for connection %u", i);
      deliver_ip(sim::Seg().flags(ACK).seq(kPeerIsn + 1).ack(*synack_seq_ + 1).win(1024), port);
      FUZZ_CHECK(tcp_->engine().state_of(tuple(i)) == tcp::State::established,
                 "connection %u not established: %s", i,
                 tcp::to_string(tcp_->engine().state_of(tuple(i))));
    }
  }

  void record(uint8_t kind, std::span<const uint8_t> bytes) {
    if (kind & kTick) {
      now_ += 10ms * bytes.size();
      shard_->poll(now_);
    } else if ((kind & kAim) && (kind & kIcmp)) {
      icmp_error(kind, bytes);
    } else if (kind & kAim) {
      aim(kind, bytes);
    } else {
      deliver(bytes);
    }
    check();
  }

  void check() {
    const tcp::Engine &e = tcp_->engine();
    const auto &ctr = e.counters();
    uint64_t live = 0;
    for (int st = 0; st < tcp::kStateCount; ++st)
      if (st != static_cast<int>(tcp::State::time_wait) &&
          st != static_cast<int>(tcp::State::closed) && st != static_cast<int>(tcp::State::listen))
        live += ctr.in_state[static_cast<size_t>(st)];
    FUZZ_CHECK(live == e.connection_count(), "per-state gauge %lu != %zu live connections",
               static_cast<unsigned long>(live), e.connection_count());
    FUZZ_CHECK(e.connections_in_use() <= 16, "%u connection slots in use, max 16",
               e.connections_in_use());
    FUZZ_CHECK(e.syn_backlog_length(kListenPort) <= 4, "SYN backlog %zu > 4",
               e.syn_backlog_length(kListenPort));
    const unsigned in_use = kPoolSize - rte_mempool_avail_count(pool());
    FUZZ_CHECK(in_use < kPoolSize - 64, "%u of %u mbufs in use", in_use, kPoolSize);
  }

private:
  tcp::FourTuple tuple(unsigned i) const {
    tcp::FourTuple t;
    t.local_addr = fuzz::kShardIp;
    t.remote_addr = fuzz::kPeerIp;
    t.local_port = kListenPort;
    t.remote_port = static_cast<uint16_t>(kPeerPortBase + i);
    return t;
  }

  void deliver(std::span<const uint8_t> frame) {
    rte_mbuf *m = fuzz::frame_mbuf(pool(), frame);
    if (m == nullptr)
      return;
    shard_->process_rx(std::span<rte_mbuf *const>(&m, 1), now_);
    shard_->poll(now_); // timers, poll hook, tx flush
  }

  void deliver_ip(const sim::Seg &s, uint16_t peer_port) {
    sim::SegDefaults d;
    d.src = fuzz::kPeerIp;
    d.dst = fuzz::kShardIp;
    d.src_port = peer_port;
    d.dst_port = kListenPort;
    const std::vector<uint8_t> ip = s.build(d);
    deliver(fuzz::ethernet_frame(wire::kEtherTypeIpv4, ip));
  }

  void aim(uint8_t kind, std::span<const uint8_t> bytes) {
    std::vector<uint8_t> d(bytes.begin(), bytes.end());
    if (d.size() < wire::kIpv4MinHeaderLen + wire::kTcpMinHeaderLen)
      d.resize(wire::kIpv4MinHeaderLen + wire::kTcpMinHeaderLen, 0);
    size_t ihl = size_t{d[0] & 0x0fu} * 4;
    if (ihl < wire::kIpv4MinHeaderLen || ihl + wire::kTcpMinHeaderLen > d.size())
      ihl = wire::kIpv4MinHeaderLen;
    d[0] = static_cast<uint8_t>(0x40 | ihl / 4);
    wire::store_be16(d.data() + wire::ipv4_field::kTotalLength, static_cast<uint16_t>(d.size()));
    wire::store_be16(d.data() + wire::ipv4_field::kFlagsFragment,
                     wire::ipv4_field::kFlagDontFragment);
    d[wire::ipv4_field::kProtocol] = wire::kIpProtoTcp;
    fuzz::kPeerIp.to_bytes(d.data() + wire::ipv4_field::kSrc);
    fuzz::kShardIp.to_bytes(d.data() + wire::ipv4_field::kDst);
    uint8_t *t = d.data() + ihl;
    const unsigned which = (kind >> 1) & 3;
    const uint16_t peer_port =
        static_cast<uint16_t>(kPeerPortBase + (which < kConns ? which : 100));
    wire::store_be16(t + wire::tcp_field::kSrcPort, peer_port);
    wire::store_be16(t + wire::tcp_field::kDstPort, kListenPort);
    if (which < kConns) {
      if (const tcp::Connection *c = tcp_->engine().find(tuple(which))) {
        rcv_base_[which] = c->inspect().rcv_nxt().v;
        snd_base_[which] = c->inspect().snd_una().v;
      }
      wire::store_be32(t + wire::tcp_field::kSeq,
                       rcv_base_[which] + wire::load_be32(t + wire::tcp_field::kSeq));
      wire::store_be32(t + wire::tcp_field::kAck,
                       snd_base_[which] + wire::load_be32(t + wire::tcp_field::kAck));
    }
    if (!(kind & kKeepChecksums))
      fuzz::restamp_checksums(d);
    deliver(fuzz::ethernet_frame(wire::kEtherTypeIpv4, d));
  }

  void icmp_error(uint8_t kind, std::span<const uint8_t> bytes) {
    uint8_t b[8] = {};
    std::copy_n(bytes.begin(), std::min<size_t>(bytes.size(), 8), b);
    const unsigned which = (kind >> 1) & 3;
    const uint16_t peer_port =
        static_cast<uint16_t>(kPeerPortBase + (which < kConns ? which : 100));
    if (which < kConns)
      if (const tcp::Connection *c = tcp_->engine().find(tuple(which)))
        snd_base_[which] = c->inspect().snd_una().v;
    // The quote: our datagram's IPv4 header and its first 8 TCP bytes.
    std::vector<uint8_t> quote(wire::kIpv4MinHeaderLen + 8, 0);
    quote[0] = 0x45;
    wire::store_be16(quote.data() + wire::ipv4_field::kTotalLength, 1500);
    quote[wire::ipv4_field::kTtl] = 64;
    quote[wire::ipv4_field::kProtocol] = wire::kIpProtoTcp;
    fuzz::kShardIp.to_bytes(quote.data() + wire::ipv4_field::kSrc);
    fuzz::kPeerIp.to_bytes(quote.data() + wire::ipv4_field::kDst);
    uint8_t *t = quote.data() + wire::kIpv4MinHeaderLen;
    wire::store_be16(t, kListenPort);
    wire::store_be16(t + 2, peer_port);
    wire::store_be32(t + 4, snd_base_[which < kConns ? which : 0] + wire::load_be32(b + 4));
    std::vector<uint8_t> icmp(8 + quote.size(), 0);
    icmp[0] = (b[0] & 1) != 0 ? wire::kIcmpTimeExceeded : wire::kIcmpDestUnreachable;
    icmp[1] = static_cast<uint8_t>(b[1] % 16);
    icmp[6] = b[2];
    icmp[7] = b[3];
    std::copy(quote.begin(), quote.end(), icmp.begin() + 8);
    wire::store_be16(icmp.data() + 2, wire::internet_checksum(icmp));
    std::vector<uint8_t> d(wire::kIpv4MinHeaderLen + icmp.size(), 0);
    d[0] = 0x45;
    wire::store_be16(d.data() + wire::ipv4_field::kTotalLength, static_cast<uint16_t>(d.size()));
    d[wire::ipv4_field::kTtl] = 64;
    d[wire::ipv4_field::kProtocol] = wire::kIpProtoIcmp;
    fuzz::kPeerIp.to_bytes(d.data() + wire::ipv4_field::kSrc);
    fuzz::kShardIp.to_bytes(d.data() + wire::ipv4_field::kDst);
    std::copy(icmp.begin(), icmp.end(), d.begin() + wire::kIpv4MinHeaderLen);
    wire::store_be16(d.data() + wire::ipv4_field::kChecksum,
                     wire::internet_checksum({d.data(), wire::kIpv4MinHeaderLen}));
    deliver(fuzz::ethernet_frame(wire::kEtherTypeIpv4, d));
  }

  // The "NIC": reads the SYN-ACKs (the handshakes need their seq) and frees.
  static uint16_t tx_sink(void *ctx, rte_mbuf **frames, uint16_t n) {
    auto *self = static_cast<Rig *>(ctx);
    for (uint16_t i = 0; i < n; ++i) {
      rte_mbuf *m = frames[i];
      std::vector<uint8_t> buf(rte_pktmbuf_pkt_len(m));
      const void *p = rte_pktmbuf_read(m, 0, static_cast<uint32_t>(buf.size()), buf.data());
      if (p != nullptr && p != buf.data())
        std::memcpy(buf.data(), p, buf.size());
      self->look_at_tx(buf);
      rte_pktmbuf_free(m);
    }
    return n;
  }
  void look_at_tx(std::span<const uint8_t> frame) {
    wire::EthernetRepr eth;
    wire::Ipv4Repr ip;
    wire::TcpRepr tcp;
    if (wire::parse_ethernet(frame, eth) != wire::ParseError::ok ||
        eth.ethertype != wire::kEtherTypeIpv4)
      return;
    const auto l3 = frame.subspan(wire::kEthernetHeaderLen);
    const wire::ParseError ip_error = wire::parse_ipv4(l3, true, ip);
    FUZZ_CHECK(ip_error == wire::ParseError::ok, "the shard sent a bad IPv4 header: %s",
               wire::to_string(ip_error));
    if (ip.protocol != wire::kIpProtoTcp)
      return;
    const wire::ParseError tcp_error =
        wire::parse_tcp(l3.subspan(ip.header_len, ip.payload_len), ip.src, ip.dst, true, tcp);
    FUZZ_CHECK(tcp_error == wire::ParseError::ok, "the shard sent a bad TCP segment: %s",
               wire::to_string(tcp_error));
    if (tcp.has(SYN) && tcp.has(ACK))
      synack_seq_ = tcp.seq;
  }

  Instant now_{std::chrono::seconds(1)};
  std::optional<shard::Shard> shard_;
  std::optional<shard::ShardTcp> tcp_;
  std::deque<Echo> apps_;
  std::optional<uint32_t> synack_seq_;
  uint32_t rcv_base_[kConns] = {kPeerIsn + 1, kPeerIsn + 1, kPeerIsn + 1};
  uint32_t snd_base_[kConns] = {};
};

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  test::ensure_eal();
  (void)pool();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const unsigned start = rte_mempool_avail_count(pool());
  {
    Rig rig;
    rig.open_connections();
    size_t off = 0;
    while (off + 3 <= size) {
      const uint8_t kind = data[off];
      const size_t len = std::min<size_t>(data[off + 1] | size_t{data[off + 2]} << 8, 4000);
      off += 3;
      const size_t n = std::min(len, size - off);
      rig.record(kind, std::span<const uint8_t>(data + off, n));
      off += n;
    }
  }
  const unsigned end = rte_mempool_avail_count(pool());
  FUZZ_CHECK(end == start, "mempool: %u mbufs before the input, %u after the shard is gone", start,
             end);
  return 0;
}
