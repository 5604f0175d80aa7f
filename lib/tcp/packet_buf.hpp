#pragma once
// What the TCP core exchanges with its drivers (lib/shard, lib/sim, the
// tests): the packet buffer type and the offload hints, as plain values.
// Nothing here needs a DPDK header.
//
//   PacketBuf: the core's one view of a packet buffer. The carrier is an
//       rte_mbuf chain (zero copy: received payload stays where the port put
//       it, segments reference the send ring through indirect mbufs), but
//       the core works on it through this type's operations only: length,
//       the bytes of each piece, trimming at either end, reading/copying
//       out, chaining, referencing a range (indirect clone), the checksum of
//       a range, freeing. It is one pointer; its operations are inline
//       (defined in tcp/packet_buf_impl.hpp, which only .cpp files include),
//       so it costs nothing over using the mbuf directly.
//
//   rx: the driver says what the port found of the checksums (RxChecksum);
//       the engine sums in software whatever is not known to be good.
//   tx: the engine says which checksums it left for the port and whether
//       the port is to segment the datagram (TxOffload); the driver turns
//       that into the port's descriptors (ol_flags, header lengths, the
//       pseudo-header sum), or completes the checksums itself when its port
//       would get them wrong.
#include <cstdint>
#include <span>

struct rte_mbuf;
struct rte_mempool;

namespace shoal::tcp {

// A packet buffer (an mbuf chain) and the operations the TCP core needs of
// it. A value that refers to the chain, not an owner: who owns the chain
// is said where it is passed (the engine's entry points take ownership).
class PacketBuf {
public:
  PacketBuf() = default;
  // A driver's mbuf (data offset where the packet starts). Implicit, so that
  // drivers pass their mbufs as they are.
  PacketBuf(rte_mbuf *m) : m_(m) {} // NOLINT(google-explicit-constructor)
  rte_mbuf *mbuf() const { return m_; }
  explicit operator bool() const { return m_ != nullptr; }
  bool operator==(const PacketBuf &) const = default;

  // A fresh buffer from `pool` (empty: nothing is null).
  static inline PacketBuf alloc(rte_mempool *pool);
  // Frees the whole chain (nothing for an empty PacketBuf).
  inline void free();
  // Frees this piece only (it must be unlinked from its chain).
  inline void free_piece();

  // Bytes in the whole chain (valid on its first piece).
  inline uint32_t length() const;
  // This piece: its bytes, and the next piece (empty at the end).
  inline uint32_t piece_length() const;
  inline const uint8_t *data() const;
  inline uint8_t *data();
  inline std::span<const uint8_t> piece() const;
  inline PacketBuf next() const;

  // Appends n bytes to the last piece; where they go (nullptr: no room).
  inline uint8_t *append(uint32_t n);
  // Removes the first n bytes (n <= length()); frees the pieces that
  // empty and returns the new first piece, which is kept (possibly of
  // length 0) so that the caller still owns something to free.
  [[nodiscard]] inline PacketBuf trim_front(uint32_t n);
  // Keeps only the first `keep` bytes; frees the pieces past them.
  inline void trim_back(uint32_t keep);
  // Links `tail` after this chain's last piece; false (nothing changed) if
  // the chain would have too many pieces.
  [[nodiscard]] inline bool chain(PacketBuf tail);

  // Bytes [off, off + len) (off + len <= length()): a pointer into the
  // piece that holds them all, else a copy in `buf` (len bytes);
  // nullptr if the range runs past the chain.
  inline const uint8_t *read(uint32_t off, uint32_t len, void *buf) const;
  // The raw (non-complemented, memory-order) Internet checksum of bytes
  // [off, off + len); false if the range runs past the chain.
  inline bool raw_checksum(uint32_t off, uint32_t len, uint16_t &out) const;

  // An indirect buffer from `pool` referring to `n` bytes of this piece
  // from `off` on (no copy; it holds a reference to this piece's buffer
  // until freed). Empty if the pool is.
  inline PacketBuf reference(rte_mempool *pool, uint32_t off, uint32_t n) const;

private:
  rte_mbuf *m_ = nullptr;
};

// A port's verdict on one received checksum.
enum class ChecksumStatus : uint8_t {
  unknown, // not checked (no offload, or not asked for): sum in software
  good,
  bad,
};

// The checksum verdicts that come with a received IPv4 datagram.
struct RxChecksum {
  ChecksumStatus ip = ChecksumStatus::unknown; // the IPv4 header checksum
  ChecksumStatus l4 = ChecksumStatus::unknown; // the TCP checksum
};

// What the engine left for the port to do with a datagram it transmits.
struct TxOffload {
  enum class Checksum : uint8_t {
    none, // the IPv4 header and TCP checksums are complete
    // Both left for the port: the IPv4 header checksum field is zero and
    // the TCP checksum field is zero; the driver stores the pseudo-header
    // sum there if its port wants it.
    l4,
  };
  Checksum checksum = Checksum::none;
  // Non-zero (with checksum = l4): the port cuts the payload into segments
  // of this many bytes (TCP segmentation offload).
  uint16_t tso_segsz = 0;
  bool operator==(const TxOffload &) const = default;
};

} // namespace shoal::tcp
