#pragma once
// The one text form of a TCP segment, as tcpdump prints it, shared by every
// trace: the unit-test harness, the simulator's trace and scripted peer, and
// the comments of the simulator's pcapng files.
//
//   "198.18.0.1:40000 > 198.18.0.2:80 [S] seq 123 win 65535 <mss 1460,sackOK,TS val 1 ecr 0,wscale
//   7> len 0" "40000 > 80 [P.] seq 1:101 ack 1 win 502 len 100"        (no addresses given)
#include <cstddef>
#include <cstdint>
#include <string>

#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace shoal::wire {

// "S", "S.", "F.", "R", "P." ... in tcpdump's order (S F P R U W E, then "."
// for ACK); "none" when no flag is set.
std::string format_tcp_flags(uint8_t flags);

// "mss 1460,sackOK,TS val 1 ecr 0,wscale 7,sack 1 {10:20}"; empty without options.
std::string format_tcp_options(const TcpOptions &);

// The segment line: ports only, or "addr:port" when `ip` is given.
std::string format_tcp(const TcpRepr &, size_t payload_len, const Ipv4Repr *ip = nullptr);

} // namespace shoal::wire
