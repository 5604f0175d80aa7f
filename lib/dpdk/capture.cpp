// rte_pcapng is an experimental API in DPDK 22.11; opt in before any DPDK
// header is read, in this file only.
#define ALLOW_EXPERIMENTAL_API 1

#include "dpdk/capture.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_pcapng.h>

#include "common/version.hpp"

namespace shoal::dpdk {

namespace {

// Copies are written and freed one chunk at a time.
constexpr uint16_t kChunk = 32;

std::string os_name() {
  utsname u{};
  if (uname(&u) != 0)
    return "Linux";
  return std::string(u.sysname) + " " + u.release;
}

} // namespace

bool Capture::open(const std::string &path, uint16_t port_id, const CaptureLimits &limits,
                   std::string *error) {
  close();
  stats_ = {};
  if (!rte_eth_dev_is_valid_port(port_id)) {
    *error = "capture: port " + std::to_string(port_id) + " does not exist";
    return false;
  }
  if (limits.pool_size < kChunk) {
    *error = "capture: pool_size " + std::to_string(limits.pool_size) + " below " +
             std::to_string(kChunk);
    return false;
  }
  // Frames longer than one mbuf's room are copied into chained mbufs
  // (rte_pktmbuf_copy), so the data room need not cover a 64 KB snaplen.
  const uint32_t want = rte_pcapng_mbuf_size(std::max<uint32_t>(limits.snaplen, 64));
  const auto data_room = static_cast<uint16_t>(std::min<uint32_t>(want, RTE_MBUF_DEFAULT_BUF_SIZE));
  static std::atomic<unsigned> seq{0};
  const std::string pool_name = "shoal_cap" + std::to_string(seq.fetch_add(1));
  const int socket = rte_eth_dev_socket_id(port_id);
  pool_ = rte_pktmbuf_pool_create(pool_name.c_str(), limits.pool_size, 0, 0, data_room,
                                  socket < 0 ? SOCKET_ID_ANY : socket);
  if (pool_ == nullptr) {
    *error = "capture: mempool " + pool_name + ": " + rte_strerror(rte_errno);
    return false;
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "capture: " + path + ": " + std::strerror(errno);
    rte_mempool_free(pool_);
    pool_ = nullptr;
    return false;
  }
  const std::string app = std::string("shoal ") + shoal::version();
  const std::string comment = "shoal capture of port " + std::to_string(port_id);
  pcapng_ = rte_pcapng_fdopen(fd, os_name().c_str(), nullptr, app.c_str(), comment.c_str());
  if (pcapng_ == nullptr) {
    *error = "capture: rte_pcapng_fdopen " + path + ": " + rte_strerror(rte_errno);
    ::close(fd);
    rte_mempool_free(pool_);
    pool_ = nullptr;
    return false;
  }
  path_ = path;
  port_id_ = port_id;
  limits_ = limits;
  start_tsc_ = rte_get_tsc_cycles();
  end_tsc_ = 0;
  if (limits.max_duration.count() > 0) {
    const auto ns = static_cast<uint64_t>(limits.max_duration.count());
    const uint64_t hz = rte_get_tsc_hz();
    end_tsc_ =
        start_tsc_ + ns / 1'000'000'000ull * hz + ns % 1'000'000'000ull * hz / 1'000'000'000ull;
  }
  return true;
}

bool Capture::active() {
  if (pcapng_ == nullptr)
    return false;
  if ((limits_.max_packets != 0 && stats_.captured >= limits_.max_packets) ||
      (end_tsc_ != 0 && rte_get_tsc_cycles() >= end_tsc_)) {
    close();
    return false;
  }
  return true;
}

uint16_t Capture::record(uint16_t port, uint16_t queue, rte_mbuf *const *mbufs, uint16_t n,
                         CaptureDirection dir) {
  if (!active())
    return 0;
  const uint64_t now = rte_get_tsc_cycles();
  const auto direction =
      dir == CaptureDirection::in ? RTE_PCAPNG_DIRECTION_IN : RTE_PCAPNG_DIRECTION_OUT;
  uint16_t written = 0;
  uint16_t i = 0;
  while (i < n) {
    rte_mbuf *copies[kChunk];
    uint16_t k = 0;
    for (; i < n && k < kChunk; i++) {
      if (limits_.max_packets != 0 && stats_.captured + k >= limits_.max_packets)
        break;
      rte_mbuf *c = rte_pcapng_copy(port, queue, mbufs[i], pool_, limits_.snaplen, now, direction);
      if (c == nullptr) {
        stats_.dropped++;
        continue;
      }
      copies[k++] = c;
    }
    if (k > 0) {
      // rte_pcapng_write_packets writes (writev) but does not free.
      if (rte_pcapng_write_packets(pcapng_, copies, k) < 0) {
        stats_.dropped += k;
      } else {
        stats_.captured += k;
        written = static_cast<uint16_t>(written + k);
      }
      rte_pktmbuf_free_bulk(copies, k);
    }
    if (limits_.max_packets != 0 && stats_.captured >= limits_.max_packets)
      break;
  }
  active(); // closes the file as soon as a limit is reached
  return written;
}

void Capture::close() {
  if (pcapng_ != nullptr) {
    // Interface Statistics Block: what was captured and what was lost, so a
    // reader knows the file is incomplete when dropped > 0.
    rte_pcapng_write_stats(pcapng_, port_id_, "shoal capture", 0, 0, stats_.captured,
                           stats_.dropped);
    rte_pcapng_close(pcapng_); // closes the fd
    pcapng_ = nullptr;
  }
  if (pool_ != nullptr) {
    rte_mempool_free(pool_);
    pool_ = nullptr;
  }
}

} // namespace shoal::dpdk
