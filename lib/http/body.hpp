#pragma once
// Response bodies without a body buffer.
//
// A fixed-size benchmark body is a pure function of the byte offset: byte i
// of every generated body is kPattern[i % kPattern.size()]. The server fills
// whatever send-ring span it reserved, piece by piece, and the client checks
// what it receives with the same function, wherever the segments split.
//
// For files, the server mmaps or reads the bytes itself; what it needs from
// here is the head for a known length (response_writer.hpp) and a type
// (content_type_for).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace shoal::http {

// 64 printable bytes ending in a newline, so a body reads as text lines.
inline constexpr std::string_view kPattern =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_\n";
static_assert(kPattern.size() == 64);

// Writes body bytes [offset, offset + out.size()) into out.
void fill_pattern(uint64_t offset, std::span<uint8_t> out);

// Whether `in` equals body bytes [offset, offset + in.size()).
bool matches_pattern(uint64_t offset, std::span<const uint8_t> in);

// A pattern body of a known length being written out in pieces.
class PatternBody {
public:
  explicit PatternBody(uint64_t length = 0) : length_(length) {}

  // Fills as much of `out` as the body has left; returns the bytes written.
  size_t write(std::span<uint8_t> out);

  uint64_t length() const { return length_; }
  uint64_t remaining() const { return length_ - offset_; }
  bool done() const { return offset_ == length_; }

private:
  uint64_t length_;
  uint64_t offset_ = 0;
};

// Content-Type for a file path by its extension (RFC 9110 8.3);
// "application/octet-stream" when unknown (RFC 9110 8.3 allows it).
std::string_view content_type_for(std::string_view path);

} // namespace shoal::http
