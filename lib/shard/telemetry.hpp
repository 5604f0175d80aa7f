#pragma once
// Shard statistics for the outside world:
//   - the DPDK telemetry command /shoal/stats (readable by the stock
//     dpdk-telemetry.py or any client of /var/run/dpdk/<prefix>/dpdk_telemetry.v2):
//     {"/shoal/stats": {"shard0": {"rx_packets": 12, ...}, ...}}
//     With a parameter N, only shard N: {"/shoal/stats": {"rx_packets": 12, ...}}.
//   - the same as one JSON line for the app's exit: {"shoal_stats": {"shard0": {...}}}.
//
// The registry of published shards is control-plane state shared with the
// telemetry thread, so it takes a mutex; the counters themselves are relaxed
// atomics written only by their shard.
#include <string>

#include "shard/shard.hpp"

namespace shoal::shard {

// Registers the /shoal/... telemetry commands (once; after rte_eal_init).
// false and a reason in *error if DPDK refuses.
bool register_telemetry(std::string *error);

// Makes a shard visible to /shoal/stats and stats_json(); unpublish it
// before destroying it.
void publish(const Shard *);
void unpublish(const Shard *);

// {"shoal_stats":{"shard0":{...},...}} on one line.
std::string stats_json();

} // namespace shoal::shard
