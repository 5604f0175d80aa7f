#pragma once
// shoal-synflood's output: one line per second on stderr and, at the end,
// one JSON object with the per-second series, the per-phase legit results
// and the target's counters and memory.
#include <cstdint>
#include <string>
#include <vector>

#include "synflood/legit_client.hpp"

namespace shoal::synflood {

// What the app can see of a shoal server (in-process target only).
struct ServerSample {
  bool present = false;
  uint64_t total_bytes = 0;  // MemoryStats::total_bytes(): mbufs in use + engine
  uint64_t engine_bytes = 0; // connection pool, flow table, TIME_WAIT, other
  uint64_t mbufs_in_use = 0;
  uint64_t connections = 0;  // pool slots in use (half-open included)
  uint64_t syn_received = 0; // connections in SYN_RECEIVED (the backlog)
  // Cumulative engine counters.
  uint64_t syns_received = 0, cookies_sent = 0, cookies_validated = 0, cookies_rejected = 0,
           backlog_drops = 0, accept_queue_drops = 0, accepted = 0, drop_no_memory = 0;
  uint64_t tx_full_drops = 0; // the shard's: SYN-ACKs the wire did not take
};

struct Sample {
  double t = 0;                 // seconds since the start, at the end of the interval
  double interval = 1;          // seconds covered
  bool flood = false;           // the flood ran during this interval
  uint64_t flood_sent = 0;      // SYNs the wire took in the interval
  uint64_t flood_wire_busy = 0; // tx bursts the wire refused part of
  LegitCounts legit;            // the interval's attempts and outcomes
  ServerSample server;
};

struct RunInfo {
  std::string label, target; // target: "shoal-ring" or "port"
  std::string config_json;   // {"flood_rate":..} as given
  double start_unix = 0;     // CLOCK_REALTIME at t = 0 (to line up outside samples)
  double baseline_s = 0, flood_s = 0;
  uint64_t flood_sent_total = 0;
  double flood_pps_mean = 0, flood_pps_max = 0;
  const LegitCounts *baseline = nullptr, *flood = nullptr;
  bool interrupted = false;
  // The legitimate clients' stack: SYN retransmissions mean a legit SYN or
  // its SYN-ACK was lost somewhere (the wire, a full queue, the server).
  uint64_t client_syn_retransmits = 0, client_retransmits = 0;
};

// "t=3 flood 2.13 Mpps | legit 200 ok 200 fail 0 | hs p50 25.1 p99 60.3 us | ..."
void print_line(const Sample &, FILE *);
std::string run_json(const RunInfo &, const std::vector<Sample> &);

} // namespace shoal::synflood
