// The table of malformed requests: each has one defect and is rejected with
// its named reason and the status the server answers (RFC 9110/9112), the
// same whether it arrives whole or in two pieces split anywhere.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "http/request_parser.hpp"
#include "http_test_util.hpp"

namespace shoal::http {
namespace {

struct Row {
  const char *why;
  std::string request;
  HttpError error;
  uint16_t status;
};

// "GET / HTTP/1.1\r\nHost: a\r\n\r\n" with one thing wrong.
const Row kRows[] = {
    // request line (RFC 9112 3)
    {"starts with a space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", HttpError::bad_method, 400},
    {"method has a separator", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", HttpError::bad_method, 400},
    {"method then CRLF", "GET\r\nHost: a\r\n\r\n", HttpError::bad_method, 400},
    {"tab after method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", HttpError::bad_method, 400},
    {"NUL in method", std::string("G\0T / HTTP/1.1\r\n\r\n", 18), HttpError::bad_method, 400},
    {"method too long", std::string(21, 'A') + " / HTTP/1.1\r\nHost: a\r\n\r\n",
     HttpError::method_too_long, 501},
    {"two spaces before target", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
     HttpError::bad_request_target, 400},
    {"empty target", "GET \r\nHost: a\r\n\r\n", HttpError::bad_request_target, 400},
    {"control byte in target", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
     HttpError::bad_request_target, 400},
    {"raw UTF-8 in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
     HttpError::bad_request_target, 400},
    {"tab inside target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", HttpError::bad_request_target,
     400},
    {"HTTP/0.9 simple request", "GET /\r\n", HttpError::missing_version, 400},
    {"bare LF after target", "GET /\n", HttpError::missing_version, 400},
    {"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", HttpError::bad_version, 400},
    {"version without minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", HttpError::bad_version, 400},
    {"two-digit major", "GET / HTTP/11.1\r\nHost: a\r\n\r\n", HttpError::bad_version, 400},
    {"space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", HttpError::bad_version, 400},
    {"extra word", "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n", HttpError::bad_version, 400},
    {"letter as minor", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", HttpError::bad_version, 400},
    {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", HttpError::version_not_supported, 505},
    {"HTTP/0.9 with version", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", HttpError::version_not_supported,
     505},
    {"bare LF ends request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", HttpError::bad_line_ending,
     400},
    {"bare CR ends request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", HttpError::bad_line_ending,
     400},
    {"bare LF as leading empty line", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
     HttpError::bad_line_ending, 400},
    {"CR then junk before request line", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n",
     HttpError::bad_line_ending, 400},
    // field lines (RFC 9112 5, RFC 9110 5)
    {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", HttpError::space_before_colon,
     400},
    {"tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", HttpError::space_before_colon, 400},
    {"empty field name", "GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", HttpError::bad_field_name,
     400},
    {"field name with a separator", "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", HttpError::bad_field_name,
     400},
    {"field line without colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", HttpError::space_before_colon,
     400},
    {"field name then CRLF", "GET / HTTP/1.1\r\nHost\r\n\r\n", HttpError::bad_field_name, 400},
    {"obs-fold with SP", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", HttpError::obs_fold,
     400},
    {"obs-fold with HTAB", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", HttpError::obs_fold,
     400},
    {"NUL in value", std::string("GET / HTTP/1.1\r\nHost: a\r\nX: \0\r\n\r\n", 33),
     HttpError::bad_field_value, 400},
    {"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n", HttpError::bad_field_value,
     400},
    {"bare LF ends field line", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
     HttpError::bad_line_ending, 400},
    {"bare CR inside value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", HttpError::bad_line_ending,
     400},
    {"bare LF ends section", "GET / HTTP/1.1\r\nHost: a\r\n\n", HttpError::bad_line_ending, 400},
    {"CR then junk ends section", "GET / HTTP/1.1\r\nHost: a\r\n\rX", HttpError::bad_line_ending,
     400},
    {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", HttpError::missing_host,
     400},
    {"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HttpError::duplicate_host,
     400},
    {"two Host fields in 1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n",
     HttpError::duplicate_host, 400},
    // framing (RFC 9112 6, RFC 9110 8.6)
    {"Content-Length not a number", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n",
     HttpError::bad_content_length, 400},
    {"negative Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
     HttpError::bad_content_length, 400},
    {"signed Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n",
     HttpError::bad_content_length, 400},
    {"empty Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n",
     HttpError::bad_content_length, 400},
    {"Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx",
     HttpError::bad_content_length, 400},
    {"Content-Length with inner space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n",
     HttpError::bad_content_length, 400},
    {"hex Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n",
     HttpError::bad_content_length, 400},
    {"conflicting Content-Length",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy",
     HttpError::conflicting_content_length, 400},
    {"chunked request body", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
     HttpError::chunked_request_body, 411},
    {"chunked, any case", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n",
     HttpError::chunked_request_body, 411},
    {"gzip then chunked",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
     HttpError::unsupported_transfer_coding, 501},
    {"chunked not final", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
     HttpError::chunked_not_final, 400},
    {"chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
     HttpError::chunked_not_final, 400},
    {"only an unknown coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
     HttpError::chunked_not_final, 400},
    {"empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n",
     HttpError::chunked_not_final, 400},
    {"chunked with Content-Length",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
     HttpError::transfer_encoding_with_content_length, 400},
    {"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
     HttpError::transfer_encoding_http10, 400},
};

TEST(MalformedRequest, EachRowIsRejectedWithItsReasonAndStatus) {
  std::set<HttpError> covered;
  for (const Row &row : kRows) {
    RequestParser p;
    const auto in = test::bytes(row.request);
    const FeedResult r = p.feed(in);
    EXPECT_EQ(r.status, FeedStatus::error) << row.why << ": " << test::printable(row.request);
    EXPECT_EQ(p.error(), row.error)
        << row.why << ": got " << to_string(p.error()) << " for " << test::printable(row.request);
    EXPECT_EQ(p.error_status(), row.status) << row.why;
    EXPECT_FALSE(p.keep_alive()) << row.why;
    EXPECT_LE(r.consumed, in.size());
    covered.insert(row.error);
  }
  // Every request-side reason of the table has at least one row here or in
  // the limit tests (request_parser_test.cpp).
  const HttpError in_limit_tests[] = {
      HttpError::target_too_long,   HttpError::field_line_too_long,
      HttpError::too_many_fields,   HttpError::header_section_too_large,
      HttpError::content_too_large, HttpError::too_many_empty_lines};
  for (HttpError e : in_limit_tests)
    covered.insert(e);
  for (size_t i = 1; i < kHttpErrorCount; ++i) {
    const auto e = static_cast<HttpError>(i);
    if (status_for(e) != 0) {
      EXPECT_TRUE(covered.count(e)) << "no malformed-request row for " << to_string(e);
    }
  }
}

TEST(MalformedRequest, SameReasonAtEverySplit) {
  for (const Row &row : kRows) {
    const std::string expected = std::string("error ") + to_string(row.error) + "\n";
    for (size_t at = 0; at <= row.request.size(); ++at)
      ASSERT_EQ(test::request_trace(row.request, {at}), expected)
          << row.why << " split at " << at << ": " << test::printable(row.request);
    ASSERT_EQ(test::request_trace(row.request, test::every_byte(row.request.size())), expected)
        << row.why << " one byte at a time";
  }
}

TEST(MalformedRequest, AfterAGoodRequestOnlyTheBadOneFails) {
  for (const Row &row : kRows) {
    const std::string stream = "GET /ok HTTP/1.1\r\nHost: a\r\n\r\n" + row.request;
    EXPECT_EQ(test::request_trace(stream), "GET /ok HTTP/1.1 keep-alive body=[]\nerror " +
                                               std::string(to_string(row.error)) + "\n")
        << row.why;
  }
}

TEST(HttpErrorTable, NamesAndStatusesAreDistinctAndKnown) {
  std::set<std::string> names;
  for (size_t i = 0; i < kHttpErrorCount; ++i) {
    const auto e = static_cast<HttpError>(i);
    EXPECT_TRUE(names.insert(to_string(e)).second) << to_string(e);
    EXPECT_STRNE(describe(e), "unknown");
    const uint16_t s = status_for(e);
    EXPECT_TRUE(s == 0 || (s >= 400 && s < 600)) << to_string(e);
  }
  EXPECT_STREQ(to_string(static_cast<HttpError>(kHttpErrorCount)), "unknown");
  EXPECT_EQ(status_for(HttpError::ok), 0);
}

} // namespace
} // namespace shoal::http
