#pragma once
// Character classes of the HTTP grammar (RFC 9110 5.6, RFC 5234 B.1), as
// constexpr tables so the parsers test a byte with one load.
#include <array>
#include <cstdint>

namespace shoal::http::chars {

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA          (RFC 9110 5.6.2)
inline constexpr std::array<bool, 256> kTchar = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c)
    t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c)
    t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c)
    t[c] = true;
  for (char c : {'!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~'})
    t[static_cast<uint8_t>(c)] = true;
  return t;
}();

constexpr bool is_tchar(uint8_t c) {
  return kTchar[c];
}

// VCHAR: visible US-ASCII, %x21-7E (RFC 5234 B.1).
constexpr bool is_vchar(uint8_t c) {
  return c >= 0x21 && c <= 0x7e;
}

// Whitespace inside a field value: OWS = *( SP / HTAB ) (RFC 9110 5.6.3).
constexpr bool is_ows(uint8_t c) {
  return c == ' ' || c == '\t';
}

// A byte allowed inside a field value: VCHAR, SP, HTAB or obs-text
// (%x80-FF) (RFC 9110 5.5). Everything else is a control character.
constexpr bool is_field_byte(uint8_t c) {
  return is_vchar(c) || is_ows(c) || c >= 0x80;
}

constexpr bool is_digit(uint8_t c) {
  return c >= '0' && c <= '9';
}

// Field names, connection options and transfer codings compare
// case-insensitively (RFC 9110 5.1, 7.6.1, 10.1.4); they are ASCII tokens.
constexpr uint8_t to_lower(uint8_t c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + ('a' - 'A')) : c;
}

} // namespace shoal::http::chars
