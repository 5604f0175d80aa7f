// The request parser on well-formed input: fields it reports, pieces split at
// every byte boundary, pipelining, bodies, persistence (RFC 9112 9.3), limits.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "http/request_parser.hpp"
#include "http_test_util.hpp"

namespace shoal::http {
namespace {

using test::bytes;
using test::every_byte;
using test::request_trace;

TEST(RequestParser, SimpleGet) {
  RequestParser p;
  const auto in = bytes("GET /index.html?q=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n");
  const FeedResult r = p.feed(in);
  ASSERT_EQ(r.status, FeedStatus::complete) << to_string(p.error());
  EXPECT_EQ(r.consumed, in.size());
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(p.method(), Method::get);
  EXPECT_EQ(p.method_name(), "GET");
  EXPECT_EQ(p.target(), "/index.html?q=1");
  EXPECT_EQ(p.version_minor(), 1);
  EXPECT_TRUE(p.keep_alive());
  EXPECT_EQ(p.content_length(), 0u);
  EXPECT_EQ(p.fields().fields, 2);
  EXPECT_TRUE(p.head_complete());
  EXPECT_FALSE(p.in_message());
}

TEST(RequestParser, MethodsAndTargetForms) {
  EXPECT_EQ(request_trace("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"),
            "HEAD / HTTP/1.1 keep-alive body=[]\n");
  EXPECT_EQ(request_trace("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
            "OPTIONS * HTTP/1.1 keep-alive body=[]\n");
  EXPECT_EQ(request_trace("GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n"),
            "GET http://a.example/x HTTP/1.1 keep-alive body=[]\n");
  EXPECT_EQ(request_trace("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"),
            "CONNECT a.example:443 HTTP/1.1 keep-alive body=[]\n");
  // Unknown methods parse; answering 501 or 405 is the server's business.
  RequestParser p;
  ASSERT_EQ(p.feed(bytes("PROPFIND /x HTTP/1.1\r\nHost: a\r\n\r\n")).status, FeedStatus::complete);
  EXPECT_EQ(p.method(), Method::other);
  EXPECT_EQ(p.method_name(), "PROPFIND");
  // Method names are case-sensitive (RFC 9110 9.1).
  ASSERT_EQ(p.feed(bytes("get / HTTP/1.1\r\nHost: a\r\n\r\n")).status, FeedStatus::complete);
  EXPECT_EQ(p.method(), Method::other);
}

TEST(RequestParser, FieldNamesAreCaseInsensitive) {
  EXPECT_EQ(request_trace("POST /u HTTP/1.1\r\nhOsT: a\r\ncOnTeNt-LeNgTh: 3\r\n"
                          "CONNECTION: CLOSE\r\n\r\nabc"),
            "POST /u HTTP/1.1 close body=[abc]\n");
}

TEST(RequestParser, FieldValuesMayCarryObsTextAndOws) {
  EXPECT_EQ(request_trace("GET / HTTP/1.1\r\nHost:a\r\nX-Y: \t caf\xc3\xa9 \t\r\nX-Empty:\r\n\r\n"),
            "GET / HTTP/1.1 keep-alive body=[]\n");
}

TEST(RequestParser, LeadingEmptyLinesAreSkipped) {
  // RFC 9112 2.2: ignore at least one empty line before the request line.
  EXPECT_EQ(request_trace("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            "GET / HTTP/1.1 keep-alive body=[]\n");
}

// --- persistence: RFC 9112 9.3 ----------------------------------------------

struct KeepAliveRow {
  const char *version;
  const char *connection; // nullptr: no Connection field
  bool keep_alive;
};

TEST(RequestParser, KeepAliveTable) {
  const KeepAliveRow rows[] = {
      {"HTTP/1.1", nullptr, true},
      {"HTTP/1.1", "close", false},
      {"HTTP/1.1", "keep-alive", true},
      {"HTTP/1.1", "Keep-Alive", true},
      {"HTTP/1.1", "upgrade, close", false},
      {"HTTP/1.1", " , Close ,", false},
      {"HTTP/1.1", "keep-alive, close", false}, // close wins
      {"HTTP/1.1", "closed", true},             // a different option
      {"HTTP/1.1", "x-close", true},
      {"HTTP/1.0", nullptr, false},
      {"HTTP/1.0", "keep-alive", true},
      {"HTTP/1.0", "KEEP-ALIVE", true},
      {"HTTP/1.0", "foo,keep-alive", true},
      {"HTTP/1.0", "close", false},
      {"HTTP/1.0", "keep-alive, close", false},
      {"HTTP/1.0", "keep alive", false}, // not a token: matches nothing
      {"HTTP/1.9", nullptr, true},       // served as 1.1 (RFC 9110 2.5)
  };
  for (const KeepAliveRow &row : rows) {
    std::string req = std::string("GET / ") + row.version + "\r\nHost: a\r\n";
    if (row.connection)
      req += std::string("Connection: ") + row.connection + "\r\n";
    req += "\r\n";
    RequestParser p;
    const FeedResult r = p.feed(bytes(req));
    ASSERT_EQ(r.status, FeedStatus::complete) << test::printable(req);
    EXPECT_EQ(p.keep_alive(), row.keep_alive) << test::printable(req);
  }
}

TEST(RequestParser, ConnectionOptionsAcrossFieldLines) {
  EXPECT_EQ(request_trace("GET / HTTP/1.0\r\nConnection: foo\r\nConnection: keep-alive\r\n\r\n"),
            "GET / HTTP/1.0 keep-alive body=[]\n");
}

// --- bodies -----------------------------------------------------------------

TEST(RequestParser, BodyIsReportedInPlaceAndSkipped) {
  RequestParser p;
  const auto in = bytes("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET");
  const FeedResult r = p.feed(in);
  ASSERT_EQ(r.status, FeedStatus::complete);
  EXPECT_EQ(r.consumed, in.size() - 3);
  // Zero-copy: the body span points into the input.
  EXPECT_EQ(r.body.data(), in.data() + in.size() - 8);
  EXPECT_EQ(std::string(r.body.begin(), r.body.end()), "hello");
  EXPECT_EQ(p.content_length(), 5u);
}

TEST(RequestParser, GetWithBodyIsAllowed) {
  EXPECT_EQ(request_trace("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody"
                          "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"),
            "GET / HTTP/1.1 keep-alive body=[body]\nGET /2 HTTP/1.1 keep-alive body=[]\n");
}

TEST(RequestParser, BodyArrivingInPieces) {
  RequestParser p;
  // The body spans point into the input: keep each piece alive while reading them.
  const auto head = bytes("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n012");
  FeedResult r = p.feed(head);
  EXPECT_EQ(r.status, FeedStatus::need_more);
  EXPECT_EQ(std::string(r.body.begin(), r.body.end()), "012");
  EXPECT_TRUE(p.head_complete());
  EXPECT_TRUE(p.in_message());
  const auto middle = bytes("3456");
  r = p.feed(middle);
  EXPECT_EQ(r.status, FeedStatus::need_more);
  EXPECT_EQ(r.body.size(), 4u);
  const auto tail = bytes("789GET");
  r = p.feed(tail);
  EXPECT_EQ(r.status, FeedStatus::complete);
  EXPECT_EQ(r.consumed, 3u);
  EXPECT_EQ(std::string(r.body.begin(), r.body.end()), "789");
}

TEST(RequestParser, RepeatedIdenticalContentLengthIsAccepted) {
  EXPECT_EQ(request_trace("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
                          "Content-Length:  02 \r\n\r\nhi"),
            "POST / HTTP/1.1 keep-alive body=[hi]\n");
}

// --- splitting ----------------------------------------------------------------

// A pipeline touching every state: leading blank line, bodies, 1.0 and 1.1,
// folded-looking values, a request ending exactly at a piece boundary.
const std::string kPipeline = "\r\n"
                              "GET /a HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"
                              "POST /b?c=d HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n"
                              "Content-Type: text/plain\r\n\r\nhello world"
                              "GET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                              "HEAD /d HTTP/1.1\r\nHost: x\r\nTransfer-Encodingx: chunked\r\n"
                              "Connection: close\r\n\r\n"
                              "GET /e HTTP/1.1\r\nHost:";

const std::string kPipelineTrace = "GET /a HTTP/1.1 keep-alive body=[]\n"
                                   "POST /b?c=d HTTP/1.1 keep-alive body=[hello world]\n"
                                   "GET /c HTTP/1.0 keep-alive body=[]\n"
                                   "HEAD /d HTTP/1.1 close body=[]\n"
                                   "partial\n";

TEST(RequestParser, PipelinedRequestsInOnePiece) {
  EXPECT_EQ(request_trace(kPipeline), kPipelineTrace);
}

TEST(RequestParser, SplitAtEveryByteBoundaryGivesTheSameRequests) {
  for (size_t at = 0; at <= kPipeline.size(); ++at)
    ASSERT_EQ(request_trace(kPipeline, {at}), kPipelineTrace) << "split at " << at;
}

TEST(RequestParser, OneByteAtATimeGivesTheSameRequests) {
  EXPECT_EQ(request_trace(kPipeline, every_byte(kPipeline.size())), kPipelineTrace);
}

TEST(RequestParser, RandomPiecesGiveTheSameRequests) {
  std::mt19937 rng(9112);
  for (int round = 0; round < 2000; ++round) {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < kPipeline.size(); ++i)
      if (rng() % 7 == 0)
        cuts.push_back(i);
    ASSERT_EQ(request_trace(kPipeline, cuts), kPipelineTrace) << "round " << round;
  }
}

TEST(RequestParser, ErrorsDoNotDependOnTheSplit) {
  const std::string bad[] = {
      "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /\x01 HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nA: b\nC: d\r\n\r\n",
  };
  for (const std::string &s : bad) {
    const std::string whole = request_trace(s);
    ASSERT_NE(whole.find("error"), std::string::npos) << whole;
    for (size_t at = 0; at <= s.size(); ++at)
      ASSERT_EQ(request_trace(s, {at}), whole) << test::printable(s) << " split at " << at;
  }
}

TEST(RequestParser, EmptyPiecesAreHarmless) {
  RequestParser p;
  EXPECT_EQ(p.feed({}).status, FeedStatus::need_more);
  EXPECT_EQ(request_trace("GET / HTTP/1.1\r\nHost: a\r\n\r\n", {0, 0, 5, 5, 27, 27}),
            "GET / HTTP/1.1 keep-alive body=[]\n");
}

// --- after complete and after error -----------------------------------------------

TEST(RequestParser, AccessorsStayValidUntilTheNextFeed) {
  RequestParser p;
  const auto in = bytes("GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\n");
  const FeedResult r = p.feed(in);
  ASSERT_EQ(r.status, FeedStatus::complete);
  EXPECT_EQ(p.target(), "/first");
  const FeedResult r2 = p.feed(std::span(in).subspan(r.consumed));
  EXPECT_EQ(r2.status, FeedStatus::need_more);
  EXPECT_TRUE(p.in_message());
  EXPECT_FALSE(p.head_complete());
}

TEST(RequestParser, ErrorIsStickyUntilReset) {
  RequestParser p;
  EXPECT_EQ(p.feed(bytes("BAD\x7f")).status, FeedStatus::error);
  EXPECT_EQ(p.error(), HttpError::bad_method);
  EXPECT_EQ(p.error_status(), 400);
  EXPECT_FALSE(p.keep_alive());
  const FeedResult again = p.feed(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_EQ(again.status, FeedStatus::error);
  EXPECT_EQ(again.consumed, 0u);
  p.reset();
  EXPECT_EQ(p.feed(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n")).status, FeedStatus::complete);
}

// --- limits -------------------------------------------------------------------

std::string get_with_target(size_t len) {
  return "GET /" + std::string(len - 1, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
}

TEST(RequestParserLimits, TargetLength) {
  RequestLimits lim;
  lim.max_target = 64;
  EXPECT_EQ(request_trace(get_with_target(64), {}, lim).substr(0, 4), "GET ");
  EXPECT_EQ(request_trace(get_with_target(65), {}, lim), "error target_too_long\n");
  // Split anywhere, same answer.
  const std::string s = get_with_target(65);
  for (size_t at = 0; at <= s.size(); ++at)
    ASSERT_EQ(request_trace(s, {at}, lim), "error target_too_long\n") << at;
  // The default is the fixed buffer's capacity; larger limits are clamped.
  lim.max_target = 1'000'000;
  EXPECT_EQ(request_trace(get_with_target(RequestLimits::kTargetCapacity), {}, lim).substr(0, 4),
            "GET ");
  EXPECT_EQ(request_trace(get_with_target(RequestLimits::kTargetCapacity + 1), {}, lim),
            "error target_too_long\n");
  EXPECT_EQ(status_for(HttpError::target_too_long), 414);
}

TEST(RequestParserLimits, MethodLength) {
  const std::string ok(RequestParser::kMethodCapacity, 'M');
  EXPECT_EQ(request_trace(ok + " / HTTP/1.1\r\nHost: a\r\n\r\n"),
            ok + " / HTTP/1.1 keep-alive body=[]\n");
  EXPECT_EQ(request_trace(ok + "M / HTTP/1.1\r\nHost: a\r\n\r\n"), "error method_too_long\n");
  EXPECT_EQ(status_for(HttpError::method_too_long), 501);
}

TEST(RequestParserLimits, FieldLineLength) {
  RequestLimits lim;
  lim.fields.max_field_line = 40;
  // "X: " + value + "\r\n" is exactly 40 bytes.
  const std::string at_limit =
      "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(35, 'v') + "\r\n\r\n";
  const std::string over = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(36, 'v') + "\r\n\r\n";
  EXPECT_EQ(request_trace(at_limit, {}, lim), "GET / HTTP/1.1 keep-alive body=[]\n");
  EXPECT_EQ(request_trace(over, {}, lim), "error field_line_too_long\n");
  for (size_t at = 0; at <= over.size(); ++at)
    ASSERT_EQ(request_trace(over, {at}, lim), "error field_line_too_long\n") << at;
  // A long field name counts the same.
  EXPECT_EQ(request_trace("GET / HTTP/1.1\r\n" + std::string(60, 'n') + ": v\r\n\r\n", {}, lim),
            "error field_line_too_long\n");
  EXPECT_EQ(status_for(HttpError::field_line_too_long), 431);
}

TEST(RequestParserLimits, FieldCount) {
  RequestLimits lim;
  lim.fields.max_fields = 4;
  std::string req = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 3; ++i)
    req += "X: y\r\n";
  EXPECT_EQ(request_trace(req + "\r\n", {}, lim), "GET / HTTP/1.1 keep-alive body=[]\n");
  EXPECT_EQ(request_trace(req + "X: y\r\n\r\n", {}, lim), "error too_many_fields\n");
  EXPECT_EQ(status_for(HttpError::too_many_fields), 431);
}

TEST(RequestParserLimits, FieldSectionSize) {
  RequestLimits lim;
  lim.fields.max_section_bytes = 100;
  // 9 ("Host: a\r\n") + 3 * 28 = 93 bytes of field lines.
  std::string fields = "Host: a\r\n";
  for (int i = 0; i < 3; ++i)
    fields += "X-Field: " + std::string(17, 'v') + "\r\n";
  ASSERT_EQ(fields.size(), 93u);
  // 93 + 5 + the final CRLF = 100: at the limit.
  EXPECT_EQ(request_trace("GET / HTTP/1.1\r\n" + fields + "Y:z\r\n\r\n", {}, lim),
            "GET / HTTP/1.1 keep-alive body=[]\n");
  // One byte more.
  const std::string over = "GET / HTTP/1.1\r\n" + fields + "Y:zz\r\n\r\n";
  EXPECT_EQ(request_trace(over, {}, lim), "error header_section_too_large\n");
  for (size_t at = 0; at <= over.size(); ++at)
    ASSERT_EQ(request_trace(over, {at}, lim), "error header_section_too_large\n") << at;
  EXPECT_EQ(status_for(HttpError::header_section_too_large), 431);
}

TEST(RequestParserLimits, BodySize) {
  RequestLimits lim;
  lim.max_body = 10;
  EXPECT_EQ(
      request_trace("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", {}, lim),
      "POST / HTTP/1.1 keep-alive body=[0123456789]\n");
  EXPECT_EQ(request_trace("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", {}, lim),
            "error content_too_large\n");
  // Absurd lengths saturate instead of overflowing.
  EXPECT_EQ(request_trace("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
                          "99999999999999999999999999999999\r\n\r\n"),
            "error content_too_large\n");
  // 2^64 and 2^64 + 5 must not wrap around to 0 and 5.
  EXPECT_EQ(request_trace("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
                          "18446744073709551616\r\n\r\n"),
            "error content_too_large\n");
  EXPECT_EQ(request_trace("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
                          "18446744073709551621\r\n\r\nhello"),
            "error content_too_large\n");
  // The largest value below the cap is read exactly.
  RequestLimits unlimited;
  unlimited.max_body = UINT64_MAX;
  RequestParser p(unlimited);
  const auto in =
      bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387903\r\n\r\n");
  EXPECT_EQ(p.feed(in).status, FeedStatus::need_more);
  EXPECT_EQ(p.content_length(), kContentLengthCap - 1);
  EXPECT_EQ(status_for(HttpError::content_too_large), 413);
}

TEST(RequestParserLimits, EmptyLinesBeforeTheRequest) {
  std::string blank;
  for (unsigned i = 0; i < RequestParser::kMaxEmptyLines; ++i)
    blank += "\r\n";
  EXPECT_EQ(request_trace(blank + "GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            "GET / HTTP/1.1 keep-alive body=[]\n");
  EXPECT_EQ(request_trace(blank + "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            "error too_many_empty_lines\n");
}

TEST(RequestParserLimits, StateIsSmall) {
  // Bounded and per-connection: the target buffer plus a few dozen bytes.
  EXPECT_LE(sizeof(RequestParser), RequestLimits::kTargetCapacity + 256);
}

} // namespace
} // namespace shoal::http
