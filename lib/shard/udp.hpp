#pragma once
// UDP in the shard (RFC 768, RFC 1122 4.1): a table of sockets keyed by
// local port, the receive path for whole datagrams (reassembled ones
// included) and the send path.
//
//   rx: Shard::ipv4_input -> Udp::input: length check, checksum (the NIC's
//       verdict when the port's rx UDP checksum offload is on, else software
//       over the whole chain; a zero checksum field means none was sent and
//       is accepted, RFC 1122 4.1.3.4) -> the socket bound to the
//       destination port (a connected one only takes datagrams from its
//       remote) -> its receive callback, or its bounded queue. No socket: a
//       counted drop and an ICMP port unreachable (Shard::send_icmp_error:
//       rate-limited, never for link-layer broadcast or multicast).
//   ICMP errors: Shard::icmp_input -> Udp::icmp_error: the socket whose
//       datagram the error quotes (its source port, and for a connected
//       socket its remote) gets the error as an errno value (ECONNREFUSED
//       for port unreachable) when it is connected (RFC 1122 4.1.3.3 asks
//       that errors reach the application; like BSD and Linux, an
//       unconnected socket is not told, since it could not tell which of its
//       peers it concerns); otherwise the error is counted.
//   tx: Udp::send_to builds header and data in mbufs from the pool (copying
//       the caller's bytes; a chain when they exceed one buffer), has the
//       checksum computed (always sent, RFC 1122 4.1.3.4: by the port's tx
//       UDP checksum offload when the datagram leaves whole in one buffer,
//       else in software) and hands the datagram to the shard, which cuts
//       it into fragments when it exceeds the MTU.
//
// Everything runs on the shard's lcore. A socket belongs to one shard; with
// several shards an application opens one per shard (api::Stack::udp_bind
// does, for an unconnected receiver) and each receives what the NIC
// delivers to its shard. A port open on another shard only (a connected
// socket) is not answered with port unreachable here (UdpPorts).
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include <rte_mbuf.h>

#include "common/time.hpp"
#include "shard/fifo_ring.hpp"
#include "wire/addr.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"

namespace shoal::shard {

class Shard;
class Udp;

struct UdpConfig {
  // Datagrams kept for a socket that has no receive callback (read with
  // UdpSocket::receive); beyond that they are dropped, counted.
  uint32_t receive_queue = 256;
  // The ephemeral range for a socket opened on port 0.
  uint16_t ephemeral_first = 32768, ephemeral_last = 60999;
};

// One received datagram. `payload` is valid during the callback only.
struct UdpDatagram {
  wire::Ipv4Addr remote;
  uint16_t remote_port = 0;
  uint16_t local_port = 0;
  std::span<const uint8_t> payload;
};

// Ports open on any shard of a stack, shared by its shards (atomic counts:
// each shard writes its own opens and closes, any shard reads). A shard
// that receives a datagram for a port open only elsewhere drops it, counted,
// without an ICMP error.
class UdpPorts {
public:
  void add(uint16_t port) { n_[port].fetch_add(1, std::memory_order_relaxed); }
  void remove(uint16_t port) { n_[port].fetch_sub(1, std::memory_order_relaxed); }
  bool open(uint16_t port) const { return n_[port].load(std::memory_order_relaxed) != 0; }

private:
  std::array<std::atomic<uint16_t>, 65536> n_{};
};

// Room for one datagram's payload inside an mbuf that has its IPv4 and UDP
// headers' room in front: the application writes the payload in place and
// sends it with UdpSocket::send_reserved, no copy. Move-only; freed unsent
// when destroyed.
class UdpSendBuffer {
public:
  UdpSendBuffer() = default;
  UdpSendBuffer(UdpSendBuffer &&o) noexcept
      : m_(std::exchange(o.m_, nullptr)), data_(std::exchange(o.data_, {})) {}
  UdpSendBuffer &operator=(UdpSendBuffer &&o) noexcept {
    if (this != &o) {
      reset();
      m_ = std::exchange(o.m_, nullptr);
      data_ = std::exchange(o.data_, {});
    }
    return *this;
  }
  UdpSendBuffer(const UdpSendBuffer &) = delete;
  UdpSendBuffer &operator=(const UdpSendBuffer &) = delete;
  ~UdpSendBuffer() { reset(); }

  explicit operator bool() const { return m_ != nullptr; }
  std::span<uint8_t> data() const { return data_; }
  // Frees the buffer unsent.
  void reset();

private:
  friend class Udp;
  rte_mbuf *m_ = nullptr; // headers' room, then data_
  std::span<uint8_t> data_;
};

class UdpSocket {
public:
  using ReceiveFn = std::function<void(UdpSocket &, const UdpDatagram &)>;
  // An ICMP error for a connected socket, as an errno value
  // (icmp_error_errno: ECONNREFUSED for port unreachable).
  using ErrorFn = std::function<void(UdpSocket &, int error)>;

  uint16_t local_port() const { return local_port_; }
  bool connected() const { return remote_port_ != 0; }
  wire::Ipv4Addr remote() const { return remote_; }
  uint16_t remote_port() const { return remote_port_; }
  unsigned shard() const;

  // Whole datagrams as they arrive (nullptr: queued instead, up to
  // UdpConfig::receive_queue, for receive()).
  void on_receive(ReceiveFn fn) { receive_fn_ = std::move(fn); }
  void on_error(ErrorFn fn) { error_fn_ = std::move(fn); }

  // Only datagrams from remote:port are received, and send() goes there
  // (RFC 1122 4.1.3.4 lets an application fix its remote). A zero address
  // or port undoes it. False for a broadcast or multicast remote.
  bool connect(wire::Ipv4Addr remote, uint16_t port);
  // Sends one datagram: 0, or an errno value: EMSGSIZE (more than
  // wire::kUdpMaxPayload bytes), EDESTADDRREQ (send() unconnected), EINVAL
  // (port 0, or a destination shoal cannot send to), ENOBUFS (no mbufs).
  int send(std::span<const uint8_t> payload);
  int send_to(wire::Ipv4Addr dst, uint16_t dst_port, std::span<const uint8_t> payload);

  // Zero-copy send. reserve(n): a buffer for n payload bytes in one mbuf
  // (n at most max_reserve(), the pool's room after the headers; larger
  // datagrams go through send(), which chains and copies); an empty buffer
  // when n is larger or no mbuf is free (counted). send_reserved(b, len):
  // the first len bytes written into b leave as one datagram (fragmented
  // when above the MTU), to the connected remote or to dst:dst_port; the
  // same results as send(), EINVAL when len exceeds b or b is empty. b is
  // consumed either way.
  UdpSendBuffer reserve(size_t n);
  size_t max_reserve() const;
  int send_reserved(UdpSendBuffer &b, size_t len);
  int send_reserved_to(UdpSendBuffer &b, size_t len, wire::Ipv4Addr dst, uint16_t dst_port);

  // The oldest queued datagram: its payload (truncated to `buf`, like
  // recvfrom) and its sender; the payload's full length, or -1 when none
  // is queued.
  long receive(std::span<uint8_t> buf, wire::Ipv4Addr *from, uint16_t *from_port);
  size_t queued() const { return queue_.size(); }
  // The error an ICMP message reported (SO_ERROR), 0 if none; cleared.
  int take_error() {
    const int e = error_;
    error_ = 0;
    return e;
  }

  ~UdpSocket(); // frees what is queued (the table owns its sockets: use close())
  UdpSocket(const UdpSocket &) = delete;
  UdpSocket &operator=(const UdpSocket &) = delete;

  // Closes the socket and frees it (and what it had queued); the pointer is
  // invalid afterwards. May be called from its own callbacks.
  void close();

private:
  friend class Udp;
  struct Queued {
    rte_mbuf *m = nullptr; // data offset at the UDP payload
    wire::Ipv4Addr from;
    uint16_t from_port = 0;
  };
  UdpSocket(Udp &udp, uint16_t port, uint32_t queue)
      : udp_(udp), local_port_(port), queue_(queue) {}

  Udp &udp_;
  uint16_t local_port_;
  wire::Ipv4Addr remote_;
  uint16_t remote_port_ = 0;
  int error_ = 0;
  ReceiveFn receive_fn_;
  ErrorFn error_fn_;
  FifoRing<Queued> queue_;
};

class Udp {
public:
  Udp(Shard &shard, const UdpConfig &cfg = {});
  ~Udp(); // closes every socket
  Udp(const Udp &) = delete;
  Udp &operator=(const Udp &) = delete;

  // A socket bound to `port` on this shard (0: a free ephemeral port);
  // nullptr when the port is taken here or no ephemeral port is free.
  UdpSocket *open(uint16_t port);
  UdpSocket *find(uint16_t port);
  size_t socket_count() const { return sockets_.size(); }
  // Shares the stack's set of open ports (nullptr: this shard only).
  void set_ports(UdpPorts *ports) { ports_ = ports; }

  // From the shard: a datagram for our address, whole (data offset at the
  // IPv4 header, exactly the datagram, possibly a chain); `link_group`: it
  // came in a link-layer broadcast or multicast frame. Takes ownership.
  void input(rte_mbuf *m, const wire::Ipv4Repr &ip, bool link_group);
  // From the shard: an ICMP error quoting a UDP datagram we sent. Counts it
  // and reports it to the socket it concerns, if connected.
  void icmp_error(const wire::IcmpErrorRepr &e);

  Shard &shard() { return shard_; }

private:
  friend class UdpSocket;
  void close(UdpSocket *s);
  int send_to(UdpSocket &s, wire::Ipv4Addr dst, uint16_t dst_port,
              std::span<const uint8_t> payload);
  UdpSendBuffer reserve(size_t n);
  size_t max_reserve() const;
  int send_reserved(UdpSocket &s, UdpSendBuffer &b, size_t len, wire::Ipv4Addr dst,
                    uint16_t dst_port);
  // Whether dst:dst_port can be sent to (0, or an errno value, counted).
  int check_destination(wire::Ipv4Addr dst, uint16_t dst_port);
  // Fills in the headers at the front of `head` (the payload, `payload`
  // bytes, follows them, possibly in more segments) and sends it; takes
  // ownership.
  int transmit(UdpSocket &s, wire::Ipv4Addr dst, uint16_t dst_port, rte_mbuf *head,
               size_t payload);
  void deliver(UdpSocket &s, rte_mbuf *m, const wire::Ipv4Repr &ip, uint16_t src_port,
               uint32_t payload_off, uint32_t payload_len);

  Shard &shard_;
  UdpConfig cfg_;
  std::unordered_map<uint16_t, std::unique_ptr<UdpSocket>> sockets_;
  // Sockets closed while one of their callbacks runs: freed once it returns.
  unsigned callback_depth_ = 0;
  std::vector<std::unique_ptr<UdpSocket>> closed_;
  UdpPorts *ports_ = nullptr;
  uint16_t next_ephemeral_;
  std::vector<uint8_t> scratch_; // a chained datagram's payload, made contiguous
};

// The errno value an ICMP error reports to a connected socket: the hard
// errors of destination unreachable (port: ECONNREFUSED, protocol:
// ENOPROTOOPT, prohibited or unknown network/host: ENETUNREACH /
// EHOSTUNREACH); 0 for the transient ones (network or host unreachable,
// time exceeded, parameter problem), fragmentation needed and the rest.
int icmp_error_errno(uint8_t type, uint8_t code);

} // namespace shoal::shard
