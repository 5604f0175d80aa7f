#pragma once
// The eleven connection states of RFC 9293 3.3.2 (Figure 5).
//
// Each state is one bit so that conditions read like the RFC text:
//   if (in_state(c.state(), ESTABLISHED | CLOSE_WAIT)) ...
#include <cstdint>

namespace shoal::tcp {

enum class State : uint8_t {
  closed,
  listen,
  syn_sent,
  syn_received,
  established,
  fin_wait_1,
  fin_wait_2,
  close_wait,
  closing,
  last_ack,
  time_wait,
};
inline constexpr int kStateCount = 11;

const char *to_string(State);

using StateSet = uint16_t;
constexpr StateSet bit(State s) {
  return static_cast<StateSet>(1u << static_cast<unsigned>(s));
}

inline constexpr StateSet CLOSED = bit(State::closed);
inline constexpr StateSet LISTEN = bit(State::listen);
inline constexpr StateSet SYN_SENT = bit(State::syn_sent);
inline constexpr StateSet SYN_RECEIVED = bit(State::syn_received);
inline constexpr StateSet ESTABLISHED = bit(State::established);
inline constexpr StateSet FIN_WAIT_1 = bit(State::fin_wait_1);
inline constexpr StateSet FIN_WAIT_2 = bit(State::fin_wait_2);
inline constexpr StateSet CLOSE_WAIT = bit(State::close_wait);
inline constexpr StateSet CLOSING = bit(State::closing);
inline constexpr StateSet LAST_ACK = bit(State::last_ack);
inline constexpr StateSet TIME_WAIT = bit(State::time_wait);

// RFC 9293 3.3.2: "synchronized" states are those after the handshake.
inline constexpr StateSet SYNCHRONIZED =
    ESTABLISHED | FIN_WAIT_1 | FIN_WAIT_2 | CLOSE_WAIT | CLOSING | LAST_ACK | TIME_WAIT;
// States in which we may still send data (we have not sent our FIN).
inline constexpr StateSet CAN_SEND = ESTABLISHED | CLOSE_WAIT;
// States in which the peer may still send data (its FIN not yet received).
inline constexpr StateSet CAN_RECEIVE = ESTABLISHED | FIN_WAIT_1 | FIN_WAIT_2;

constexpr bool in_state(State s, StateSet set) {
  return (bit(s) & set) != 0;
}

} // namespace shoal::tcp
