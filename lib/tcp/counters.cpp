#include "tcp/counters.hpp"

namespace shoal::tcp {

const char *counter_name(Counter c) {
  auto i = static_cast<size_t>(c);
  return i < kCounterCount ? kCounterInfo[i].name : "?";
}

const char *counter_description(Counter c) {
  auto i = static_cast<size_t>(c);
  return i < kCounterCount ? kCounterInfo[i].description : "?";
}

std::string Counters::to_string() const {
  std::string out;
  for (size_t i = 0; i < kCounterCount; ++i)
    if (value[i] != 0)
      out += std::string(kCounterInfo[i].name) + " " + std::to_string(value[i]) + "\n";
  for (int s = 0; s < kStateCount; ++s)
    if (in_state[s] != 0)
      out += std::string("state ") + tcp::to_string(static_cast<State>(s)) + " " +
             std::to_string(in_state[s]) + "\n";
  for (int a = 0; a < kStateCount; ++a)
    for (int b = 0; b < kStateCount; ++b)
      if (transitions[a][b] != 0)
        out += std::string("transition ") + tcp::to_string(static_cast<State>(a)) + " -> " +
               tcp::to_string(static_cast<State>(b)) + " " + std::to_string(transitions[a][b]) +
               "\n";
  return out;
}

} // namespace shoal::tcp
