#pragma once
// pcapng export of a simulation trace, written block by block from the
// pcapng specification (draft-ietf-opsawg-pcapng): one Section Header Block,
// one Interface Description Block per direction ("A>B", "B>A"; LINKTYPE_RAW,
// i.e. the packet starts at the IPv4 header; nanosecond timestamps), and one
// Enhanced Packet Block per datagram put on the link. Its comment is the
// segment's line as the trace prints it (wire::format_tcp), after the link's
// fate when there is one ("lost: ...", "corrupted: bit 93: ..."). rte_pcapng is not
// used: it wants real ethdev ports.
//
// Timestamps are the virtual clock's nanoseconds since the trace epoch, so the
// capture starts at 1970-01-01 00:00:00 in Wireshark.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/trace.hpp"

namespace shoal::sim {

constexpr uint16_t kLinktypeRaw = 101; // LINKTYPE_RAW: raw IPv4/IPv6

// The whole file as bytes (host byte order, as pcapng allows: readers use the
// byte-order magic).
std::vector<uint8_t> encode_pcapng(const Trace &trace);

// Writes encode_pcapng(trace) to `path`; false (errno set) on I/O error.
bool write_pcapng(const Trace &trace, const std::string &path);

} // namespace shoal::sim
