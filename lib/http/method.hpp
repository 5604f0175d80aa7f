#pragma once
// Request methods (RFC 9110 9, RFC 5789). Method names are case-sensitive.
#include <cstdint>
#include <string_view>

namespace shoal::http {

enum class Method : uint8_t {
  get,
  head,
  post,
  put,
  delete_,
  connect,
  options,
  trace,
  patch,
  other
};

constexpr Method method_from_name(std::string_view name) {
  if (name == "GET")
    return Method::get;
  if (name == "HEAD")
    return Method::head;
  if (name == "POST")
    return Method::post;
  if (name == "PUT")
    return Method::put;
  if (name == "DELETE")
    return Method::delete_;
  if (name == "CONNECT")
    return Method::connect;
  if (name == "OPTIONS")
    return Method::options;
  if (name == "TRACE")
    return Method::trace;
  if (name == "PATCH")
    return Method::patch;
  return Method::other;
}

} // namespace shoal::http
