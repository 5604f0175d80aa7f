#pragma once
// Every counter /shoal/stats can show, with its kind and description, in the
// order /shoal/stats gives them: the shard's table, the parse-error counters
// ("<layer>_<reason>", all of kind drop), then the TCP engine's table with
// the "tcp_" prefix /shoal/stats puts on its names. Served by the telemetry
// command /shoal/describe and printed by shoal-stat --describe.
//
// Header-only over the compiled-in X-macro tables, so shoal-stat can print
// it without DPDK and without a running process.
#include <cstddef>
#include <string>
#include <vector>

#include "common/counter_kind.hpp"
#include "shard/counters.hpp"
#include "tcp/counters.hpp"
#include "wire/parse_error.hpp"

namespace shoal::shard {

struct CounterDescription {
  std::string name; // as /shoal/stats names it
  CounterKind kind;
  std::string description;
};

// The parse-error counters listed are those their layer's parser can return
// (parse_error_possible): /shoal/stats shows another only if it is not zero,
// which would be a bug in a parser.
inline std::vector<CounterDescription> counter_catalog() {
  std::vector<CounterDescription> out;
  for (const CounterInfo &c : kShardCounterInfo)
    out.push_back({c.name, c.kind, c.description});

  static constexpr const char *kLayerNames[] = {
#define SHOAL_X(name) #name,
      SHOAL_SHARD_PARSE_LAYERS(SHOAL_X)
#undef SHOAL_X
  };
  static constexpr const char *kErrorNames[] = {
#define SHOAL_X(name, desc) #name,
      SHOAL_WIRE_PARSE_ERRORS(SHOAL_X)
#undef SHOAL_X
  };
  for (size_t l = 0; l < kLayerCount; l++)
    for (size_t e = 1; e < wire::kParseErrorCount; e++) {
      const auto error = static_cast<wire::ParseError>(e);
      if (!parse_error_possible(static_cast<Layer>(l), error))
        continue;
      out.push_back({std::string(kLayerNames[l]) + "_" + kErrorNames[e], CounterKind::drop,
                     std::string(kLayerNames[l]) + " input its parser rejected: " +
                         wire::describe(error)});
    }

  for (const CounterInfo &c : tcp::kCounterInfo)
    out.push_back({std::string("tcp_") + c.name, c.kind, c.description});
  return out;
}

} // namespace shoal::shard
