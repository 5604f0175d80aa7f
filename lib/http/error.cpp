#include "http/error.hpp"

namespace shoal::http {

const char *to_string(HttpError e) {
  switch (e) {
#define SHOAL_HTTP_X_CASE(name, status, meaning)                                                   \
  case HttpError::name:                                                                            \
    return #name;
    SHOAL_HTTP_ERRORS(SHOAL_HTTP_X_CASE)
#undef SHOAL_HTTP_X_CASE
  }
  return "unknown";
}

const char *describe(HttpError e) {
  switch (e) {
#define SHOAL_HTTP_X_CASE(name, status, meaning)                                                   \
  case HttpError::name:                                                                            \
    return meaning;
    SHOAL_HTTP_ERRORS(SHOAL_HTTP_X_CASE)
#undef SHOAL_HTTP_X_CASE
  }
  return "unknown";
}

} // namespace shoal::http
