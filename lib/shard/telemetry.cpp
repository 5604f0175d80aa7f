#include "shard/telemetry.hpp"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <rte_telemetry.h>

#include "shard/counter_catalog.hpp"

namespace shoal::shard {

namespace {

struct Published {
  const Shard *shard;
  const TcpStats *tcp; // nullptr: no engine on this shard
};

std::mutex registry_mutex;
std::vector<Published> registry; // guarded by registry_mutex

// "tcp_segs_in", ... built once.
const std::vector<std::string> &tcp_counter_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (size_t i = 0; i < tcp::kCounterCount; i++)
      v.push_back(std::string("tcp_") + tcp::counter_name(static_cast<tcp::Counter>(i)));
    return v;
  }();
  return names;
}

template <typename F> void for_each_counter(const Published &p, F &&f) {
  p.shard->counters().for_each(f);
  if (p.tcp == nullptr)
    return;
  const auto &names = tcp_counter_names();
  for (size_t i = 0; i < tcp::kCounterCount; i++)
    f(names[i].c_str(), p.tcp->value[i].load(std::memory_order_relaxed));
}

void fill_counters(rte_tel_data *d, const Published &p) {
  rte_tel_data_start_dict(d);
  for_each_counter(p, [d](const char *name, uint64_t v) { rte_tel_data_add_dict_u64(d, name, v); });
}

void fill_conns(rte_tel_data *d, const std::vector<const TcpStats *> &shards) {
  rte_tel_data_start_dict(d);
  for (int s = 0; s < tcp::kStateCount; s++) {
    const auto st = static_cast<tcp::State>(s);
    if (st == tcp::State::closed)
      continue;
    uint64_t n = 0;
    for (const TcpStats *t : shards)
      n += t->state(st);
    rte_tel_data_add_dict_u64(d, netstat_name(st), n);
  }
}

// Only the non-zero-meaning fields of each part: the mempool column has the
// mbuf rows, the shard columns the engine rows; every column has
// total_bytes, so a reader summing the columns gets the stack's total.
void fill_memory(rte_tel_data *d, const MemoryStats &m, bool mbufs) {
  rte_tel_data_start_dict(d);
  if (mbufs) {
    rte_tel_data_add_dict_u64(d, "mbufs_in_use", m.mbufs_in_use);
    rte_tel_data_add_dict_u64(d, "mbufs_total", m.mbufs_total);
    rte_tel_data_add_dict_u64(d, "mbuf_bytes", m.mbuf_bytes);
  } else {
    rte_tel_data_add_dict_u64(d, "connections", m.connections);
    rte_tel_data_add_dict_u64(d, "connection_bytes", m.connection_bytes);
    rte_tel_data_add_dict_u64(d, "flow_table_bytes", m.flow_table_bytes);
    rte_tel_data_add_dict_u64(d, "time_wait_records", m.time_wait_records);
    rte_tel_data_add_dict_u64(d, "time_wait_bytes", m.time_wait_bytes);
    rte_tel_data_add_dict_u64(d, "other_bytes", m.other_bytes);
  }
  rte_tel_data_add_dict_u64(d, "total_bytes", m.total_bytes());
}

const Published *find(unsigned long id) {
  for (const Published &p : registry)
    if (p.shard->id() == id)
      return &p;
  return nullptr;
}

bool parse_id(const char *params, unsigned long *id) {
  char *end = nullptr;
  *id = std::strtoul(params, &end, 10);
  return end != params && *end == '\0';
}

// d[name] = a new dictionary that fill(container) writes.
template <typename F> bool add_container(rte_tel_data *d, const std::string &name, F &&fill) {
  rte_tel_data *c = rte_tel_data_alloc();
  if (c == nullptr)
    return false;
  fill(c);
  if (rte_tel_data_add_dict_container(d, name.c_str(), c, 0) != 0) {
    rte_tel_data_free(c);
    return false;
  }
  return true;
}

int handle_stats(const char *, const char *params, rte_tel_data *d) {
  std::lock_guard lock(registry_mutex);
  if (params != nullptr && *params != '\0') {
    unsigned long id;
    const Published *p = parse_id(params, &id) ? find(id) : nullptr;
    if (p == nullptr)
      return -1;
    fill_counters(d, *p);
    return 0;
  }
  rte_tel_data_start_dict(d);
  for (const Published &p : registry) {
    if (!add_container(d, "shard" + std::to_string(p.shard->id()), [&](rte_tel_data *c) {
          fill_counters(c, p);
        }))
      return -1;
  }
  return 0;
}

int handle_conns(const char *, const char *params, rte_tel_data *d) {
  std::lock_guard lock(registry_mutex);
  if (params != nullptr && *params != '\0') {
    unsigned long id;
    const Published *p = parse_id(params, &id) ? find(id) : nullptr;
    if (p == nullptr || p->tcp == nullptr)
      return -1;
    fill_conns(d, {p->tcp});
    return 0;
  }
  std::vector<const TcpStats *> all;
  for (const Published &p : registry)
    if (p.tcp != nullptr)
      all.push_back(p.tcp);
  rte_tel_data_start_dict(d);
  if (!add_container(d, "total", [&](rte_tel_data *total) {
        fill_conns(total, all);
      }))
    return -1;
  for (const Published &p : registry) {
    if (p.tcp == nullptr)
      continue;
    if (!add_container(d, "shard" + std::to_string(p.shard->id()), [&](rte_tel_data *c) {
          fill_conns(c, {p.tcp});
        }))
      return -1;
  }
  return 0;
}

int handle_mem(const char *, const char *, rte_tel_data *d) {
  std::lock_guard lock(registry_mutex);
  rte_tel_data_start_dict(d);
  // The shards share one mempool (usually): one column per distinct pool.
  std::vector<const rte_mempool *> pools;
  for (const Published &p : registry) {
    if (std::find(pools.begin(), pools.end(), p.shard->pool()) != pools.end())
      continue;
    pools.push_back(p.shard->pool());
    const std::string name =
        pools.size() == 1 ? "mempool" : "mempool" + std::to_string(pools.size() - 1);
    if (!add_container(d, name, [&](rte_tel_data *c) {
          fill_memory(c, mempool_memory(p.shard->pool()), true);
        }))
      return -1;
  }
  for (const Published &p : registry) {
    if (p.tcp == nullptr)
      continue;
    if (!add_container(d, "shard" + std::to_string(p.shard->id()), [&](rte_tel_data *c) {
          fill_memory(c, p.tcp->memory(), false);
        }))
      return -1;
  }
  return 0;
}

// Without a parameter: {"<counter>": "<kind>", ...} for every counter
// /shoal/stats can show. With a counter's name: {"kind": ..., "description": ...}.
// One description per query keeps every reply far below DPDK's output limit.
int handle_describe(const char *, const char *params, rte_tel_data *d) {
  static const std::vector<CounterDescription> catalog = counter_catalog();
  rte_tel_data_start_dict(d);
  if (params != nullptr && *params != '\0') {
    const auto it = std::find_if(catalog.begin(), catalog.end(),
                                 [params](const CounterDescription &c) { return c.name == params; });
    if (it == catalog.end())
      return -1;
    if (rte_tel_data_add_dict_string(d, "kind", to_string(it->kind)) != 0 ||
        rte_tel_data_add_dict_string(d, "description", it->description.c_str()) != 0)
      return -1;
    return 0;
  }
  for (const CounterDescription &c : catalog)
    if (rte_tel_data_add_dict_string(d, c.name.c_str(), to_string(c.kind)) != 0)
      return -1;
  return 0;
}

} // namespace

MemoryStats mempool_memory(const rte_mempool *mp) {
  MemoryStats m;
  if (mp == nullptr)
    return m;
  m.mbufs_total = mp->size;
  m.mbufs_in_use = rte_mempool_in_use_count(mp);
  m.mbuf_bytes = m.mbufs_in_use * (uint64_t{mp->header_size} + mp->elt_size + mp->trailer_size);
  return m;
}

const char *netstat_name(tcp::State s) {
  switch (s) {
  case tcp::State::closed:
    return "CLOSED";
  case tcp::State::listen:
    return "LISTEN";
  case tcp::State::syn_sent:
    return "SYN_SENT";
  case tcp::State::syn_received:
    return "SYN_RECV";
  case tcp::State::established:
    return "ESTABLISHED";
  case tcp::State::fin_wait_1:
    return "FIN_WAIT1";
  case tcp::State::fin_wait_2:
    return "FIN_WAIT2";
  case tcp::State::close_wait:
    return "CLOSE_WAIT";
  case tcp::State::closing:
    return "CLOSING";
  case tcp::State::last_ack:
    return "LAST_ACK";
  case tcp::State::time_wait:
    return "TIME_WAIT";
  }
  return "UNKNOWN";
}

bool register_telemetry(std::string *error) {
  static std::once_flag once;
  static int rc = 0;
  static const char *failed = "";
  std::call_once(once, [] {
    rc = rte_telemetry_register_cmd("/shoal/stats", handle_stats,
                                    "Per-shard counters: packets, bytes, drops by reason, TCP "
                                    "(tcp_*). Parameter: shard id (optional)");
    if (rc != 0) {
      failed = "/shoal/stats";
      return;
    }
    rc = rte_telemetry_register_cmd("/shoal/conns", handle_conns,
                                    "TCP connections per state, in total and per shard. "
                                    "Parameter: shard id (optional)");
    if (rc != 0) {
      failed = "/shoal/conns";
      return;
    }
    rc = rte_telemetry_register_cmd("/shoal/mem", handle_mem,
                                    "Memory held: mbufs in use (per mempool), connection pool, flow "
                                    "table, TIME_WAIT records (per shard); bytes");
    if (rc != 0) {
      failed = "/shoal/mem";
      return;
    }
    rc = rte_telemetry_register_cmd("/shoal/describe", handle_describe,
                                    "Every counter's kind (volume, event, drop). Parameter: a "
                                    "counter's name (optional), for its kind and description");
    if (rc != 0)
      failed = "/shoal/describe";
  });
  if (rc != 0) {
    *error = std::string("rte_telemetry_register_cmd ") + failed + " failed (" +
             std::to_string(rc) + ")";
    return false;
  }
  return true;
}

void publish(const Shard *s, const TcpStats *tcp) {
  std::lock_guard lock(registry_mutex);
  auto it = std::find_if(registry.begin(), registry.end(),
                         [s](const Published &p) { return p.shard == s; });
  if (it == registry.end())
    registry.push_back({s, tcp});
  else
    it->tcp = tcp;
}

void unpublish(const Shard *s) {
  std::lock_guard lock(registry_mutex);
  std::erase_if(registry, [s](const Published &p) { return p.shard == s; });
}

std::string stats_json(std::span<const Shard *const> only) {
  std::lock_guard lock(registry_mutex);
  std::string out = "{\"shoal_stats\":{";
  bool first = true;
  for (const Published &p : registry) {
    if (!only.empty() && std::find(only.begin(), only.end(), p.shard) == only.end())
      continue;
    if (!first)
      out += ',';
    first = false;
    out += "\"shard" + std::to_string(p.shard->id()) + "\":{";
    bool f2 = true;
    for_each_counter(p, [&](const char *name, uint64_t v) {
      if (!f2)
        out += ',';
      f2 = false;
      out += '"';
      out += name;
      out += "\":" + std::to_string(v);
    });
    out += '}';
  }
  return out + "}}";
}

} // namespace shoal::shard
