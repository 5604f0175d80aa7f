// Response heads, error responses, dates and pattern bodies: exact bytes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/body.hpp"
#include "http/date.hpp"
#include "http/response_parser.hpp"
#include "http/response_writer.hpp"
#include "http/status.hpp"
#include "http_test_util.hpp"

namespace shoal::http {
namespace {

std::string written(const std::vector<uint8_t> &buf, const HeadWrite &w) {
  return std::string(buf.begin(), buf.begin() + static_cast<long>(w.written));
}

TEST(ResponseWriter, ExactBytesOfAFullHead) {
  ResponseHead h;
  h.status = 200;
  h.content_length = 1234;
  h.content_type = "text/html; charset=utf-8";
  h.date = "Sun, 06 Nov 1994 08:49:37 GMT";
  std::vector<uint8_t> buf(512);
  const HeadWrite w = write_response_head(h, buf);
  ASSERT_TRUE(w.fits());
  EXPECT_EQ(written(buf, w), "HTTP/1.1 200 OK\r\n"
                             "Server: shoal\r\n"
                             "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                             "Content-Type: text/html; charset=utf-8\r\n"
                             "Content-Length: 1234\r\n"
                             "Connection: keep-alive\r\n"
                             "\r\n");
  EXPECT_EQ(w.needed, response_head_size(h));
}

TEST(ResponseWriter, MinimalCloseHead) {
  ResponseHead h;
  h.status = 404;
  h.keep_alive = false;
  h.server = {};
  std::vector<uint8_t> buf(128);
  const HeadWrite w = write_response_head(h, buf);
  EXPECT_EQ(written(buf, w), "HTTP/1.1 404 Not Found\r\n"
                             "Content-Length: 0\r\n"
                             "Connection: close\r\n"
                             "\r\n");
}

TEST(ResponseWriter, NoContentLengthAndExtraFields) {
  ResponseHead h;
  h.status = 204;
  h.content_length.reset();
  h.extra_fields = "Cache-Control: no-store\r\n";
  std::vector<uint8_t> buf(128);
  const HeadWrite w = write_response_head(h, buf);
  EXPECT_EQ(written(buf, w), "HTTP/1.1 204 No Content\r\n"
                             "Server: shoal\r\n"
                             "Connection: keep-alive\r\n"
                             "Cache-Control: no-store\r\n"
                             "\r\n");
}

TEST(ResponseWriter, UnknownStatusHasAnEmptyReason) {
  ResponseHead h;
  h.status = 299;
  h.server = {};
  std::vector<uint8_t> buf(128);
  const HeadWrite w = write_response_head(h, buf);
  EXPECT_EQ(written(buf, w).substr(0, 15), "HTTP/1.1 299 \r\n");
}

TEST(ResponseWriter, NeedsMoreSpaceWritesNothing) {
  ResponseHead h;
  h.content_length = 5;
  const size_t need = response_head_size(h);
  std::vector<uint8_t> buf(need - 1, 0xAA);
  const HeadWrite w = write_response_head(h, buf);
  EXPECT_FALSE(w.fits());
  EXPECT_EQ(w.written, 0u);
  EXPECT_EQ(w.needed, need);
  for (uint8_t b : buf)
    ASSERT_EQ(b, 0xAA); // untouched
  // Exactly enough space works.
  std::vector<uint8_t> exact(need);
  EXPECT_TRUE(write_response_head(h, exact).fits());
  // An empty span too says how much it needs.
  EXPECT_EQ(write_response_head(h, {}).needed, need);
}

TEST(ResponseWriter, LargestContentLength) {
  ResponseHead h;
  h.content_length = UINT64_MAX;
  h.server = {};
  std::vector<uint8_t> buf(128);
  const HeadWrite w = write_response_head(h, buf);
  EXPECT_NE(written(buf, w).find("Content-Length: 18446744073709551615\r\n"), std::string::npos);
}

TEST(ResponseWriter, ErrorResponses) {
  std::vector<uint8_t> buf(256);
  HeadWrite w = write_error_response(HttpError::field_line_too_long, buf);
  EXPECT_EQ(written(buf, w), "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                             "Server: shoal\r\n"
                             "Content-Length: 0\r\n"
                             "Connection: close\r\n"
                             "\r\n");
  w = write_error_response(HttpError::version_not_supported, buf);
  EXPECT_EQ(written(buf, w).substr(0, 37), "HTTP/1.1 505 HTTP Version Not Support");
  // Every request error has a reason phrase to go with its status.
  for (size_t i = 1; i < kHttpErrorCount; ++i) {
    const auto e = static_cast<HttpError>(i);
    if (status_for(e) != 0) {
      EXPECT_FALSE(reason_phrase(status_for(e)).empty()) << to_string(e);
    }
  }
}

TEST(ResponseWriter, OwnParserReadsWhatTheWriterWrites) {
  // Round trip through the client parser, split at every byte.
  ResponseHead h;
  h.content_length = 100;
  h.content_type = "text/plain";
  const HttpDate date(784111777);
  h.date = date.view();
  std::vector<uint8_t> buf(256);
  const HeadWrite w = write_response_head(h, buf);
  std::string stream = written(buf, w);
  std::vector<uint8_t> body(100);
  fill_pattern(0, body);
  stream.append(body.begin(), body.end());
  const std::string expect = "200 HTTP/1.1 keep-alive length=100 body=[" +
                             test::printable(std::string(body.begin(), body.end())) + "]\n";
  EXPECT_EQ(test::response_trace(stream), expect);
  for (size_t at = 0; at <= stream.size(); ++at)
    ASSERT_EQ(test::response_trace(stream, {at}), test::response_trace(stream)) << at;
}

// --- Date (RFC 9110 5.6.7) --------------------------------------------------------

std::string date_text(int64_t unix_seconds) {
  const HttpDate d(unix_seconds);
  return std::string(d.view());
}

TEST(HttpDate, KnownInstants) {
  EXPECT_EQ(date_text(784111777), "Sun, 06 Nov 1994 08:49:37 GMT"); // RFC 9110's example
  EXPECT_EQ(date_text(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(date_text(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");  // 400-year leap
  EXPECT_EQ(date_text(4107542399), "Sun, 28 Feb 2100 23:59:59 GMT"); // no leap in 2100
  EXPECT_EQ(date_text(4107542400), "Mon, 01 Mar 2100 00:00:00 GMT");
  EXPECT_EQ(date_text(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
  EXPECT_EQ(date_text(253402300799), "Fri, 31 Dec 9999 23:59:59 GMT");
  EXPECT_EQ(date_text(253402300800), ""); // out of range: omitted
}

TEST(HttpDate, AgreesWithGmtime) {
  for (int64_t t = -86400 * 400; t < int64_t{86400} * 365 * 200; t += 86400 * 7 + 3607) {
    const time_t tt = static_cast<time_t>(t);
    struct tm tm;
    ASSERT_NE(gmtime_r(&tt, &tm), nullptr);
    char buf[64];
    // strftime with the C locale's names matches the IMF-fixdate names.
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    ASSERT_EQ(date_text(t), std::string_view(buf)) << t;
  }
}

// --- bodies -------------------------------------------------------------------

TEST(PatternBody, PiecesConcatenateToTheSameBytes) {
  std::vector<uint8_t> whole(1000);
  fill_pattern(0, whole);
  for (size_t i = 0; i < whole.size(); ++i)
    ASSERT_EQ(whole[i], static_cast<uint8_t>(kPattern[i % kPattern.size()])) << i;
  PatternBody body(1000);
  std::vector<uint8_t> got;
  size_t piece = 1;
  while (!body.done()) {
    std::vector<uint8_t> space(piece);
    const size_t n = body.write(space);
    got.insert(got.end(), space.begin(), space.begin() + static_cast<long>(n));
    piece = piece * 3 % 97 + 1;
  }
  EXPECT_EQ(got, whole);
  EXPECT_EQ(body.remaining(), 0u);
  std::vector<uint8_t> more(10);
  EXPECT_EQ(body.write(more), 0u);
}

TEST(PatternBody, MatchesPatternChecksOffsets) {
  std::vector<uint8_t> piece(130);
  fill_pattern(77, piece);
  EXPECT_TRUE(matches_pattern(77, piece));
  EXPECT_FALSE(matches_pattern(78, piece));
  piece[129] ^= 1;
  EXPECT_FALSE(matches_pattern(77, piece));
  EXPECT_TRUE(matches_pattern(5, {}));
}

TEST(ContentType, ByExtension) {
  EXPECT_EQ(content_type_for("/index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("/a/b/STYLE.CSS"), "text/css; charset=utf-8");
  EXPECT_EQ(content_type_for("pic.jpeg"), "image/jpeg");
  EXPECT_EQ(content_type_for("/dir.d/noext"), "application/octet-stream");
  EXPECT_EQ(content_type_for("/x.verylongext"), "application/octet-stream");
  EXPECT_EQ(content_type_for(""), "application/octet-stream");
  EXPECT_EQ(content_type_for("/file."), "application/octet-stream");
}

} // namespace
} // namespace shoal::http
