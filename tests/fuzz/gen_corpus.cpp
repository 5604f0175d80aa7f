// Writes the seed corpora of the fuzz targets from simulation traces:
//   gen_corpus <corpus root>   (tests/fuzz/corpus; run once, commit the output)
//
// Two engines exchange data over a lossy, reordering link (lib/sim, BulkApp);
// the datagrams of the trace become
//   fuzz_wire/   frames and bare datagrams as they were on the wire, plus ARP,
//                ICMP echo and address text;
//   fuzz_shard/  the client's segments as aimed records (seq/ack as offsets
//                from the receiver's RCV.NXT / SND.UNA), interleaved with ticks;
//   fuzz_conn/   the same conversation as connection records (conn_records.hpp),
//                from the server's side and from the client's, plus a few
//                hand-made paths (zero window, in-window RST/SYN, keepalive
//                idle, close in every order).
// Output is deterministic (fixed seeds): rerunning it rewrites the same files.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "conn_records.hpp"
#include "eal_env.hpp"
#include "frame_builder.hpp"
#include "sim/bulk_app.hpp"
#include "sim/parsed_segment.hpp"
#include "sim/simulation.hpp"
#include "sim/stream_pattern.hpp"
#include "wire/bytes.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace fs = std::filesystem;
using namespace shoal;
using namespace std::chrono_literals;
using namespace shoal::wire::tcp_flags;

namespace {

void write_file(const fs::path &dir, const std::string &name, const std::vector<uint8_t> &bytes) {
  fs::create_directories(dir);
  std::ofstream f(dir / name, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

struct Conversation {
  std::vector<sim::TraceEntry> entries; // delivered segments only, in send order
};

// A connects to B:80; both send `bytes`, A half-closes, B closes when done.
Conversation run_sim(uint64_t seed, uint64_t bytes, double loss, double reorder) {
  rte_mempool *pool = test::make_pktmbuf_pool(8192);
  Conversation out;
  {
    sim::SimConfig c;
    c.seed = seed;
    c.pool_a = pool;
    for (auto *e : {&c.a, &c.b}) {
      e->msl = 1s;
      e->tx_checksum_offload = true;
    }
    for (auto *l : {&c.a_to_b, &c.b_to_a}) {
      l->loss = loss;
      l->reorder = reorder;
    }
    sim::Simulation s(c);
    sim::BulkScript a, b;
    a.send_bytes = b.expect_bytes = bytes;
    b.send_bytes = a.expect_bytes = bytes;
    a.send_pattern = b.expect_pattern = sim::StreamPattern(0xA);
    b.send_pattern = a.expect_pattern = sim::StreamPattern(0xB);
    b.ending = sim::BulkScript::Ending::close_when_done;
    sim::BulkServer server(s, b, "B");
    sim::BulkApp client(s, a, "A");
    s.b().listen(80, server.factory());
    client.attach(s.a().connect(s.address_b(), 80, &client));
    s.run_until_idle(s.now() + 120s);
    for (const auto &e : s.trace().entries())
      if (e.kind == sim::TraceEntry::Kind::segment && e.fate == sim::Fate::delivered)
        out.entries.push_back(e);
  }
  rte_mempool_free(pool);
  return out;
}

// Rewrites the seq/ack fields of `from`'s segments as offsets from the
// receiver's RCV.NXT and the sender's view of SND.UNA, the way the aimed
// records of both stateful targets read them.
struct OffsetTracker {
  bool have = false;
  uint32_t rcv_nxt = 0, snd_una = 0;
  // Returns {seq offset, ack offset} and advances the tracker.
  std::pair<int32_t, int32_t> next(const sim::ParsedSegment &p) {
    if (!have && !p.has(SYN)) {
      rcv_nxt = p.tcp.seq;
      snd_una = p.tcp.ack;
      have = true;
    }
    const auto seq_off = static_cast<int32_t>(p.tcp.seq - rcv_nxt);
    const auto ack_off = static_cast<int32_t>(p.tcp.ack - snd_una);
    const uint32_t end = p.tcp.seq + p.seq_len();
    if (static_cast<int32_t>(end - rcv_nxt) > 0 && seq_off <= 0)
      rcv_nxt = end;
    if (p.has(ACK) && static_cast<int32_t>(p.tcp.ack - snd_una) > 0)
      snd_una = p.tcp.ack;
    return {seq_off, ack_off};
  }
};

void wire_corpus(const fs::path &dir, const Conversation &conv) {
  unsigned n = 0;
  // The first segments of each kind (SYN, SYN-ACK, data, FIN, ...), at most 6 each.
  std::map<uint8_t, unsigned> per_flags;
  for (const auto &e : conv.entries) {
    const auto p = sim::parse_segment(std::span<const uint8_t>(e.bytes));
    if (!p.ok() || per_flags[p.tcp.flags]++ >= 6)
      continue;
    std::vector<uint8_t> d = e.bytes;
    if (d.size() > 300)
      d.resize(300); // truncated on purpose: the parsers must reject it by length
    write_file(dir, "frame-" + std::to_string(n),
               fuzz::ethernet_frame(wire::kEtherTypeIpv4, e.bytes));
    write_file(dir, "ip-" + std::to_string(n), e.bytes.size() <= 300 ? e.bytes : d);
    ++n;
  }
  write_file(dir, "arp-request", fuzz::arp_request_from_peer());
  std::vector<uint8_t> icmp(wire::kIcmpEchoHeaderLen + 16, 'p');
  wire::emit_icmp_echo(wire::IcmpEchoRepr{wire::kIcmpEchoRequest, 0, 7, 1,
                                          std::span<const uint8_t>(icmp).subspan(8)},
                       icmp);
  std::vector<uint8_t> ip(wire::kIpv4MinHeaderLen + icmp.size());
  wire::Ipv4Repr r;
  r.src = fuzz::kPeerIp;
  r.dst = fuzz::kShardIp;
  r.protocol = wire::kIpProtoIcmp;
  r.payload_len = static_cast<uint16_t>(icmp.size());
  wire::emit_ipv4(r, ip);
  std::copy(icmp.begin(), icmp.end(), ip.begin() + wire::kIpv4MinHeaderLen);
  write_file(dir, "icmp-echo", fuzz::ethernet_frame(wire::kEtherTypeIpv4, ip));
  for (const char *text :
       {"198.18.0.1", "02:00:00:00:00:01", "255.255.255.255", "aa-BB-cc-00-11-22"})
    write_file(dir, std::string("text-") + text,
               std::vector<uint8_t>(text, text + std::char_traits<char>::length(text)));
}

void shard_corpus(const fs::path &dir, const Conversation &conv) {
  // The client's (A>B) segments after the handshake, in chunks of 24, aimed
  // at connection 0..2 in turn; a tick after every 8.
  OffsetTracker tr;
  std::vector<uint8_t> in;
  unsigned files = 0, in_file = 0;
  for (const auto &e : conv.entries) {
    if (e.dir != sim::Direction::a_to_b)
      continue;
    const auto p = sim::parse_segment(std::span<const uint8_t>(e.bytes));
    if (!p.ok() || p.has(SYN))
      continue;
    const auto [seq_off, ack_off] = tr.next(p);
    std::vector<uint8_t> d = e.bytes;
    uint8_t *t = d.data() + p.ip.header_len;
    wire::store_be32(t + wire::tcp_field::kSeq, static_cast<uint32_t>(seq_off));
    wire::store_be32(t + wire::tcp_field::kAck, static_cast<uint32_t>(ack_off));
    in.push_back(static_cast<uint8_t>(0x01 | (files % 3) << 1));
    in.push_back(static_cast<uint8_t>(d.size()));
    in.push_back(static_cast<uint8_t>(d.size() >> 8));
    in.insert(in.end(), d.begin(), d.end());
    if (++in_file % 8 == 0)
      in.insert(in.end(), {0x10, 4, 0, 0, 0, 0, 0}); // tick 40 ms
    if (in_file == 24) {
      write_file(dir, "aimed-" + std::to_string(files++), in);
      in.clear();
      in_file = 0;
      if (files == 12)
        break;
    }
  }
  // Raw frames: a stray segment (RST to a closed port), ARP, ICMP echo, a long idle.
  for (const auto &e : conv.entries) {
    const auto frame = fuzz::ethernet_frame(wire::kEtherTypeIpv4, e.bytes);
    std::vector<uint8_t> raw = {0x00, static_cast<uint8_t>(frame.size()),
                                static_cast<uint8_t>(frame.size() >> 8)};
    raw.insert(raw.end(), frame.begin(), frame.end());
    const auto arp = fuzz::arp_request_from_peer();
    raw.insert(raw.end(), {0x00, static_cast<uint8_t>(arp.size()), 0});
    raw.insert(raw.end(), arp.begin(), arp.end());
    raw.insert(raw.end(), {0x10, 0xff, 0});
    raw.insert(raw.end(), 255, 0);
    write_file(dir, "raw-frames", raw);
    break;
  }
}

// The conversation from one end's point of view: the engine under test is
// the receiver of `dir`'s segments.
std::vector<uint8_t> conn_input(const Conversation &conv, sim::Direction dir, uint8_t setup,
                                size_t max_records, bool write_back) {
  std::vector<uint8_t> in = {setup, 7};
  OffsetTracker tr;
  Instant last{};
  bool first = true;
  size_t n = 0;
  for (const auto &e : conv.entries) {
    if (e.dir != dir)
      continue;
    const auto p = sim::parse_segment(std::span<const uint8_t>(e.bytes));
    if (!p.ok() || p.has(SYN))
      continue; // the target's preamble does the handshake
    const auto [seq_off, ack_off] = tr.next(p);
    fuzz::ConnRecord r;
    r.delta = first ? Duration{} : e.at - last;
    first = false;
    last = e.at;
    r.flags = p.tcp.flags;
    r.act = fuzz::kActConsume;
    if (p.tcp.options.timestamp)
      r.act |= fuzz::kOptTimestamp;
    if (p.tcp.options.sack_count > 0)
      r.act |= fuzz::kOptSack;
    if (write_back && n % 4 == 0)
      r.act |= fuzz::kActWrite;
    r.seq_off = seq_off;
    r.ack_off = ack_off;
    r.window = p.tcp.window;
    r.payload_len = static_cast<uint16_t>(p.payload_len());
    fuzz::encode_record(r, in);
    if (++n == max_records)
      break;
  }
  return in;
}

std::vector<uint8_t> handmade(uint8_t setup, std::initializer_list<fuzz::ConnRecord> records) {
  std::vector<uint8_t> in = {setup, 7};
  for (const auto &r : records)
    fuzz::encode_record(r, in);
  return in;
}

void conn_corpus(const fs::path &dir, const Conversation &conv) {
  const uint8_t opts = fuzz::kSetupTimestamps | fuzz::kSetupSack | fuzz::kSetupWscale;
  write_file(dir, "server-side", conn_input(conv, sim::Direction::a_to_b, opts, 200, true));
  write_file(dir, "client-side",
             conn_input(conv, sim::Direction::b_to_a, opts | fuzz::kSetupActive, 200, false));
  write_file(dir, "server-plain", conn_input(conv, sim::Direction::a_to_b, 0, 60, true));
  write_file(dir, "server-cubic-nodelack",
             conn_input(conv, sim::Direction::a_to_b,
                        opts | fuzz::kSetupCubic | fuzz::kSetupNoDelayedAck, 120, true));
  using R = fuzz::ConnRecord;
  const uint8_t pa = PSH | ACK;
  // Zero window: a 4 KiB buffer nobody reads, then the reader wakes up.
  write_file(dir, "zero-window",
             handmade(opts | fuzz::kSetupSmallRcvBuf,
                      {R{0ms, pa, fuzz::kOptTimestamp, 0, 0, 512, 1448},
                       R{1ms, pa, fuzz::kOptTimestamp, 1448, 0, 512, 1448},
                       R{1ms, pa, fuzz::kOptTimestamp, 2896, 0, 512, 1448},
                       R{1ms, pa, fuzz::kOptTimestamp, 4344, 0, 512, 1448},
                       R{300ms, ACK, fuzz::kActConsume | fuzz::kOptTimestamp, 0, 0, 512, 0},
                       R{1ms, pa, fuzz::kOptTimestamp, 0, 0, 512, 1000}}));
  // Blind-ish injection: RST and SYN in window, data far out of window.
  write_file(dir, "in-window-rst-syn",
             handmade(opts, {R{0ms, RST, 0, 100, 0, 0, 0}, R{1ms, SYN, 0, 10, 0, 1000, 0},
                             R{1ms, RST | ACK, 0, 0, 0, 0, 0}, R{1ms, pa, 0, 1 << 30, 5, 100, 100},
                             R{1ms, ACK, 0, 0, -(1 << 30), 100, 0}}));
  // Our data lost and retransmitted, SACKed, then the peer acks it all.
  write_file(dir, "send-and-sack",
             handmade(opts, {R{0ms, ACK, fuzz::kActWrite, 0, 0, 65535, 3000},
                             R{10ms, ACK, fuzz::kActWrite | fuzz::kOptSack, 0, 0, 1448, 0},
                             R{1ms, ACK, fuzz::kOptSack, 0, 0, 2896, 0},
                             R{1ms, ACK, fuzz::kOptSack, 0, 0, 4344, 0},
                             R{500ms, ACK, 0, 0, 12000, 65535, 0}}));
  // Idle into keepalive, then close in each order.
  write_file(dir, "idle-then-close",
             handmade(0, {R{40s, ACK, fuzz::kActAdvanceOnly, 0, 0, 0, 0},
                          R{1ms, FIN | ACK, fuzz::kActShutdown, 0, 0, 1000, 0},
                          R{10s, ACK, fuzz::kActClose, 1, 1, 1000, 0}}));
  write_file(dir, "we-close-first",
             handmade(opts, {R{0ms, ACK, fuzz::kActClose, 0, 0, 1000, 0},
                             R{1ms, ACK, 0, 0, 1, 1000, 0}, R{1ms, FIN | ACK, 0, 0, 1, 1000, 0},
                             R{20s, ACK, fuzz::kActAdvanceOnly, 0, 0, 0, 0}}));
  write_file(dir, "abort",
             handmade(0, {R{0ms, pa, fuzz::kActShutdown | fuzz::kActClose, 0, 0, 10, 10}}));
  write_file(dir, "active-no-handshake",
             handmade(fuzz::kSetupActive | fuzz::kSetupNoHandshake | opts,
                      {R{0ms, SYN, 0, 0, 0, 65535, 0}, R{1ms, ACK, 0, 1, 1, 65535, 0},
                       R{5s, SYN | ACK, 0, 0, 1, 65535, 0}}));
  write_file(dir, "passive-no-handshake",
             handmade(fuzz::kSetupNoHandshake | opts,
                      {R{0ms, SYN, 0, 0, 0, 65535, 0}, R{1ms, ACK, 0, 1, 1, 65535, 0},
                       R{2s, ACK, 0, 1, 1, 65535, 0}}));
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: gen_corpus <corpus root, e.g. tests/fuzz/corpus>\n");
    return 2;
  }
  const fs::path root = argv[1];
  test::ensure_eal();
  const Conversation clean = run_sim(11, 24 * 1024, 0.0, 0.0);
  const Conversation lossy = run_sim(12, 48 * 1024, 0.03, 0.05);
  wire_corpus(root / "fuzz_wire", clean);
  shard_corpus(root / "fuzz_shard", lossy);
  conn_corpus(root / "fuzz_conn", clean);
  std::printf("gen_corpus: wrote %s (%zu + %zu trace segments)\n", root.c_str(),
              clean.entries.size(), lossy.entries.size());
  return 0;
}
