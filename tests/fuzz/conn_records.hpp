#pragma once
// The input format of the connection fuzz target (fuzz_conn), shared with
// the corpus generator.
//
// An input is a 2-byte preamble (how the connection is set up) followed by
// 16-byte records, one segment each (a trailing partial record is ignored):
//
//   off size  field
//    0   2    time delta (le16): low 14 bits x unit, unit = top 2 bits:
//             0: 100 us, 1: 1 ms, 2: 100 ms, 3: 1 s (reaches keepalive, 2MSL)
//    2   1    TCP flags (as on the wire)
//    3   1    application / option bits (kAct*)
//    4   4    seq offset (le32, signed) from the connection's RCV.NXT
//    8   4    ack offset (le32, signed) from its SND.UNA
//   12   2    window (raw, unscaled)
//   14   2    payload length (le16) modulo kMaxPayload
//
// Offsets relative to the live sequence variables are what let mutations
// reach deep states: "offset 0" is always in window, so in-order data,
// duplicate ACKs, FINs and in-window RSTs are one byte flip away.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/time.hpp"

namespace shoal::fuzz {

// Preamble byte 0.
enum : uint8_t {
  kSetupTimestamps = 0x01,   // the peer offers timestamps in its SYN / SYN-ACK
  kSetupSack = 0x02,         // ... SACK-permitted
  kSetupWscale = 0x04,       // ... window scale (preamble byte 1 & 15)
  kSetupActive = 0x08,       // the engine connects (else it listens and the peer connects)
  kSetupSmallRcvBuf = 0x10,  // 4 KiB receive buffer: zero windows within reach
  kSetupNoDelayedAck = 0x20, // EngineConfig::delayed_ack = 0
  kSetupCubic = 0x40,        // congestion control cubic instead of newreno
  kSetupNoHandshake = 0x80,  // records start before the handshake (LISTEN / SYN_SENT)
};

// Record byte 3.
enum : uint8_t {
  kActConsume = 0x01,     // the application consumes everything readable
  kActWrite = 0x02,       // ... writes (payload length x 4) bytes
  kActShutdown = 0x04,    // ... shutdown_write()
  kActClose = 0x08,       // ... close() (with kActShutdown: abort())
  kActNoDelay = 0x10,     // ... toggles TCP_NODELAY
  kOptTimestamp = 0x20,   // the segment carries a timestamp option
  kOptSack = 0x40,        // ... one SACK block above SND.UNA
  kActAdvanceOnly = 0x80, // no segment: only time passes (timers run)
};

inline constexpr size_t kPreambleLen = 2;
inline constexpr size_t kRecordLen = 16;
inline constexpr uint16_t kMaxPayload = 3000;

struct ConnRecord {
  Duration delta{};
  uint8_t flags = 0;
  uint8_t act = 0;
  int32_t seq_off = 0;
  int32_t ack_off = 0;
  uint16_t window = 0;
  uint16_t payload_len = 0;
};

ConnRecord decode_record(const uint8_t *p);
// Appends the 16 bytes of `r`; delta is rounded to the coarsest exact unit.
void encode_record(const ConnRecord &r, std::vector<uint8_t> &out);

} // namespace shoal::fuzz
