#include "shard/counters.hpp"

#include <vector>

namespace shoal::shard {

const char *to_string(Layer l) {
  switch (l) {
#define SHOAL_X(name)                                                                              \
  case Layer::name:                                                                                \
    return #name;
    SHOAL_SHARD_PARSE_LAYERS(SHOAL_X)
#undef SHOAL_X
  }
  return "unknown";
}

const char *ShardCounters::parse_error_name(Layer l, wire::ParseError e) {
  // Built once (thread-safe static), read-only afterwards.
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (size_t li = 0; li < kLayerCount; li++)
      for (size_t ei = 0; ei < wire::kParseErrorCount; ei++)
        v.push_back(std::string(to_string(static_cast<Layer>(li))) + "_" +
                    wire::to_string(static_cast<wire::ParseError>(ei)));
    return v;
  }();
  const size_t i = static_cast<size_t>(l) * wire::kParseErrorCount + static_cast<size_t>(e);
  return i < names.size() ? names[i].c_str() : "unknown";
}

uint64_t ShardCounters::drops() const {
  uint64_t sum = 0;
#define SHOAL_X(name, kind, help)                                                                  \
  if (CounterKind::kind == CounterKind::drop)                                                      \
    sum += name.get();
  SHOAL_SHARD_COUNTERS(SHOAL_X)
#undef SHOAL_X
  for (const auto &layer : parse_errors)
    for (size_t e = 1; e < layer.size(); e++)
      sum += layer[e].get();
  return sum;
}

std::string ShardCounters::to_json() const {
  std::string s = "{";
  bool first = true;
  for_each([&](const char *name, uint64_t v) {
    if (!first)
      s += ',';
    first = false;
    s += '"';
    s += name;
    s += "\":";
    s += std::to_string(v);
  });
  return s + "}";
}

size_t counter_count() {
  size_t n = 0;
  ShardCounters{}.for_each([&](const char *, uint64_t) { n++; });
  return n;
}

} // namespace shoal::shard
