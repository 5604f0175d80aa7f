// The trace's tcpdump-style lines, the Seg builder/matcher and the pcapng
// export (read back by tshark when it is installed, as on CI).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "eal_env.hpp"
#include "sim/link.hpp"
#include "sim/parsed_segment.hpp"
#include "sim/pcapng.hpp"
#include "sim/segment_builder.hpp"
#include "sim/trace.hpp"

namespace shoal::sim {
namespace {

using namespace wire::tcp_flags;

const SegDefaults kEnds{wire::Ipv4Addr::from_octets(198, 18, 0, 1),
                        wire::Ipv4Addr::from_octets(198, 18, 0, 2), 40000, 80, 65535};

TEST(SegmentFormat, SynWithOptionsLooksLikeTcpdump) {
  const auto bytes =
      Seg().flags(SYN).seq(123).win(65535).mss(1460).sack_perm().ts(1, 0).wscale(7).build(kEnds);
  const ParsedSegment p = parse_segment(bytes);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(format_segment(p), "198.18.0.1:40000 > 198.18.0.2:80 [S] seq 123 win 65535 "
                               "<mss 1460,sackOK,TS val 1 ecr 0,wscale 7> len 0");
}

TEST(SegmentFormat, DataAckFinRstAndSack) {
  auto line = [](const Seg &s) {
    const auto bytes = s.build(kEnds);
    return format_segment(parse_segment(bytes));
  };
  EXPECT_EQ(line(Seg().flags(ACK | PSH).seq(1000).ack(5).win(512).payload("hello")),
            "198.18.0.1:40000 > 198.18.0.2:80 [P.] seq 1000:1005 ack 5 win 512 len 5");
  EXPECT_EQ(line(Seg().flags(FIN | ACK).seq(7).ack(9).win(100)),
            "198.18.0.1:40000 > 198.18.0.2:80 [F.] seq 7 ack 9 win 100 len 0");
  EXPECT_EQ(line(Seg().flags(RST).seq(42).win(0)),
            "198.18.0.1:40000 > 198.18.0.2:80 [R] seq 42 win 0 len 0");
  EXPECT_EQ(
      line(Seg().flags(ACK).seq(1).ack(2).win(3).sack({{10, 20}, {30, 40}})),
      "198.18.0.1:40000 > 198.18.0.2:80 [.] seq 1 ack 2 win 3 <sack 2 {10:20} {30:40}> len 0");
  EXPECT_EQ(format_tcp_flags(0), "none");
  EXPECT_EQ(format_tcp_flags(SYN | ACK | ECE | CWR), "SWE.");
}

// The unit-test harness prints the same line without addresses.
TEST(SegmentFormat, WithoutAddressesThePortsOnly) {
  const auto bytes = Seg().flags(ACK | PSH).seq(1000).ack(5).win(512).payload("hello").build(kEnds);
  const ParsedSegment p = parse_segment(bytes);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(wire::format_tcp(p.tcp, p.payload_len()),
            "40000 > 80 [P.] seq 1000:1005 ack 5 win 512 len 5");
  EXPECT_EQ(wire::format_tcp(p.tcp, p.payload_len(), &p.ip), format_segment(p));
}

TEST(SegmentFormat, MalformedDatagramsSayWhy) {
  auto bytes = Seg().flags(SYN).build(kEnds);
  bytes[30] ^= 0x01; // inside the TCP header: TCP checksum breaks
  EXPECT_EQ(format_segment(parse_segment(bytes)),
            "198.18.0.1 > 198.18.0.2 <bad TCP: bad_checksum> len 20");
  bytes[0] = 0x65; // IPv4 version 6
  EXPECT_EQ(format_segment(parse_segment(bytes)), "<bad IPv4: bad_version>");
  EXPECT_EQ(format_segment(parse_segment(std::span<const uint8_t>{})), "<bad IPv4: truncated>");
}

TEST(SegBuilder, DefaultsAndRoundTrip) {
  const auto p_bytes = Seg().seq(5).ack(6).payload("abc").build(kEnds);
  const ParsedSegment p = parse_segment(p_bytes);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.ip.src, kEnds.src);
  EXPECT_EQ(p.ip.dst, kEnds.dst);
  EXPECT_EQ(p.tcp.src_port, 40000);
  EXPECT_EQ(p.tcp.dst_port, 80);
  EXPECT_EQ(p.tcp.flags, ACK) << "ack() given, no flags: ACK";
  EXPECT_EQ(p.tcp.window, 65535);
  EXPECT_EQ(p.seq_len(), 3u);
  EXPECT_EQ(std::string(p.payload.begin(), p.payload.end()), "abc");

  // parse_segment's spans point into the bytes: keep them alive.
  const auto q_bytes = Seg().flags(SYN | FIN).len(30).build(kEnds);
  const auto q = parse_segment(q_bytes);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(std::string(q.payload.begin(), q.payload.begin() + 4), "abcd");
  EXPECT_EQ(q.seq_len(), 32u);

  const auto bad_bytes = Seg().flags(SYN).bad_checksum().build(kEnds);
  const auto bad = parse_segment(bad_bytes);
  EXPECT_EQ(bad.tcp_error, wire::ParseError::bad_checksum);
}

TEST(SegBuilder, PatternsMatchOnlyTheFieldsGiven) {
  const auto bytes = Seg()
                         .flags(SYN | ACK)
                         .seq(1000)
                         .ack(101)
                         .win(29200)
                         .mss(1460)
                         .sack_perm()
                         .ts(77, 5)
                         .wscale(7)
                         .build(kEnds);
  const ParsedSegment p = parse_segment(bytes);
  std::string why;
  EXPECT_TRUE(Seg().matches(p, &why)) << why;
  EXPECT_TRUE(Seg().flags(SYN | ACK).ack(101).matches(p, &why)) << why;
  EXPECT_TRUE(
      Seg().flags(SYN | ACK).ack(101).mss(1460).ts_ecr(5).wscale(7).sack_perm().matches(p, &why))
      << why;

  EXPECT_FALSE(Seg().flags(SYN).ack(100).matches(p, &why));
  EXPECT_EQ(why, "flags: expected [S], got [S.]; ack: expected 100, got 101");
  EXPECT_FALSE(Seg().no_ts().matches(p, &why));
  EXPECT_EQ(why, "TS: expected absent, got present");
  EXPECT_FALSE(Seg().no_options().matches(p, &why));
  EXPECT_FALSE(Seg().len(1).matches(p, &why));
  EXPECT_EQ(why, "len: expected 1, got 0");
  EXPECT_FALSE(Seg().mss(536).matches(p, &why));
  EXPECT_EQ(why, "mss: expected 536, got 1460");

  EXPECT_EQ(Seg().flags(SYN | ACK).ack(101).mss(1460).describe(), "[S.] ack 101 <mss 1460>");
  EXPECT_EQ(Seg().ack(3).describe(), "[*] ack 3");

  const auto malformed_bytes = Seg().flags(ACK).bad_checksum().build(kEnds);
  const auto malformed = parse_segment(malformed_bytes);
  EXPECT_FALSE(Seg().matches(malformed, &why));
  EXPECT_NE(why.find("bad_checksum"), std::string::npos) << why;
}

TEST(TraceFormat, TimesDirectionsFatesAndNotes) {
  Trace t(instant_from_ns(0), {"A", "B"});
  const auto syn = Seg().flags(SYN).seq(1).build(kEnds);
  t.add_segment(instant_from_ns(12'345'678'901), Direction::a_to_b, syn).fate = Fate::lost;
  auto &e = t.add_segment(instant_from_ns(13'000'000'000), Direction::b_to_a, syn);
  e.duplicated = true;
  e.corrupted = true;
  e.corrupt_bit = 93;
  t.note(instant_from_ns(14'000'000'000), "A: close()");
  EXPECT_EQ(t.format(),
            "12.345678 A>B 198.18.0.1:40000 > 198.18.0.2:80 [S] seq 1 win 65535 len 0 (lost)\n"
            "13.000000 B>A 198.18.0.1:40000 > 198.18.0.2:80 [S] seq 1 win 65535 len 0 "
            "(duplicated) (corrupted: bit 93)\n"
            "14.000000 -- A: close()\n");
  t.set_enabled(false);
  t.add_segment(instant_from_ns(0), Direction::a_to_b, syn);
  t.note(instant_from_ns(0), "x");
  EXPECT_EQ(t.size(), 3u);
}

// Walks the pcapng blocks: every block's leading and trailing lengths agree
// and the blocks tile the file exactly.
TEST(Pcapng, BlocksAreWellFormed) {
  Trace t;
  t.add_segment(instant_from_ns(1'500'000'000), Direction::a_to_b,
                Seg().flags(SYN).seq(1).mss(1460).build(kEnds));
  t.add_segment(instant_from_ns(1'501'000'001), Direction::b_to_a,
                Seg().flags(SYN | ACK).seq(9).ack(2).payload("x").build(kEnds))
      .fate = Fate::lost;
  t.note(instant_from_ns(2'000'000'000), "notes are not packets");
  const auto bytes = encode_pcapng(t);
  auto u32 = [&](size_t off) {
    uint32_t v;
    std::memcpy(&v, &bytes[off], 4);
    return v;
  };
  std::vector<uint32_t> types;
  size_t off = 0;
  while (off < bytes.size()) {
    ASSERT_LE(off + 12, bytes.size());
    const uint32_t len = u32(off + 4);
    ASSERT_EQ(len % 4, 0u);
    ASSERT_LE(off + len, bytes.size());
    EXPECT_EQ(u32(off + len - 4), len) << "trailing length of block at " << off;
    types.push_back(u32(off));
    off += len;
  }
  EXPECT_EQ(off, bytes.size());
  EXPECT_EQ(types, (std::vector<uint32_t>{0x0A0D0D0A, 1, 1, 6, 6}));
  EXPECT_EQ(u32(8), 0x1A2B3C4Du);
}

std::string run(const std::string &cmd) {
  std::string out;
  if (FILE *p = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (size_t n = fread(buf, 1, sizeof buf, p))
      out.append(buf, n);
    pclose(p);
  }
  return out;
}

TEST(Pcapng, TsharkReadsTheCapture) {
  if (std::system("command -v tshark >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "tshark not installed";
  test::ensure_eal();
  rte_mempool *pool = test::make_pktmbuf_pool(64);
  Trace t;
  {
    LinkConfig cfg;
    Link ab(cfg, 1, pool, &t, Direction::a_to_b);
    Link ba(cfg, 2, pool, &t, Direction::b_to_a);
    ab.send(
        Seg().flags(SYN).seq(100).mss(1460).sack_perm().ts(1, 0).wscale(7).build_mbuf(pool, kEnds),
        instant_from_ns(1'000'000'000));
    ba.set_drop_filter(drop::all());
    ba.send(Seg()
                .flags(SYN | ACK)
                .seq(5000)
                .ack(101)
                .src_port(80)
                .dst_port(40000)
                .src(kEnds.dst)
                .dst(kEnds.src)
                .build_mbuf(pool, kEnds),
            instant_from_ns(1'001'000'500));
    ab.send(Seg()
                .flags(ACK | PSH)
                .seq(101)
                .ack(5001)
                .payload("GET / HTTP/1.0\r\n\r\n")
                .build_mbuf(pool, kEnds),
            instant_from_ns(1'002'000'000));
    while (rte_mbuf *m = ab.pop_due(instant_from_ns(10'000'000'000)))
      rte_pktmbuf_free(m);
  }
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("shoal-sim-" + std::to_string(getpid()) + ".pcapng"))
                               .string();
  ASSERT_TRUE(write_pcapng(t, path));
  const std::string out =
      run("tshark -r " + path +
          " -T fields -E separator='|' -e frame.interface_name -e frame.time_epoch -e ip.src "
          "-e tcp.srcport -e tcp.flags.str -e tcp.seq_raw -e tcp.len -e tcp.options.mss_val "
          "-e tcp.checksum.status -e frame.comment 2>/dev/null");
  std::filesystem::remove(path);
  const auto lines = [&] {
    std::vector<std::string> v;
    size_t pos = 0;
    while (pos < out.size()) {
      const size_t nl = out.find('\n', pos);
      v.push_back(out.substr(pos, nl - pos));
      pos = nl == std::string::npos ? out.size() : nl + 1;
    }
    return v;
  }();
  // Fields: interface|time|ip.src|srcport|flags|seq|len|mss|checksum status (2 = good)|comment
  ASSERT_EQ(lines.size(), 3u) << out;
  EXPECT_EQ(lines[0].substr(0, 4), "A>B|") << out;
  EXPECT_NE(lines[0].find("1.000000000"), std::string::npos) << out;
  EXPECT_NE(lines[0].find("|198.18.0.1|40000|"), std::string::npos) << out;
  EXPECT_NE(lines[0].find("|100|0|1460|2|198.18.0.1:40000 > 198.18.0.2:80 [S] seq 100 win"),
            std::string::npos)
      << "the trace's line as the comment: " << out;
  EXPECT_EQ(lines[1].substr(0, 4), "B>A|") << out;
  EXPECT_NE(lines[1].find("1.001000500"), std::string::npos) << "nanosecond timestamps: " << out;
  EXPECT_NE(lines[1].find("|filtered: 198.18.0.2:80 > 198.18.0.1:40000 [S.] seq 5000 ack 101"),
            std::string::npos)
      << "the fate, then the trace's line: " << out;
  EXPECT_NE(lines[2].find("|101|18||2|"), std::string::npos) << out;
}

} // namespace
} // namespace shoal::sim
