#include "wire/parse_error.hpp"

namespace shoal::wire {

const char *to_string(ParseError e) {
  switch (e) {
#define SHOAL_WIRE_X_CASE(name, desc)                                                              \
  case ParseError::name:                                                                           \
    return #name;
    SHOAL_WIRE_PARSE_ERRORS(SHOAL_WIRE_X_CASE)
#undef SHOAL_WIRE_X_CASE
  }
  return "unknown";
}

} // namespace shoal::wire
