// Robustness: 100k random and mutated byte strings through every parser.
// Nothing may crash or read outside its span (each parser gets an exactly
// sized heap copy, so ASan sees any overread), and whatever a parser accepts
// must describe bytes that exist and survive emit -> parse again.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <random>
#include <string>

#include "wire/arp.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"
#include "wire_test_util.hpp"

namespace shoal::wire {
namespace {

using test::Bytes;
using test::hex;
using test::kHostA;
using test::kHostB;

constexpr uint32_t kSeed = 20261121; // fixed: a failure reproduces
constexpr int kIterations = 100'000;

struct Stats {
  std::array<size_t, kParseErrorCount> tcp{}, ipv4{}, icmp{}, arp{};
};

// Valid frames to mutate: ARP, a SYN with every option, a data segment with
// SACK blocks, an ICMP echo. Checksums correct, so light mutations still get
// deep into the parsers.
std::vector<Bytes> corpus() {
  const Bytes eth_ip = hex("020000000002 020000000001 0800");
  auto ip_frame = [&](uint8_t proto, Bytes l4) {
    Ipv4Repr ip;
    ip.src = kHostA;
    ip.dst = kHostB;
    ip.protocol = proto;
    ip.payload_len = static_cast<uint16_t>(l4.size());
    Bytes f = eth_ip;
    f.resize(f.size() + 20);
    emit_ipv4(ip, std::span<uint8_t>(f).subspan(14));
    f.insert(f.end(), l4.begin(), l4.end());
    return f;
  };
  auto tcp_seg = [](const TcpRepr &t, size_t payload) {
    Bytes s(tcp_header_len(t) + payload, 0x61);
    emit_tcp_header(t, s);
    set_tcp_checksum(s, tcp_checksum(kHostA, kHostB, s));
    return s;
  };
  TcpRepr syn;
  syn.src_port = 40000;
  syn.dst_port = 80;
  syn.seq = 12345;
  syn.flags = tcp_flags::SYN;
  syn.window = 64240;
  syn.options.mss = 1460;
  syn.options.sack_permitted = true;
  syn.options.timestamp = TcpTimestamp{1, 0};
  syn.options.window_scale = 7;
  TcpRepr data;
  data.src_port = 80;
  data.dst_port = 40000;
  data.flags = tcp_flags::ACK | tcp_flags::PSH;
  data.options.timestamp = TcpTimestamp{2, 1};
  data.options.sack_count = 3;
  data.options.sack = {{{1, 2}, {3, 4}, {5, 6}, {7, 8}}};
  TcpRepr sack4;
  sack4.flags = tcp_flags::ACK;
  sack4.options.sack_count = 4;
  Bytes echo(8 + 24);
  const Bytes ping_payload(24, 0x5a);
  emit_icmp_echo(IcmpEchoRepr{kIcmpEchoRequest, 0, 1, 2, ping_payload}, echo);

  return {
      hex("ffffffffffff 020000000001 0806 0001 0800 06 04 0001 020000000001 c6120001 "
          "000000000000 c6120002"),
      ip_frame(kIpProtoTcp, tcp_seg(syn, 0)),
      ip_frame(kIpProtoTcp, tcp_seg(data, 100)),
      ip_frame(kIpProtoTcp, tcp_seg(sack4, 1)),
      ip_frame(kIpProtoIcmp, echo),
  };
}

Bytes mutate(std::mt19937 &rng, const std::vector<Bytes> &seeds) {
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  Bytes b;
  if (pick(10) == 0) { // pure noise, any length up to a jumbo-ish frame
    b.resize(pick(pick(8) == 0 ? 2000 : 100));
    for (auto &x : b)
      x = static_cast<uint8_t>(rng());
    return b;
  }
  b = seeds[pick(seeds.size())];
  const size_t edits = 1 + pick(4);
  for (size_t e = 0; e < edits && !b.empty(); ++e) {
    switch (pick(6)) {
    case 0: // flip a bit
      b[pick(b.size())] ^= static_cast<uint8_t>(1u << pick(8));
      break;
    case 1: // random byte
      b[pick(b.size())] = static_cast<uint8_t>(rng());
      break;
    case 2: { // interesting value where lengths and offsets live
      static constexpr uint8_t kInteresting[] = {0x00, 0x01, 0x02, 0x04, 0x0a, 0x0f, 0x10, 0x40,
                                                 0x45, 0x4f, 0x50, 0x7f, 0x80, 0xf0, 0xfe, 0xff};
      b[pick(b.size())] = kInteresting[pick(sizeof kInteresting)];
      break;
    }
    case 3: // truncate
      b.resize(pick(b.size() + 1));
      break;
    case 4: // extend
      b.resize(b.size() + pick(64), static_cast<uint8_t>(rng()));
      break;
    case 5: { // cut a piece out of the middle
      const size_t at = pick(b.size());
      const size_t n = std::min(b.size() - at, 1 + pick(8));
      b.erase(b.begin() + static_cast<ptrdiff_t>(at), b.begin() + static_cast<ptrdiff_t>(at + n));
      break;
    }
    }
  }
  return b;
}

// Each parser layer gets its own exact-size copy of its input.
std::string check_tcp(std::span<const uint8_t> in, bool verify, Stats &stats) {
  const Bytes seg(in.begin(), in.end());
  TcpRepr t;
  const ParseError e = parse_tcp(seg, kHostA, kHostB, verify, t);
  ++stats.tcp[static_cast<size_t>(e)];
  if (e != ParseError::ok)
    return {};
  if (t.header_len < kTcpMinHeaderLen || t.header_len > kTcpMaxHeaderLen || t.header_len % 4 != 0 ||
      t.header_len > seg.size())
    return "tcp header_len " + std::to_string(t.header_len);
  if (t.options.sack_count > kTcpMaxSackBlocks)
    return "tcp sack_count " + std::to_string(t.options.sack_count);
  // What was accepted survives emit -> parse (SACK blocks trimmed to fit).
  Bytes again(tcp_header_len(t));
  emit_tcp_header(t, again);
  set_tcp_checksum(again, tcp_checksum(kHostA, kHostB, again));
  TcpRepr back;
  if (const ParseError e2 = parse_tcp(again, kHostA, kHostB, true, back); e2 != ParseError::ok)
    return std::string("re-emitted tcp rejected: ") + to_string(e2);
  TcpOptions want = t.options;
  want.sack_count = static_cast<uint8_t>(tcp_emitted_sack_blocks(t.options));
  if (!(back.options == want) || back.seq != t.seq || back.ack != t.ack || back.flags != t.flags)
    return "re-emitted tcp differs";
  return {};
}

std::string check_icmp(std::span<const uint8_t> in, bool verify, Stats &stats) {
  const Bytes msg(in.begin(), in.end());
  IcmpEchoRepr r;
  const ParseError e = parse_icmp_echo(msg, verify, r);
  ++stats.icmp[static_cast<size_t>(e)];
  if (e != ParseError::ok)
    return {};
  if (r.payload.data() != msg.data() + kIcmpEchoHeaderLen ||
      r.payload.size() != msg.size() - kIcmpEchoHeaderLen)
    return "icmp payload outside the message";
  return {};
}

std::string check_ipv4(std::span<const uint8_t> in, bool verify, Stats &stats) {
  const Bytes d(in.begin(), in.end());
  Ipv4Repr ip;
  const ParseError e = parse_ipv4(d, verify, ip);
  ++stats.ipv4[static_cast<size_t>(e)];
  if (e != ParseError::ok)
    return {};
  if (ip.header_len < kIpv4MinHeaderLen || ip.header_len > kIpv4MaxHeaderLen ||
      size_t{ip.header_len} + ip.payload_len > d.size())
    return "ipv4 lengths beyond the datagram";
  const auto payload = std::span<const uint8_t>(d).subspan(ip.header_len, ip.payload_len);
  if (ip.protocol == kIpProtoTcp)
    return check_tcp(payload, verify, stats);
  if (ip.protocol == kIpProtoIcmp)
    return check_icmp(payload, verify, stats);
  return {};
}

std::string check_frame(std::span<const uint8_t> in, bool verify, Stats &stats) {
  const Bytes f(in.begin(), in.end());
  EthernetRepr eth;
  if (parse_ethernet(f, eth) != ParseError::ok)
    return f.size() < kEthernetHeaderLen ? std::string{} : "ethernet rejected a full header";
  const auto payload = std::span<const uint8_t>(f).subspan(kEthernetHeaderLen);
  if (eth.ethertype == kEtherTypeArp) {
    const Bytes a(payload.begin(), payload.end());
    ArpRepr arp;
    const ParseError e = parse_arp(a, arp);
    ++stats.arp[static_cast<size_t>(e)];
    if (e == ParseError::ok) {
      Bytes again(kArpLen);
      emit_arp(arp, again);
      ArpRepr back;
      if (parse_arp(again, back) != ParseError::ok || !(back == arp))
        return "re-emitted arp differs";
    }
    return {};
  }
  return check_ipv4(payload, verify, stats);
}

TEST(RandomInput, HundredThousandMutatedFramesNeverCrashAnyParser) {
  std::mt19937 rng(kSeed);
  const auto seeds = corpus();
  Stats stats;
  for (int i = 0; i < kIterations; ++i) {
    const Bytes b = mutate(rng, seeds);
    const bool verify = (i % 2) == 0; // half as if offload had validated checksums
    std::string failure = check_frame(b, verify, stats);
    // Every parser also sees the raw bytes and the bytes past each header, so
    // each one gets inputs that did not pass the layer in front of it.
    for (size_t off : {size_t{0}, size_t{14}, size_t{34}}) {
      if (!failure.empty() || off > b.size())
        break;
      const auto at = std::span<const uint8_t>(b).subspan(off);
      ArpRepr arp;
      const Bytes copy(at.begin(), at.end());
      (void)parse_arp(copy, arp);
      failure = check_ipv4(at, verify, stats);
      if (failure.empty())
        failure = check_tcp(at, verify, stats);
      if (failure.empty())
        failure = check_icmp(at, verify, stats);
    }
    ASSERT_TRUE(failure.empty()) << "seed " << kSeed << " iteration " << i << " verify " << verify
                                 << ": " << failure << "\n"
                                 << test::dump(b);
  }
  // The run is only worth something if mutated input got past the checks
  // into option parsing and beyond, and the checks fired too.
  auto report = [](const char *what, const auto &counts) {
    std::string s = what;
    for (size_t r = 0; r < kParseErrorCount; ++r)
      if (counts[r] != 0)
        s += std::string(" ") + to_string(static_cast<ParseError>(r)) + "=" +
             std::to_string(counts[r]);
    return s;
  };
  const auto ok = static_cast<size_t>(ParseError::ok);
  const std::string summary = report("tcp", stats.tcp) + "\n" + report("ipv4", stats.ipv4) + "\n" +
                              report("icmp", stats.icmp) + "\n" + report("arp", stats.arp);
  std::printf("%s\n", summary.c_str()); // how deep the mutated inputs got
  SCOPED_TRACE(summary);
  EXPECT_GT(stats.tcp[ok], 1000u);
  EXPECT_GT(stats.ipv4[ok], 1000u);
  EXPECT_GT(stats.icmp[ok], 100u);
  EXPECT_GT(stats.arp[ok], 100u);
  for (ParseError e :
       {ParseError::bad_option_length, ParseError::option_overrun, ParseError::bad_data_offset,
        ParseError::bad_checksum, ParseError::bad_ihl, ParseError::bad_total_length})
    EXPECT_GT(stats.tcp[static_cast<size_t>(e)] + stats.ipv4[static_cast<size_t>(e)], 0u)
        << to_string(e);
}

} // namespace
} // namespace shoal::wire
