// The table of malformed inputs: each is rejected with its named reason.
// Inputs are built from a valid packet and one deliberate defect, with every
// other field (checksums included) correct, so the row tests that one check.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "wire/arp.hpp"
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

enum class Format { ethernet, arp, ipv4, icmp, tcp };

const char *name(Format f) {
  switch (f) {
  case Format::ethernet:
    return "ethernet";
  case Format::arp:
    return "arp";
  case Format::ipv4:
    return "ipv4";
  case Format::icmp:
    return "icmp";
  case Format::tcp:
    return "tcp";
  }
  return "?";
}

ParseError run(Format f, std::span<const uint8_t> b) {
  switch (f) {
  case Format::ethernet: {
    EthernetRepr r;
    return parse_ethernet(b, r);
  }
  case Format::arp: {
    ArpRepr r;
    return parse_arp(b, r);
  }
  case Format::ipv4: {
    Ipv4Repr r;
    return parse_ipv4(b, true, r);
  }
  case Format::icmp: {
    IcmpEchoRepr r;
    return parse_icmp_echo(b, true, r);
  }
  case Format::tcp: {
    TcpRepr r;
    return parse_tcp(b, kHostA, kHostB, true, r);
  }
  }
  return ParseError::ok;
}

struct Row {
  std::string what;
  Format format;
  Bytes bytes;
  ParseError expect;
};

Bytes arp_with(size_t offset, Bytes patch) {
  Bytes b = hex("0001 0800 06 04 0001 020000000001 c6120001 000000000000 c6120002");
  std::copy(patch.begin(), patch.end(), b.begin() + static_cast<ptrdiff_t>(offset));
  return b;
}

// A 20-byte IPv4 header followed by `extra` payload bytes; `edit` changes it
// before the checksum is fixed.
Bytes ipv4_with(const std::function<void(Bytes &)> &edit, size_t extra = 0) {
  Bytes b = hex("4500 0014 0000 4000 4006 0000 c6120001 c6120002");
  b.resize(20 + extra, 0);
  b[3] = static_cast<uint8_t>(20 + extra);
  edit(b);
  const size_t ihl = size_t{b[0] & 0x0fu} * 4;
  test::fix_checksum_at(b, 10, std::min(std::max<size_t>(ihl, 20), b.size()));
  return b;
}

Bytes icmp_with(uint8_t type, uint8_t code) {
  Bytes b = hex("08 00 0000 1234 0001 6162636465666768");
  b[0] = type;
  b[1] = code;
  test::fix_checksum_at(b, 2, b.size());
  return b;
}

// A TCP header carrying exactly these option bytes (padded with EOL to a
// multiple of 4), with a correct checksum.
Bytes tcp_with_options(const Bytes &opts) {
  Bytes b = hex("9c40 0050 00000001 00000000 50 02 ffff 0000 0000");
  b.insert(b.end(), opts.begin(), opts.end());
  while (b.size() % 4)
    b.push_back(0);
  b[12] = static_cast<uint8_t>((b.size() / 4) << 4);
  test::fix_tcp_checksum(b, kHostA, kHostB);
  return b;
}

std::vector<Row> malformed_rows() {
  using E = ParseError;
  std::vector<Row> rows = {
      // Ethernet
      {"empty frame", Format::ethernet, {}, E::truncated},
      {"13-byte frame", Format::ethernet, Bytes(13, 0xff), E::truncated},
      // ARP (RFC 826)
      {"27-byte ARP", Format::arp,
       [] {
         Bytes b = arp_with(0, {});
         b.pop_back();
         return b;
       }(),
       E::truncated},
      {"ARP htype 6 (IEEE 802)", Format::arp, arp_with(0, hex("0006")), E::bad_hardware_type},
      {"ARP ptype IPv6", Format::arp, arp_with(2, hex("86dd")), E::bad_protocol_type},
      {"ARP hlen 8", Format::arp, arp_with(4, hex("08")), E::bad_address_length},
      {"ARP plen 16", Format::arp, arp_with(5, hex("10")), E::bad_address_length},
      {"ARP op 0", Format::arp, arp_with(6, hex("0000")), E::bad_arp_op},
      {"ARP op 3 (RARP request)", Format::arp, arp_with(6, hex("0003")), E::bad_arp_op},
      // IPv4 (RFC 791)
      {"19-byte IPv4", Format::ipv4, Bytes(19, 0x45), E::truncated},
      {"IP version 6", Format::ipv4, ipv4_with([](Bytes &b) { b[0] = 0x65; }), E::bad_version},
      {"IP version 0", Format::ipv4, ipv4_with([](Bytes &b) { b[0] = 0x05; }), E::bad_version},
      {"IHL 4", Format::ipv4, ipv4_with([](Bytes &b) { b[0] = 0x44; }), E::bad_ihl},
      {"IHL 0", Format::ipv4, ipv4_with([](Bytes &b) { b[0] = 0x40; }), E::bad_ihl},
      {"IHL 15 in 40 bytes", Format::ipv4, ipv4_with([](Bytes &b) { b[0] = 0x4f; }, 20),
       E::bad_ihl},
      {"total length 19", Format::ipv4, ipv4_with([](Bytes &b) { b[3] = 19; }),
       E::bad_total_length},
      {"total length past the bytes", Format::ipv4, ipv4_with([](Bytes &b) { b[3] = 41; }, 20),
       E::bad_total_length},
      {"total length < IHL*4 with options", Format::ipv4,
       ipv4_with(
           [](Bytes &b) {
             b[0] = 0x46;
             b[3] = 22;
           },
           8),
       E::bad_total_length},
      {"IP header checksum off by one", Format::ipv4,
       [] {
         Bytes b = ipv4_with([](Bytes &) {});
         b[11] ^= 0x01;
         return b;
       }(),
       E::bad_checksum},
      {"IP source corrupted after checksum", Format::ipv4,
       [] {
         Bytes b = ipv4_with([](Bytes &) {});
         b[12] ^= 0x80;
         return b;
       }(),
       E::bad_checksum},
      // ICMP (RFC 792)
      {"7-byte ICMP", Format::icmp, Bytes(7, 0), E::truncated},
      {"ICMP checksum wrong", Format::icmp,
       [] {
         Bytes b = icmp_with(8, 0);
         b.back() ^= 0x10;
         return b;
       }(),
       E::bad_checksum},
      {"ICMP destination unreachable", Format::icmp, icmp_with(3, 3), E::bad_icmp_type},
      {"ICMP timestamp request", Format::icmp, icmp_with(13, 0), E::bad_icmp_type},
      {"ICMP redirect", Format::icmp, icmp_with(5, 1), E::bad_icmp_type},
      // TCP (RFC 9293 3.1)
      {"19-byte TCP", Format::tcp, Bytes(19, 0), E::truncated},
      {"data offset 4", Format::tcp,
       [] {
         Bytes b = tcp_with_options({});
         b[12] = 0x40;
         test::fix_tcp_checksum(b, kHostA, kHostB);
         return b;
       }(),
       E::bad_data_offset},
      {"data offset 0", Format::tcp,
       [] {
         Bytes b = tcp_with_options({});
         b[12] = 0x00;
         test::fix_tcp_checksum(b, kHostA, kHostB);
         return b;
       }(),
       E::bad_data_offset},
      {"data offset 6 in a 20-byte segment", Format::tcp,
       [] {
         Bytes b = tcp_with_options({});
         b[12] = 0x60;
         test::fix_tcp_checksum(b, kHostA, kHostB);
         return b;
       }(),
       E::bad_data_offset},
      {"TCP checksum wrong", Format::tcp,
       [] {
         Bytes b = tcp_with_options(hex("020405b4"));
         b[16] ^= 0x40;
         return b;
       }(),
       E::bad_checksum},
      {"TCP payload corrupted", Format::tcp,
       [] {
         Bytes b = tcp_with_options({});
         b.push_back('x');
         return b; // checksum computed without the byte
       }(),
       E::bad_checksum},
      // TCP options (RFC 9293 3.2, RFC 7323, RFC 2018)
      {"option length 0", Format::tcp, tcp_with_options(hex("1e00 0000")), E::bad_option_length},
      {"option length 1", Format::tcp, tcp_with_options(hex("0201 0000")), E::bad_option_length},
      {"option runs past the header", Format::tcp, tcp_with_options(hex("01 1e 08 00")),
       E::option_overrun},
      {"kind in the last byte, no length", Format::tcp, tcp_with_options(hex("010101 02")),
       E::option_overrun},
      {"timestamp cut by the header end", Format::tcp, tcp_with_options(hex("0101 080a 00000001")),
       E::option_overrun},
      {"MSS length 3", Format::tcp, tcp_with_options(hex("020305 00")), E::bad_mss_option},
      {"MSS length 6", Format::tcp, tcp_with_options(hex("020605b40000")), E::bad_mss_option},
      {"window scale length 4", Format::tcp, tcp_with_options(hex("03040700")),
       E::bad_window_scale_option},
      {"window scale length 2", Format::tcp, tcp_with_options(hex("0302 0000")),
       E::bad_window_scale_option},
      {"SACK-permitted length 3", Format::tcp, tcp_with_options(hex("040300 00")),
       E::bad_sack_permitted_option},
      {"timestamp length 8", Format::tcp, tcp_with_options(hex("0808 00000001 0000")),
       E::bad_timestamp_option},
      {"timestamp length 12", Format::tcp, tcp_with_options(hex("080c 00000001 00000000 0000")),
       E::bad_timestamp_option},
      {"SACK with no blocks", Format::tcp, tcp_with_options(hex("0502 0000")), E::bad_sack_option},
      {"SACK length 9", Format::tcp, tcp_with_options(hex("0509 00000001 000000")),
       E::bad_sack_option},
      {"SACK length 14 (one and a half blocks)", Format::tcp,
       tcp_with_options(hex("050e 00000001 00000002 00000003")), E::bad_sack_option},
  };
  return rows;
}

TEST(Malformed, EachInputIsRejectedWithItsNamedReason) {
  const auto rows = malformed_rows();
  ASSERT_GE(rows.size(), 25u);
  for (const Row &r : rows) {
    // An exactly-sized heap copy: any read past the end trips ASan.
    const Bytes copy(r.bytes);
    const ParseError got = run(r.format, copy);
    EXPECT_EQ(got, r.expect) << name(r.format) << ": " << r.what << " -> " << to_string(got)
                             << ", want " << to_string(r.expect) << "\n"
                             << test::dump(copy);
  }
}

// Every reason other than ok must be reachable from some row, so the drop
// counters the shard keeps are all testable.
TEST(Malformed, TableCoversEveryReason) {
  std::vector<bool> seen(kParseErrorCount, false);
  seen[static_cast<size_t>(ParseError::ok)] = true;
  for (const Row &r : malformed_rows())
    seen[static_cast<size_t>(r.expect)] = true;
  for (size_t i = 0; i < kParseErrorCount; ++i)
    EXPECT_TRUE(seen[i]) << "no malformed row for " << to_string(static_cast<ParseError>(i));
}

} // namespace
} // namespace shoal::wire
