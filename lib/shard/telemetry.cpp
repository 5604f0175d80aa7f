#include "shard/telemetry.hpp"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <rte_telemetry.h>

namespace shoal::shard {

namespace {

std::mutex registry_mutex;
std::vector<const Shard *> registry; // guarded by registry_mutex

void fill_counters(rte_tel_data *d, const Shard &s) {
  rte_tel_data_start_dict(d);
  s.counters().for_each(
      [d](const char *name, uint64_t v) { rte_tel_data_add_dict_u64(d, name, v); });
}

int handle_stats(const char *, const char *params, rte_tel_data *d) {
  std::lock_guard lock(registry_mutex);
  if (params != nullptr && *params != '\0') {
    char *end = nullptr;
    const unsigned long id = std::strtoul(params, &end, 10);
    if (end == params || *end != '\0')
      return -1;
    for (const Shard *s : registry)
      if (s->id() == id) {
        fill_counters(d, *s);
        return 0;
      }
    return -1;
  }
  rte_tel_data_start_dict(d);
  for (const Shard *s : registry) {
    rte_tel_data *c = rte_tel_data_alloc();
    if (c == nullptr)
      return -1;
    fill_counters(c, *s);
    const std::string name = "shard" + std::to_string(s->id());
    if (rte_tel_data_add_dict_container(d, name.c_str(), c, 0) != 0) {
      rte_tel_data_free(c);
      return -1;
    }
  }
  return 0;
}

} // namespace

bool register_telemetry(std::string *error) {
  static std::once_flag once;
  static int rc = 0;
  std::call_once(once, [] {
    rc = rte_telemetry_register_cmd(
        "/shoal/stats", handle_stats,
        "Per-shard counters: packets, bytes, drops by reason. Parameter: shard id (optional)");
  });
  if (rc != 0) {
    *error = "rte_telemetry_register_cmd /shoal/stats failed (" + std::to_string(rc) + ")";
    return false;
  }
  return true;
}

void publish(const Shard *s) {
  std::lock_guard lock(registry_mutex);
  if (std::find(registry.begin(), registry.end(), s) == registry.end())
    registry.push_back(s);
}

void unpublish(const Shard *s) {
  std::lock_guard lock(registry_mutex);
  std::erase(registry, s);
}

std::string stats_json() {
  std::lock_guard lock(registry_mutex);
  std::string out = "{\"shoal_stats\":{";
  bool first = true;
  for (const Shard *s : registry) {
    if (!first)
      out += ',';
    first = false;
    out += "\"shard" + std::to_string(s->id()) + "\":" + s->counters().to_json();
  }
  return out + "}}";
}

} // namespace shoal::shard
