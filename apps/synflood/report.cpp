#include "synflood/report.hpp"

#include <cstdio>

namespace shoal::synflood {

namespace {

using ull = unsigned long long;

std::string server_json(const ServerSample &s) {
  char buf[640];
  std::snprintf(buf, sizeof buf,
                "{\"total_bytes\":%llu,\"engine_bytes\":%llu,\"mbufs_in_use\":%llu,"
                "\"connections\":%llu,\"syn_received\":%llu,\"syns_received\":%llu,"
                "\"cookies_sent\":%llu,\"cookies_validated\":%llu,\"cookies_rejected\":%llu,"
                "\"backlog_drops\":%llu,\"accept_queue_drops\":%llu,\"accepted\":%llu,"
                "\"drop_no_memory\":%llu,\"tx_full_drops\":%llu}",
                ull(s.total_bytes), ull(s.engine_bytes), ull(s.mbufs_in_use), ull(s.connections),
                ull(s.syn_received), ull(s.syns_received), ull(s.cookies_sent),
                ull(s.cookies_validated), ull(s.cookies_rejected), ull(s.backlog_drops),
                ull(s.accept_queue_drops), ull(s.accepted), ull(s.drop_no_memory),
                ull(s.tx_full_drops));
  return buf;
}

} // namespace

void print_line(const Sample &s, FILE *f) {
  const LegitCounts &l = s.legit;
  char mem[200] = "";
  if (s.server.present)
    std::snprintf(mem, sizeof mem,
                  " | server %.2f MiB (engine %.2f MiB, mbufs %llu, conns %llu, backlog %llu)",
                  double(s.server.total_bytes) / 1048576.0,
                  double(s.server.engine_bytes) / 1048576.0, ull(s.server.mbufs_in_use),
                  ull(s.server.connections), ull(s.server.syn_received));
  std::fprintf(f,
               "t=%5.1f flood %6.3f Mpps | legit %llu ok %llu fail %llu | hs p50 %.1f p99 %.1f "
               "us%s\n",
               s.t, double(s.flood_sent) / s.interval / 1e6, ull(l.attempts), ull(l.successes),
               ull(l.failures), double(l.handshake.percentile(50)) / 1e3,
               double(l.handshake.percentile(99)) / 1e3, mem);
  std::fflush(f);
}

std::string run_json(const RunInfo &r, const std::vector<Sample> &series) {
  std::string s =
      "{\"label\":\"" + r.label + "\",\"target\":\"" + r.target + "\",\"config\":" + r.config_json;
  char buf[400];
  std::snprintf(buf, sizeof buf,
                ",\"interrupted\":%s,\"start_unix\":%.3f,\"baseline_s\":%.3f,\"flood_s\":%.3f,"
                "\"flood\":{\"sent\":%llu,\"pps_mean\":%.0f,\"pps_max\":%.0f}",
                r.interrupted ? "true" : "false", r.start_unix, r.baseline_s, r.flood_s,
                ull(r.flood_sent_total), r.flood_pps_mean, r.flood_pps_max);
  s += buf;
  std::snprintf(buf, sizeof buf, ",\"client\":{\"syn_retransmits\":%llu,\"retransmits\":%llu}",
                ull(r.client_syn_retransmits), ull(r.client_retransmits));
  s += buf;
  s += ",\"phases\":{\"baseline\":" + r.baseline->to_json() + ",\"flood\":" + r.flood->to_json() +
       "}";
  s += ",\"series\":[";
  for (size_t i = 0; i < series.size(); ++i) {
    const Sample &x = series[i];
    const LegitCounts &l = x.legit;
    std::snprintf(buf, sizeof buf,
                  "%s{\"t\":%.3f,\"interval\":%.3f,\"flood\":%s,\"flood_sent\":%llu,"
                  "\"flood_pps\":%.0f,\"wire_busy\":%llu,\"attempts\":%llu,\"handshakes\":%llu,"
                  "\"successes\":%llu,\"failures\":%llu,\"hs_p50_us\":%.1f,\"hs_p99_us\":%.1f,"
                  "\"hs_max_us\":%.1f",
                  i ? "," : "", x.t, x.interval, x.flood ? "true" : "false", ull(x.flood_sent),
                  double(x.flood_sent) / x.interval, ull(x.flood_wire_busy), ull(l.attempts),
                  ull(l.handshakes), ull(l.successes), ull(l.failures),
                  double(l.handshake.percentile(50)) / 1e3,
                  double(l.handshake.percentile(99)) / 1e3, double(l.handshake.max()) / 1e3);
    s += buf;
    if (x.server.present)
      s += ",\"server\":" + server_json(x.server);
    s += "}";
  }
  s += "]}";
  return s;
}

} // namespace shoal::synflood
