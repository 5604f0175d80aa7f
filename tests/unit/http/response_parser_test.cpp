// The client-side response parser: status, Content-Length, persistence,
// bodies delimited by length or by close, and input split anywhere.
#include <gtest/gtest.h>

#include <string>

#include "http/response_parser.hpp"
#include "http_test_util.hpp"

namespace shoal::http {
namespace {

using test::bytes;
using test::response_trace;

TEST(ResponseParser, SimpleResponse) {
  ResponseParser p;
  const auto in = bytes("HTTP/1.1 200 OK\r\nServer: shoal\r\nContent-Length: 5\r\n\r\nhello");
  const FeedResult r = p.feed(in);
  ASSERT_EQ(r.status, FeedStatus::complete) << to_string(p.error());
  EXPECT_EQ(r.consumed, in.size());
  EXPECT_EQ(std::string(r.body.begin(), r.body.end()), "hello");
  EXPECT_EQ(p.status(), 200);
  EXPECT_EQ(p.version_minor(), 1);
  EXPECT_TRUE(p.keep_alive());
  EXPECT_TRUE(p.has_content_length());
  EXPECT_EQ(p.content_length(), 5u);
  EXPECT_EQ(p.body_received(), 5u);
  EXPECT_FALSE(p.body_until_close());
}

const std::string kResponses =
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
    "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
    "HTTP/1.1 204 No Content\r\n\r\n"
    "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"
    "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx"
    "HTTP/1.1 500 \r\nContent-Length: 2\r\nConnection: close\r\n\r\nno";

const std::string kResponsesTrace = "200 HTTP/1.1 keep-alive length=3 body=[abc]\n"
                                    "404 HTTP/1.1 keep-alive length=0 body=[]\n"
                                    "204 HTTP/1.1 keep-alive body=[]\n"
                                    "304 HTTP/1.1 keep-alive length=99 body=[]\n"
                                    "200 HTTP/1.0 keep-alive length=1 body=[x]\n"
                                    "500 HTTP/1.1 close length=2 body=[no]\n";

TEST(ResponseParser, PipelinedResponses) {
  EXPECT_EQ(response_trace(kResponses), kResponsesTrace);
}

TEST(ResponseParser, SplitAtEveryByteBoundary) {
  for (size_t at = 0; at <= kResponses.size(); ++at)
    ASSERT_EQ(response_trace(kResponses, {at}), kResponsesTrace) << "split at " << at;
  EXPECT_EQ(response_trace(kResponses, test::every_byte(kResponses.size())), kResponsesTrace);
}

TEST(ResponseParser, BodyUntilClose) {
  const std::string s = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nall of this until EOF";
  EXPECT_EQ(response_trace(s, {}, true),
            "200 HTTP/1.1 close body=[all of this until EOF] (at eof)\n");
  for (size_t at = 0; at <= s.size(); ++at)
    ASSERT_EQ(response_trace(s, {at}, true),
              "200 HTTP/1.1 close body=[all of this until EOF] (at eof)\n")
        << at;
  ResponseParser p;
  const FeedResult r = p.feed(bytes(s));
  EXPECT_EQ(r.status, FeedStatus::need_more);
  EXPECT_TRUE(p.body_until_close());
  EXPECT_FALSE(p.keep_alive());
}

TEST(ResponseParser, Http10DefaultsToClose) {
  EXPECT_EQ(response_trace("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
            "200 HTTP/1.0 close length=0 body=[]\n");
}

TEST(ResponseParser, HeadResponseHasNoBody) {
  ResponseParser p;
  p.expect_head_response();
  const auto in = bytes("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
                        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
  FeedResult r = p.feed(in);
  ASSERT_EQ(r.status, FeedStatus::complete);
  EXPECT_EQ(p.content_length(), 1000u);
  EXPECT_EQ(r.body.size(), 0u);
  // The HEAD expectation applied to that response only.
  const FeedResult r2 = p.feed(std::span(in).subspan(r.consumed));
  ASSERT_EQ(r2.status, FeedStatus::complete);
  EXPECT_EQ(std::string(r2.body.begin(), r2.body.end()), "hi");
}

TEST(ResponseParser, HeadExpectationSetBetweenResponses) {
  ResponseParser p;
  ASSERT_EQ(p.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")).status,
            FeedStatus::complete);
  p.expect_head_response(); // for the next one
  const FeedResult r = p.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n"));
  EXPECT_EQ(r.status, FeedStatus::complete);
}

TEST(ResponseParser, InterimResponseCompletesOnItsOwn) {
  EXPECT_EQ(
      response_trace("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz"),
      "100 HTTP/1.1 keep-alive body=[]\n200 HTTP/1.1 keep-alive length=1 body=[z]\n");
}

TEST(ResponseParser, ReasonMayBeMissing) {
  EXPECT_EQ(response_trace("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"),
            "200 HTTP/1.1 keep-alive length=0 body=[]\n");
}

TEST(ResponseParser, FinishStates) {
  ResponseParser idle;
  EXPECT_EQ(idle.finish().status, FeedStatus::need_more); // clean close between responses
  ResponseParser cut;
  cut.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
  EXPECT_EQ(cut.finish().status, FeedStatus::error);
  EXPECT_EQ(cut.error(), HttpError::truncated_message);
  ResponseParser in_head;
  in_head.feed(bytes("HTTP/1.1 200 OK\r\nConte"));
  EXPECT_EQ(in_head.finish().status, FeedStatus::error);
}

struct BadRow {
  const char *why;
  std::string response;
  HttpError error;
};

TEST(ResponseParser, MalformedResponses) {
  const BadRow rows[] = {
      {"not HTTP", "SSH-2.0-OpenSSH\r\n", HttpError::bad_status_line},
      {"HTTP/2 status line", "HTTP/2 200 OK\r\n\r\n", HttpError::bad_status_line},
      {"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", HttpError::bad_status_line},
      {"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", HttpError::bad_status_line},
      {"status below 100", "HTTP/1.1 099 Odd\r\n\r\n", HttpError::bad_status_line},
      {"control byte in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", HttpError::bad_status_line},
      {"bare LF", "HTTP/1.1 200 OK\n\r\n", HttpError::bad_status_line},
      {"bare CR", "HTTP/1.1 200 OK\rX", HttpError::bad_line_ending},
      {"chunked body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
       HttpError::chunked_response},
      {"bad Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
       HttpError::bad_content_length},
      {"conflicting Content-Length",
       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 3\r\n\r\n",
       HttpError::conflicting_content_length},
      {"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", HttpError::obs_fold},
      {"status line too long", "HTTP/1.1 200 " + std::string(2000, 'k') + "\r\n\r\n",
       HttpError::status_line_too_long},
  };
  for (const BadRow &row : rows) {
    const std::string expected = std::string("error ") + to_string(row.error) + "\n";
    for (size_t at = 0; at <= row.response.size(); ++at)
      ASSERT_EQ(response_trace(row.response, {at}), expected)
          << row.why << " split at " << at << ": " << test::printable(row.response);
  }
}

} // namespace
} // namespace shoal::http
