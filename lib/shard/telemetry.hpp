#pragma once
// Shard statistics for the outside world:
//   - the DPDK telemetry command /shoal/stats (readable by the stock
//     dpdk-telemetry.py or any client of /var/run/dpdk/<prefix>/dpdk_telemetry.v2):
//     {"/shoal/stats": {"shard0": {"rx_packets": 12, ...}, ...}}
//     With a parameter N, only shard N: {"/shoal/stats": {"rx_packets": 12, ...}}.
//     A shard with a TCP engine adds its TCP counters, each named "tcp_<name>"
//     (segments by flag, retransmissions, RSTs in/out, challenge ACKs, drops by
//     reason: lib/tcp/counters.hpp).
//   - /shoal/conns: connections per state, per shard and in total (the
//     textbook `netstat -tan | awk '{print $6}' | sort | uniq -c`):
//     {"/shoal/conns": {"total": {"ESTABLISHED": 3, "TIME_WAIT": 1, ...},
//                       "shard0": {...}, ...}}; with a parameter N, shard N only.
//   - the same as one JSON line for the app's exit: {"shoal_stats": {"shard0": {...}}}.
//   - /shoal/describe: every counter's kind, {"/shoal/describe": {"rx_packets":
//     "volume", ..., "tcp_drop_paws": "drop", ...}}; with a counter's name,
//     its kind and description: {"/shoal/describe": {"kind": "drop",
//     "description": "PAWS check failed (RFC 7323 5.3)"}}
//     (lib/shard/counter_catalog.hpp; shoal-stat --describe prints them).
//
// The registry of published shards is control-plane state shared with the
// telemetry thread, so it takes a mutex; the counters themselves are relaxed
// atomics written only by their shard.
#include <span>
#include <string>

#include "shard/shard.hpp"
#include "shard/tcp_stats.hpp"

namespace shoal::shard {

// Registers the /shoal/... telemetry commands (once; after rte_eal_init).
// false and a reason in *error if DPDK refuses.
bool register_telemetry(std::string *error);

// Makes a shard (and its TCP engine's stats, if any) visible to
// /shoal/stats, /shoal/conns and stats_json(); unpublish it before
// destroying either.
void publish(const Shard *, const TcpStats *tcp = nullptr);
void unpublish(const Shard *);

// {"shoal_stats":{"shard0":{...},...}} on one line: the published shards
// among `only`, or all of them when `only` is empty (one process may hold
// several stacks, each with its own shard 0).
std::string stats_json(std::span<const Shard *const> only = {});

// The packet mempool's part of MemoryStats (mbufs in use, total, bytes).
MemoryStats mempool_memory(const rte_mempool *);

// The state names /shoal/conns uses: netstat's (ESTABLISHED, TIME_WAIT ...).
const char *netstat_name(tcp::State);

} // namespace shoal::shard
