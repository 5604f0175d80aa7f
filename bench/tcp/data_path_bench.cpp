// The data path of one established connection, per segment:
//  - BM_ReceiveInOrderSegment: an in-order 1448-byte segment arrives, the
//    application consumes it in on_readable, the engine ACKs (every second
//    segment, RFC 5681 4.2) -- input through ACK transmit and mbuf free.
//  - BM_SendSegment: the application reserves/commits 1448 bytes and the
//    engine sends one MSS segment (header mbuf + indirect payload mbuf);
//    every 16 segments an ACK from the peer releases the ring.
//  - BM_BuildFrameOnly: the benchmark's own cost of making a received frame
//    (allocation + copy of a template), to subtract from the first.
// Checksums are passed as verified by the NIC (tcp::RxChecksum good) and the
// output frees each datagram (with tx offload, the port's share -- offload
// fields and pseudo-header sum, tcp::set_tx_offload -- is not done), so the
// numbers are the protocol's own cost.
#include <benchmark/benchmark.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "tcp/connection.hpp"
#include "tcp/engine.hpp"
#include "tcp/inspect.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace {

using namespace shoal;
using namespace shoal::wire::tcp_flags;

constexpr wire::Ipv4Addr kLocal = wire::Ipv4Addr::from_octets(10, 0, 0, 1);
constexpr wire::Ipv4Addr kRemote = wire::Ipv4Addr::from_octets(10, 0, 0, 2);
constexpr uint32_t kPayload = 1448;

rte_mempool *bench_pool() {
  static rte_mempool *pool = [] {
    std::string prefix = "shoal-bench-" + std::to_string(getpid());
    std::vector<std::string> args = {
        "bench",         "--no-huge", "-m", "256", "--no-pci",    "--no-shconf",
        "--file-prefix", prefix,      "-l", "0",   "--log-level", "lib.eal:error",
        "--no-telemetry"};
    std::vector<char *> argv;
    for (auto &a : args)
      argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
      std::fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
      std::abort();
    }
    std::atexit([] {
      rte_eal_cleanup();
      std::error_code ec; // --no-shconf still makes a runtime directory
      std::filesystem::remove_all("/var/run/dpdk/shoal-bench-" + std::to_string(getpid()), ec);
    });
    rte_mempool *p =
        rte_pktmbuf_pool_create("bench", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (p == nullptr)
      std::abort();
    return p;
  }();
  return pool;
}

// Frees what the engine sends; remembers the last sequence/ack numbers.
struct Sink : tcp::PacketOutput {
  uint32_t last_seq = 0, last_ack = 0, last_len = 0;
  uint64_t packets = 0;
  void transmit(tcp::PacketBuf packet, tcp::TxOffload) override {
    rte_mbuf *m = packet.mbuf();
    const auto *p = rte_pktmbuf_mtod(m, const uint8_t *);
    last_seq = uint32_t{p[24]} << 24 | uint32_t{p[25]} << 16 | uint32_t{p[26]} << 8 | p[27];
    last_ack = uint32_t{p[28]} << 24 | uint32_t{p[29]} << 16 | uint32_t{p[30]} << 8 | p[31];
    last_len = m->pkt_len - 20 - (p[32] >> 4) * 4u;
    ++packets;
    rte_pktmbuf_free(m);
  }
};

struct Consumer : tcp::ConnectionHandler {
  tcp::Connection *conn = nullptr;
  void on_connected(tcp::Connection &c) override { conn = &c; }
  void on_readable(tcp::Connection &c) override { c.consume(c.readable()); }
};

// One engine with one established connection (engine passive on port 80).
struct Bench {
  rte_mempool *pool = bench_pool();
  Sink sink;
  Consumer app;
  std::unique_ptr<tcp::Engine> eng;
  Instant now = instant_from_ns(1'000'000'000);
  uint32_t peer_seq = 1000, peer_ack = 0;
  std::vector<uint8_t> payload = std::vector<uint8_t>(kPayload, 'x');

  explicit Bench(bool tx_offload = false) {
    tcp::EngineConfig cfg;
    cfg.tx_checksum_offload = tx_offload;
    cfg.local_address = kLocal;
    cfg.secret_seed = 1;
    cfg.timestamps = false;
    cfg.rcv_buf = 4 << 20;
    cfg.snd_buf = 4 << 20;
    cfg.initial_window_segments = 1000;
    eng = std::make_unique<tcp::Engine>(cfg, pool, sink, now);
    eng->listen(80, [this](tcp::Connection &) -> tcp::ConnectionHandler * { return &app; });
    wire::TcpRepr syn = header(SYN, 0);
    syn.options.mss = 1460;
    syn.options.window_scale = 7;
    syn.options.sack_permitted = true;
    inject(syn, {});
    peer_seq += 1;
    peer_ack = sink.last_seq + 1;
    inject(header(ACK, peer_ack), {});
    if (app.conn == nullptr)
      std::abort();
  }
  ~Bench() { eng.reset(); }

  wire::TcpRepr header(uint8_t flags, uint32_t ack) const {
    wire::TcpRepr h;
    h.src_port = 5555;
    h.dst_port = 80;
    h.seq = peer_seq;
    h.ack = ack;
    h.flags = flags;
    h.window = 65535;
    return h;
  }

  rte_mbuf *frame(const wire::TcpRepr &h, std::span<const uint8_t> data, wire::Ipv4Repr &ip) {
    rte_mbuf *m = rte_pktmbuf_alloc(pool);
    const size_t tcp_len = wire::tcp_header_len(h);
    auto *p = reinterpret_cast<uint8_t *>(
        rte_pktmbuf_append(m, static_cast<uint16_t>(20 + tcp_len + data.size())));
    ip.src = kRemote;
    ip.dst = kLocal;
    ip.protocol = wire::kIpProtoTcp;
    ip.payload_len = static_cast<uint16_t>(tcp_len + data.size());
    ip.header_len = 20;
    wire::emit_ipv4(ip, {p, 20}, false);
    wire::emit_tcp_header(h, {p + 20, tcp_len});
    if (!data.empty())
      std::memcpy(p + 20 + tcp_len, data.data(), data.size());
    return m;
  }

  void inject(const wire::TcpRepr &h, std::span<const uint8_t> data) {
    wire::Ipv4Repr ip;
    rte_mbuf *m = frame(h, data, ip);
    // As a port with receive checksum offload reports them.
    eng->input(m, ip, {tcp::ChecksumStatus::good, tcp::ChecksumStatus::good}, now);
  }
};

void BM_ReceiveInOrderSegment(benchmark::State &state) {
  Bench b;
  for (auto _ : state) {
    b.inject(b.header(ACK, b.peer_ack), b.payload);
    b.peer_seq += kPayload;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["acks_per_seg"] =
      static_cast<double>(b.sink.packets) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_ReceiveInOrderSegment);

void BM_BuildFrameOnly(benchmark::State &state) {
  Bench b;
  for (auto _ : state) {
    wire::Ipv4Repr ip;
    rte_mbuf *m = b.frame(b.header(ACK, b.peer_ack), b.payload, ip);
    benchmark::DoNotOptimize(m);
    rte_pktmbuf_free(m);
  }
}
BENCHMARK(BM_BuildFrameOnly);

// Arg 0: TCP checksum in software (rte_raw_cksum over the payload);
// arg 1: checksum offload requested (the NIC's job).
void BM_SendSegment(benchmark::State &state) {
  Bench b(state.range(0) != 0);
  tcp::Connection &c = *b.app.conn;
  uint64_t segs = 0;
  for (auto _ : state) {
    size_t left = kPayload;
    while (left > 0) {
      std::span<uint8_t> room = c.reserve(left);
      if (room.empty())
        std::abort();
      room[0] = 'y'; // the application's write (one byte; no benchmark-side copy)
      c.commit(room.size());
      left -= room.size();
    }
    if (++segs % 16 == 0)
      b.inject(b.header(ACK, c.inspect().snd_nxt().v), {});
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["pkts_per_seg"] =
      static_cast<double>(b.sink.packets) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_SendSegment)->Arg(0)->Arg(1);

} // namespace

BENCHMARK_MAIN();
