#pragma once
// Small pieces shared by the shoal apps: per-shard ownership of the handlers
// the apps allocate (so that whatever is still open when the stack stops is
// freed), and argument parsing helpers.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <unordered_set>
#include <vector>

namespace shoal::apps {

// Handlers by shard. Each set is touched only by its shard (callbacks), and
// by main() after Stack::run() returned.
template <typename H> class HandlerRegistry {
public:
  explicit HandlerRegistry(unsigned shards) : live_(shards) {}
  ~HandlerRegistry() {
    for (auto &set : live_)
      for (H *h : set)
        delete h;
  }
  HandlerRegistry(const HandlerRegistry &) = delete;
  HandlerRegistry &operator=(const HandlerRegistry &) = delete;

  H *add(unsigned shard, H *h) {
    live_[shard].insert(h);
    return h;
  }
  void remove(unsigned shard, H *h) {
    live_[shard].erase(h);
    delete h;
  }

private:
  std::vector<std::unordered_set<H *>> live_;
};

// "123" -> 123 within [lo, hi]; false otherwise.
inline bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
  if (s == nullptr || *s == '\0')
    return false;
  char *end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || *s == '-' || v < lo || v > hi)
    return false;
  *out = v;
  return true;
}

} // namespace shoal::apps
