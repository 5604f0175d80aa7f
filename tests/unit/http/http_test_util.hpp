#pragma once
// Test support for lib/http: feed a byte stream to a parser in chosen pieces
// and describe what came out as one line per message, so a failing test
// prints a readable trace ("GET /a HTTP/1.1 keep-alive body=[hello]").
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/request_parser.hpp"
#include "http/response_parser.hpp"

namespace shoal::http::test {

using Bytes = std::vector<uint8_t>;

inline Bytes bytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

inline std::string printable(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<uint8_t>(ch);
    if (c == '\r')
      out += "\\r";
    else if (c == '\n')
      out += "\\n";
    else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else
      out += ch;
  }
  return out;
}

// Pieces of `stream` cut at the given offsets (ascending, each <= size).
inline std::vector<std::string_view> cut(std::string_view stream, const std::vector<size_t> &cuts) {
  std::vector<std::string_view> pieces;
  size_t from = 0;
  for (size_t c : cuts) {
    pieces.push_back(stream.substr(from, c - from));
    from = c;
  }
  pieces.push_back(stream.substr(from));
  return pieces;
}

// Feeds each piece from an exactly sized heap copy (so ASan sees any read
// past a piece) and checks the FeedResult contract on the way.
template <class Parser, class Describe>
std::string run_trace(Parser &parser, const std::vector<std::string_view> &pieces,
                      Describe describe, bool at_eof = false) {
  std::string trace;
  std::string body;
  bool failed = false;
  for (std::string_view piece : pieces) {
    const Bytes copy = bytes(piece);
    std::span<const uint8_t> in(copy.data(), copy.size());
    // An empty piece must be harmless too.
    while (!failed) {
      const FeedResult r = parser.feed(in);
      if (r.consumed > in.size())
        return trace + " !! consumed beyond input";
      if (!r.body.empty() &&
          (r.body.data() < in.data() || r.body.data() + r.body.size() > in.data() + r.consumed))
        return trace + " !! body span outside consumed input";
      body.append(reinterpret_cast<const char *>(r.body.data()), r.body.size());
      in = in.subspan(r.consumed);
      if (r.status == FeedStatus::complete) {
        trace += describe(parser) + " body=[" + printable(body) + "]\n";
        body.clear();
        continue; // pipelining: the rest of the piece is the next message
      }
      if (r.status == FeedStatus::error) {
        trace += std::string("error ") + to_string(parser.error()) + "\n";
        failed = true;
        break;
      }
      if (!in.empty())
        return trace + " !! need_more with input left";
      break;
    }
  }
  if constexpr (requires { parser.finish(); }) {
    if (at_eof && !failed) {
      const FeedResult r = parser.finish();
      if (r.status == FeedStatus::complete)
        trace += describe(parser) + " body=[" + printable(body) + "] (at eof)\n";
      else if (r.status == FeedStatus::error)
        trace += std::string("error ") + to_string(parser.error()) + "\n";
      return trace;
    }
  }
  if (!failed && parser.in_message())
    trace += "partial\n";
  return trace;
}

inline std::string describe_request(const RequestParser &p) {
  std::string s(p.method_name());
  s += ' ';
  s += printable(p.target());
  s += " HTTP/1.";
  s += std::to_string(p.version_minor());
  s += p.keep_alive() ? " keep-alive" : " close";
  return s;
}

inline std::string describe_response(const ResponseParser &p) {
  std::string s = std::to_string(p.status());
  s += " HTTP/1.";
  s += std::to_string(p.version_minor());
  s += p.keep_alive() ? " keep-alive" : " close";
  if (p.has_content_length())
    s += " length=" + std::to_string(p.content_length());
  return s;
}

inline std::string request_trace(std::string_view stream, const std::vector<size_t> &cuts = {},
                                 const RequestLimits &limits = {}) {
  RequestParser parser(limits);
  return run_trace(parser, cut(stream, cuts), describe_request);
}

inline std::string response_trace(std::string_view stream, const std::vector<size_t> &cuts = {},
                                  bool at_eof = false) {
  ResponseParser parser;
  return run_trace(parser, cut(stream, cuts), describe_response, at_eof);
}

inline std::vector<size_t> every_byte(size_t n) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < n; ++i)
    cuts.push_back(i);
  return cuts;
}

} // namespace shoal::http::test
