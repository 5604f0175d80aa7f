// Micro-benchmarks for the per-packet wire work: the Internet checksum at
// minimum, MTU and jumbo sizes, and parsing/emitting a typical data-segment
// header (ACK with timestamps, as every Linux peer sends).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "wire/checksum.hpp"
#include "wire/tcp.hpp"

namespace {

using namespace shoal::wire;

constexpr Ipv4Addr kSrc = Ipv4Addr::from_octets(198, 18, 0, 1);
constexpr Ipv4Addr kDst = Ipv4Addr::from_octets(198, 18, 0, 2);

std::vector<uint8_t> filled(size_t n) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i)
    b[i] = static_cast<uint8_t>(i * 131 + 7);
  return b;
}

void BM_InternetChecksum(benchmark::State &state) {
  const auto b = filled(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(b.data());
    benchmark::DoNotOptimize(internet_checksum(b));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_InternetChecksum)->Arg(64)->Arg(1500)->Arg(9000);

void BM_TcpChecksum(benchmark::State &state) {
  const auto b = filled(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(b.data());
    benchmark::DoNotOptimize(tcp_checksum(kSrc, kDst, b));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_TcpChecksum)->Arg(64)->Arg(1500)->Arg(9000);

// ACK|PSH, NOP NOP TS, 1448 bytes of payload: a full-sized segment from a
// Linux sender with timestamps on.
std::vector<uint8_t> typical_segment() {
  TcpRepr t;
  t.src_port = 40000;
  t.dst_port = 80;
  t.seq = 0x01020304;
  t.ack = 0x0a0b0c0d;
  t.flags = tcp_flags::ACK | tcp_flags::PSH;
  t.window = 501;
  t.options.timestamp = TcpTimestamp{123456, 654321};
  auto seg = filled(tcp_header_len(t) + 1448);
  emit_tcp_header(t, seg);
  set_tcp_checksum(seg, tcp_checksum(kSrc, kDst, seg));
  return seg;
}

void BM_ParseTcpWithTimestamps(benchmark::State &state) {
  const bool verify = state.range(0) != 0;
  const auto seg = typical_segment();
  TcpRepr t;
  for (auto _ : state) {
    benchmark::DoNotOptimize(seg.data());
    benchmark::DoNotOptimize(parse_tcp(seg, kSrc, kDst, verify, t));
    benchmark::DoNotOptimize(t);
  }
  state.SetLabel(verify ? "software checksum" : "checksum offloaded");
}
BENCHMARK(BM_ParseTcpWithTimestamps)->Arg(0)->Arg(1);

void BM_EmitTcpHeaderWithTimestamps(benchmark::State &state) {
  TcpRepr t;
  t.flags = tcp_flags::ACK;
  t.options.timestamp = TcpTimestamp{1, 2};
  std::vector<uint8_t> out(kTcpMaxHeaderLen);
  for (auto _ : state) {
    ++t.seq;
    benchmark::DoNotOptimize(emit_tcp_header(t, out));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_EmitTcpHeaderWithTimestamps);

} // namespace

BENCHMARK_MAIN();
