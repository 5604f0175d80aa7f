#pragma once
// What one feed() of an incremental HTTP parser reports.
#include <cstddef>
#include <cstdint>
#include <span>

namespace shoal::http {

enum class FeedStatus : uint8_t {
  need_more, // every byte consumed; the message is not finished
  complete,  // a whole message ends at `consumed`; the rest is the next one
  error,     // malformed; see the parser's error()
};

struct FeedResult {
  FeedStatus status = FeedStatus::need_more;
  size_t consumed = 0; // bytes of the input taken by this message
  // The message-body bytes inside the consumed input: a subspan of it, never
  // a copy. A body spread over several pieces is reported piece by piece.
  std::span<const uint8_t> body{};
};

} // namespace shoal::http
