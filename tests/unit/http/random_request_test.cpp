// Robustness: 100k mutated requests (and responses) through the parsers.
// Nothing may crash, read outside its piece (each piece is an exactly sized
// heap copy, so ASan sees an overread), or report bytes it was not given;
// and the outcome must not depend on how the stream was cut into pieces.
#include <gtest/gtest.h>

#include <array>
#include <random>
#include <string>
#include <vector>

#include "http/request_parser.hpp"
#include "http/response_parser.hpp"
#include "http_test_util.hpp"

namespace shoal::http {
namespace {

constexpr uint32_t kSeed = 20261121; // fixed: a failure reproduces
constexpr int kIterations = 100'000;

const std::vector<std::string> kRequests = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /index.html?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: shoal\r\n"
    "Accept: */*\r\nConnection: keep-alive\r\n\r\n",
    "POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\n"
    "hello world",
    "GET /old HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
    "\r\nHEAD /h HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "PUT /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab",
};

const std::vector<std::string> kResponses = {
    "HTTP/1.1 200 OK\r\nServer: shoal\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello",
    "HTTP/1.0 404 Not Found\r\n\r\ngone",
    "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
};

// Bytes that steer a parser into its interesting corners.
constexpr std::array<char, 16> kSpecial = {'\r', '\n', ' ', '\t', ':',    ',',    ';', '/',
                                           '0',  '9',  'H', '\0', '\x7f', '\xff', '-', '.'};

std::string mutate(std::string s, std::mt19937 &rng) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t pos = s.empty() ? 0 : rng() % s.size();
    switch (rng() % 7) {
    case 0: // flip a bit
      if (!s.empty())
        s[pos] = static_cast<char>(s[pos] ^ (1u << (rng() % 8)));
      break;
    case 1: // overwrite with a special byte
      if (!s.empty())
        s[pos] = kSpecial[rng() % kSpecial.size()];
      break;
    case 2: // insert a special byte
      s.insert(s.begin() + static_cast<long>(pos), kSpecial[rng() % kSpecial.size()]);
      break;
    case 3: // delete a range
      s.erase(pos, rng() % 8);
      break;
    case 4: { // duplicate a range
      const std::string part = s.substr(pos, rng() % 32);
      s.insert(pos, part);
      break;
    }
    case 5: // truncate
      s.resize(pos);
      break;
    case 6: // insert a random byte
      s.insert(s.begin() + static_cast<long>(pos), static_cast<char>(rng() & 0xff));
      break;
    }
  }
  return s;
}

std::vector<size_t> random_cuts(size_t n, std::mt19937 &rng) {
  std::vector<size_t> cuts;
  const unsigned density = 1 + rng() % 16;
  for (size_t i = 1; i < n; ++i)
    if (rng() % density == 0)
      cuts.push_back(i);
  return cuts;
}

TEST(RandomInput, MutatedRequestsNeverCrashAndDoNotDependOnTheSplit) {
  std::mt19937 rng(kSeed);
  std::array<size_t, kHttpErrorCount> errors{};
  size_t completes = 0;
  RequestLimits small;
  small.max_target = 16;
  small.fields = {48, 4, 160};
  small.max_body = 8;
  for (int i = 0; i < kIterations; ++i) {
    const std::string &base = kRequests[rng() % kRequests.size()];
    const std::string s = mutate(base, rng);
    const RequestLimits limits = (i % 4 == 0) ? small : RequestLimits{};
    const std::string whole = test::request_trace(s, {}, limits);
    const std::string split = test::request_trace(s, random_cuts(s.size(), rng), limits);
    ASSERT_EQ(split, whole) << "iteration " << i << ": " << test::printable(s);
    ASSERT_EQ(whole.find("!!"), std::string::npos) << whole << test::printable(s);
    // Tally what happened, to show the mutations reach deep.
    RequestParser p(limits);
    const auto in = test::bytes(s);
    std::span<const uint8_t> rest(in);
    for (;;) {
      const FeedResult r = p.feed(rest);
      rest = rest.subspan(r.consumed);
      if (r.status == FeedStatus::complete) {
        ++completes;
        continue;
      }
      if (r.status == FeedStatus::error) {
        ASSERT_NE(p.error(), HttpError::ok);
        ASSERT_NE(p.error_status(), 0);
        ++errors[static_cast<size_t>(p.error())];
      }
      break;
    }
  }
  size_t reasons = 0;
  std::string tally;
  for (size_t e = 0; e < kHttpErrorCount; ++e)
    if (errors[e]) {
      ++reasons;
      tally +=
          std::string(to_string(static_cast<HttpError>(e))) + "=" + std::to_string(errors[e]) + " ";
    }
  RecordProperty("tally", tally);
  EXPECT_GT(completes, size_t{kIterations / 10}) << tally;
  EXPECT_GE(reasons, 20u) << tally; // most request-side reasons were reached
}

TEST(RandomInput, MutatedResponsesNeverCrashAndDoNotDependOnTheSplit) {
  std::mt19937 rng(kSeed + 1);
  for (int i = 0; i < kIterations / 4; ++i) {
    const std::string s = mutate(kResponses[rng() % kResponses.size()], rng);
    const bool eof = rng() % 2;
    const std::string whole = test::response_trace(s, {}, eof);
    ASSERT_EQ(test::response_trace(s, random_cuts(s.size(), rng), eof), whole)
        << "iteration " << i << ": " << test::printable(s);
    ASSERT_EQ(whole.find("!!"), std::string::npos) << whole << test::printable(s);
  }
}

TEST(RandomInput, RandomBytes) {
  std::mt19937 rng(kSeed + 2);
  for (int i = 0; i < 20'000; ++i) {
    std::string s(rng() % 64, '\0');
    for (char &c : s)
      c = static_cast<char>(rng() % 4 == 0 ? kSpecial[rng() % kSpecial.size()] : rng() & 0xff);
    ASSERT_EQ(test::request_trace(s, random_cuts(s.size(), rng)), test::request_trace(s));
    ASSERT_EQ(test::response_trace(s, random_cuts(s.size(), rng)), test::response_trace(s));
  }
}

} // namespace
} // namespace shoal::http
