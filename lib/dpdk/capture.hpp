#pragma once
// pcapng capture of a shard's traffic, readable by Wireshark/tshark.
//
// The shard calls record() with each rx burst (after rte_eth_rx_burst) and
// each tx burst (before rte_eth_tx_burst). Every frame is copied with
// rte_pcapng_copy into the capture's own mempool and the copies are written
// with rte_pcapng_write_packets, then freed: the capture never holds on to
// the packet mbufs, so it cannot delay their release or see them change.
// A copy that cannot be allocated or written is counted as dropped, never
// retried: capture must not slow the packet path down more than it must.
//
// A capture ends by itself after `max_packets` frames or `max_duration`,
// whichever comes first (0 = no bound), so that one left running cannot fill
// the disk. One Capture belongs to one shard (one lcore): not thread-safe.
//
// The rte_pcapng file has an interface block per ethdev port that exists when
// open() is called (the port id is the pcapng interface id), so open it after
// the ports are probed.
#include <chrono>
#include <cstdint>
#include <string>

#include <rte_mbuf.h>
#include <rte_mempool.h>

struct rte_pcapng; // rte_pcapng.h (experimental API, kept out of this header)

namespace shoal::dpdk {

// Config shape ([capture] in the node's ini):
//   [capture]
//   path = /tmp/shoal-{shard}.pcapng  ; {shard} -> shard id; absent = no capture
//   packets = 10000                    ; stop after this many frames (0 = no bound)
//   seconds = 30                       ; stop after this long (0 = no bound)
//   snaplen = 65535                    ; bytes kept per frame
struct CaptureLimits {
  uint64_t max_packets = 0;                 // 0: unbounded
  std::chrono::nanoseconds max_duration{0}; // 0: unbounded
  uint32_t snaplen = 65535;                 // bytes of each frame kept
  unsigned pool_size = 1023;                // copies in flight (one burst at a time)
};

struct CaptureStats {
  uint64_t captured = 0; // frames written to the file
  uint64_t dropped = 0;  // frames offered while active but not written (no mbuf, write error)
};

enum class CaptureDirection : uint8_t { in, out };

class Capture {
public:
  Capture() = default;
  ~Capture() { close(); }
  Capture(const Capture &) = delete;
  Capture &operator=(const Capture &) = delete;

  // Creates (truncates) `path` and starts capturing `port_id`'s traffic.
  // false and a one-line reason in *error on failure.
  bool open(const std::string &path, uint16_t port_id, const CaptureLimits &, std::string *error);

  // Copies and writes mbufs[0..n) seen on (port, queue); returns how many were
  // written. Does nothing once the capture has ended (limits) or is closed.
  // The mbufs are only read; the caller still owns them.
  uint16_t record(uint16_t port, uint16_t queue, rte_mbuf *const *mbufs, uint16_t n,
                  CaptureDirection);

  // Writes an interface statistics block (captured / dropped) and closes the
  // file. Idempotent.
  void close();

  bool is_open() const { return pcapng_ != nullptr; }
  // Open and no limit reached yet. Reaching a limit closes the capture
  // (record() or active() notices), so the file is complete without close().
  bool active();
  const CaptureStats &stats() const { return stats_; }
  const std::string &path() const { return path_; }

private:
  struct rte_pcapng *pcapng_ = nullptr;
  rte_mempool *pool_ = nullptr;
  std::string path_;
  uint16_t port_id_ = 0;
  CaptureLimits limits_;
  uint64_t start_tsc_ = 0, end_tsc_ = 0; // end_tsc_ 0: no duration bound
  CaptureStats stats_;
};

} // namespace shoal::dpdk
