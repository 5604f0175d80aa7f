#include "tcp/state.hpp"

#include "tcp/engine.hpp"

namespace shoal::tcp {

const char *to_string(State s) {
  switch (s) {
  case State::closed:
    return "CLOSED";
  case State::listen:
    return "LISTEN";
  case State::syn_sent:
    return "SYN-SENT";
  case State::syn_received:
    return "SYN-RECEIVED";
  case State::established:
    return "ESTABLISHED";
  case State::fin_wait_1:
    return "FIN-WAIT-1";
  case State::fin_wait_2:
    return "FIN-WAIT-2";
  case State::close_wait:
    return "CLOSE-WAIT";
  case State::closing:
    return "CLOSING";
  case State::last_ack:
    return "LAST-ACK";
  case State::time_wait:
    return "TIME-WAIT";
  }
  return "?";
}

const char *to_string(CloseReason r) {
  switch (r) {
  case CloseReason::normal:
    return "normal";
  case CloseReason::reset:
    return "reset";
  case CloseReason::refused:
    return "refused";
  case CloseReason::timed_out:
    return "timed_out";
  case CloseReason::aborted:
    return "aborted";
  case CloseReason::unreachable:
    return "unreachable";
  case CloseReason::stack_destroyed:
    return "stack_destroyed";
  }
  return "?";
}

} // namespace shoal::tcp
