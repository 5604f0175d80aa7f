// shoal-stat: the JSON parser on captured DPDK telemetry replies and on
// malformed input, the tables and their two formats, the command line, and a
// live round trip against this process's own telemetry socket.
// SHOAL_STAT_NO_MAIN is set by meson: the test brings its own main().
#include "../../../apps/shoal-stat.cpp"

#include <csignal>
#include <filesystem>
#include <mutex>

#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_telemetry.h>

namespace shoal::stat {
namespace {

// Replies as DPDK 22.11's telemetry library writes them (the stats reply
// captured from ShoalStatLive below, with more counters; the greeting with
// the spacing DPDK uses for it).
constexpr const char *kGreeting =
    R"({"version": "DPDK 22.11.11", "pid": 4242, "max_output_len": 16384})";
constexpr const char *kTwoShards =
    R"({"/shoal/stats":{"shard0":{"rx_packets":12,"rx_bytes":1500,"tx_packets":0,)"
    R"("eth_ipv6":3,"ipv4_bad_checksum":0},"shard1":{"rx_packets":30,"rx_bytes":0,)"
    R"("tx_packets":0,"eth_ipv6":0,"ipv4_bad_checksum":0}}})";
constexpr const char *kOneShard =
    R"({"/shoal/stats,1":{"rx_packets":30,"rx_bytes":0,"tx_packets":0}})";
constexpr const char *kUnknown = R"({"/shoal/conns":null})";

Json parse_ok(std::string_view text) {
  std::string error;
  auto v = parse_json(text, &error);
  EXPECT_TRUE(v.has_value()) << error << "\n  in: " << text;
  return v ? *v : Json{};
}

TEST(ShoalStatJson, ParsesTheGreeting) {
  const Json g = parse_ok(kGreeting);
  ASSERT_TRUE(g.is_object());
  ASSERT_NE(g.get("version"), nullptr);
  EXPECT_EQ(g.get("version")->string, "DPDK 22.11.11");
  ASSERT_NE(g.get("pid"), nullptr);
  EXPECT_TRUE(g.get("pid")->is_uint);
  EXPECT_EQ(g.get("pid")->uint, 4242u);
  EXPECT_EQ(g.get("max_output_len")->uint, 16384u);
  EXPECT_EQ(g.get("nothing"), nullptr);
}

TEST(ShoalStatJson, KeepsMemberOrderAndExactU64) {
  const Json v =
      parse_ok(R"({"b": 18446744073709551615, "a": 0, "c": -1.5e2, "d": 1.25,)"
               R"( "e": [1, "x", null, true, false, {}], "f": "A\u00e9\ud83d\ude00\n"})");
  ASSERT_EQ(v.object.size(), 6u);
  EXPECT_EQ(v.object[0].first, "b");
  EXPECT_EQ(v.object[1].first, "a");
  EXPECT_TRUE(v.object[0].second.is_uint);
  EXPECT_EQ(v.object[0].second.uint, 18446744073709551615ull);
  EXPECT_FALSE(v.get("c")->is_uint);
  EXPECT_DOUBLE_EQ(v.get("c")->number, -150.0);
  EXPECT_DOUBLE_EQ(v.get("d")->number, 1.25);
  EXPECT_EQ(v.get("e")->array.size(), 6u);
  EXPECT_EQ(v.get("f")->string, "A\xc3\xa9\xf0\x9f\x98\x80\n");
  // Larger than uint64: still a number, not exact.
  const Json big = parse_ok("18446744073709551616");
  EXPECT_FALSE(big.is_uint);
  EXPECT_GT(big.number, 1.8e19);
}

TEST(ShoalStatJson, RejectsMalformedInputWithAReason) {
  struct Bad {
    std::string text, reason;
  };
  const std::vector<Bad> bad = {
      {"", "unexpected end of input"},
      {R"({"a": 1)", "expected ',' or '}'"},
      {R"({"a": 1}})", "trailing characters"},
      {R"({"a" 1})", "expected ':'"},
      {R"({a: 1})", "expected a member name"},
      {R"({"a": 01})", "leading zero in number"},
      {R"({"a": 1.})", "expected digits after '.'"},
      {R"({"a": 1e})", "expected digits in exponent"},
      {R"({"a": tru})", "invalid literal"},
      {R"({"a": "x)", "unterminated string"},
      {"{\"a\": \"x\ty\"}", "control character in string"},
      {R"({"a": "\q"})", "unknown escape"},
      {R"({"a": "\u12"})", "bad hex digit in \\u escape"},
      {R"({"a": "\ud800"})", "lone high surrogate"},
      {R"({"a": "\udc00"})", "lone low surrogate"},
      {R"([1, 2)", "expected ',' or ']'"},
      {R"({"a": -})", "expected a value"},
      {std::string(100, '[') + std::string(100, ']'), "nested too deeply"},
  };
  for (const Bad &b : bad) {
    std::string error;
    EXPECT_FALSE(parse_json(b.text, &error).has_value()) << b.text;
    EXPECT_NE(error.find(b.reason), std::string::npos)
        << "input: " << b.text << "\n  error: " << error << "\n  wanted: " << b.reason;
  }
}

Table two_shards() {
  const Json reply = parse_ok(kTwoShards);
  const Json *v = reply_value(reply, "/shoal/stats");
  EXPECT_NE(v, nullptr);
  return v ? table_from(*v) : Table{};
}

TEST(ShoalStatTable, OneColumnPerShardRowsInDeclarationOrder) {
  const Table t = two_shards();
  ASSERT_EQ(t.columns, (std::vector<std::string>{"shard0", "shard1"}));
  ASSERT_EQ(t.rows, (std::vector<std::string>{"rx_packets", "rx_bytes", "tx_packets", "eth_ipv6",
                                              "ipv4_bad_checksum"}));
  EXPECT_EQ(t.find("rx_packets", "shard1")->uint, 30u);
  EXPECT_EQ(t.total(0).uint, 42u);
  EXPECT_EQ(t.total(1).uint, 1500u);
}

TEST(ShoalStatTable, SingleShardReplyAndNestedObjects) {
  const Json one = parse_ok(kOneShard);
  const Json *v = reply_value(one, "/shoal/stats,1");
  ASSERT_NE(v, nullptr);
  const Table t = table_from(*v, "shard1");
  EXPECT_EQ(t.columns, std::vector<std::string>{"shard1"});
  EXPECT_EQ(t.rows.size(), 3u);

  // Connections per state, per shard, one level deeper than expected: flattened.
  const Json nested = parse_ok(R"({"shard0": {"ESTABLISHED": 2, "tcp": {"TIME_WAIT": 5}},)"
                               R"( "shard1": {"ESTABLISHED": 1, "LISTEN": 1}})");
  const Table c = table_from(nested);
  EXPECT_EQ(c.rows, (std::vector<std::string>{"ESTABLISHED", "tcp.TIME_WAIT", "LISTEN"}));
  EXPECT_EQ(c.find("LISTEN", "shard0")->kind, Cell::Kind::absent);
  EXPECT_EQ(c.total(2).uint, 1u);

  // /shoal/conns as lib/shard/telemetry.cpp sends it: a total beside the
  // shards. The total is dropped (the formatters compute it) so that it is
  // not counted twice.
  const Json conns = parse_ok(R"({"/shoal/conns":{"total":{"LISTEN":2,"ESTABLISHED":3},)"
                              R"("shard0":{"LISTEN":1,"ESTABLISHED":1},)"
                              R"("shard1":{"LISTEN":1,"ESTABLISHED":2}}})");
  const Table ct = table_from(*reply_value(conns, "/shoal/conns"), "all");
  EXPECT_EQ(ct.columns, (std::vector<std::string>{"shard0", "shard1"}));
  EXPECT_EQ(format_plain("conns", ct, FormatOptions{true}), "conns shard0 LISTEN 1\n"
                                                            "conns shard1 LISTEN 1\n"
                                                            "conns total LISTEN 2\n"
                                                            "conns shard0 ESTABLISHED 1\n"
                                                            "conns shard1 ESTABLISHED 2\n"
                                                            "conns total ESTABLISHED 3\n");
  const Json only_total = parse_ok(R"({"total":{"LISTEN":0}})");
  EXPECT_EQ(table_from(only_total).columns, std::vector<std::string>{"total"});

  EXPECT_TRUE(table_from(parse_ok("null")).columns.empty());
  EXPECT_TRUE(table_from(parse_ok("{}")).rows.empty());
  const Json unknown = parse_ok(kUnknown);
  ASSERT_NE(reply_value(unknown, "/shoal/conns"), nullptr);
  EXPECT_TRUE(reply_value(unknown, "/shoal/conns")->is_null());
}

TEST(ShoalStatFormat, TableShowsNonZeroRowsWithTotals) {
  const Table t = two_shards();
  const std::string out = format_table("counter", t, {});
  const std::string want = "counter     shard0  shard1  total\n"
                           "rx_packets      12      30     42\n"
                           "rx_bytes      1500       0   1500\n"
                           "eth_ipv6         3       0      3\n";
  EXPECT_EQ(out, want) << out;
  const std::string all = format_table("counter", t, FormatOptions{true});
  EXPECT_NE(all.find("ipv4_bad_checksum"), std::string::npos) << all;
  EXPECT_NE(all.find("tx_packets"), std::string::npos) << all;

  Table zero = t;
  for (auto &row : zero.cells)
    for (auto &c : row)
      c.uint = 0;
  EXPECT_EQ(format_table("counter", zero, {}), "counter: (all zero; --all shows every counter)\n");
  EXPECT_EQ(format_table("connections", Table{}, {}), "connections: (none)\n");
}

TEST(ShoalStatFormat, PlainIsOneGreppableLinePerCell) {
  const Table t = two_shards();
  const std::string out = format_plain("stats", t, {});
  EXPECT_EQ(out, "stats shard0 rx_packets 12\n"
                 "stats shard1 rx_packets 30\n"
                 "stats total rx_packets 42\n"
                 "stats shard0 rx_bytes 1500\n"
                 "stats shard1 rx_bytes 0\n"
                 "stats total rx_bytes 1500\n"
                 "stats shard0 eth_ipv6 3\n"
                 "stats shard1 eth_ipv6 0\n"
                 "stats total eth_ipv6 3\n");
}

TEST(ShoalStatFormat, RatesFromTwoSamples) {
  const Table before = two_shards();
  Table after = before;
  after.cells[0][0].uint += 20; // rx_packets shard0 +20
  after.cells[0][1].uint += 10; // shard1 +10: total +30 in 2 s
  const std::string out = format_table("counter", after, {}, &before, 2.0);
  EXPECT_NE(out.find("rate/s"), std::string::npos) << out;
  EXPECT_NE(out.find("rx_packets      32      40     72      15\n"), std::string::npos) << out;
  EXPECT_NE(out.find("rx_bytes      1500       0   1500       0\n"), std::string::npos) << out;
  const std::string plain = format_plain("stats", after, {}, &before, 2.0);
  EXPECT_NE(plain.find("stats rate rx_packets 15\n"), std::string::npos) << plain;
}

TEST(ShoalStatArgs, ParsesTheCommandLine) {
  bool help = false;
  std::string error;
  auto o =
      parse_args({"--socket", "/tmp/x.sock", "--once", "--format=plain", "--all"}, &help, &error);
  ASSERT_TRUE(o.has_value()) << error;
  EXPECT_EQ(o->socket, "/tmp/x.sock");
  EXPECT_TRUE(o->once);
  EXPECT_TRUE(o->all);
  EXPECT_EQ(o->format, Options::Format::plain);

  o = parse_args({"--prefix", "node1", "--watch", "0.5", "--count=3"}, &help, &error);
  ASSERT_TRUE(o.has_value()) << error;
  EXPECT_NE(o->socket.find("/node1/dpdk_telemetry.v2"), std::string::npos) << o->socket;
  EXPECT_DOUBLE_EQ(o->watch, 0.5);
  EXPECT_EQ(o->count, 3);

  o = parse_args({"--watch", "1", "--once"}, &help, &error);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->watch, 0) << "--once wins over --watch";

  for (const std::vector<std::string> &bad :
       std::vector<std::vector<std::string>>{{"--watch"},
                                             {"--watch", "-1"},
                                             {"--watch", "abc"},
                                             {"--count", "1.5"},
                                             {"--format=xml"},
                                             {"--prefix", "../etc"},
                                             {"--bogus"}}) {
    EXPECT_FALSE(parse_args(bad, &help, &error).has_value()) << bad[0];
    EXPECT_NE(error, "");
  }
  ASSERT_TRUE(parse_args({"--help"}, &help, &error).has_value());
  EXPECT_TRUE(help);
}

// ---------------------------------------------------------------------------
// Live: this test process runs its own EAL with telemetry on, registers a
// /shoal/stats shaped like lib/shard/telemetry.cpp's (per shard, with the
// shard id parameter), and shoal-stat's client reads it over the socket.

std::string g_prefix;

int fake_stats(const char *, const char *params, rte_tel_data *d) {
  auto fill = [](rte_tel_data *t, unsigned id) {
    rte_tel_data_start_dict(t);
    rte_tel_data_add_dict_u64(t, "rx_packets", 100 + id);
    rte_tel_data_add_dict_u64(t, "tx_packets", 0);
    rte_tel_data_add_dict_u64(t, "eth_ipv6", id);
  };
  if (params != nullptr && *params != '\0') {
    const unsigned long id = std::strtoul(params, nullptr, 10);
    if (id > 1)
      return -1;
    fill(d, static_cast<unsigned>(id));
    return 0;
  }
  rte_tel_data_start_dict(d);
  for (unsigned id = 0; id < 2; id++) {
    rte_tel_data *c = rte_tel_data_alloc();
    fill(c, id);
    rte_tel_data_add_dict_container(d, ("shard" + std::to_string(id)).c_str(), c, 0);
  }
  return 0;
}

void start_eal_with_telemetry() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_prefix = "shoal-stat-test-" + std::to_string(getpid());
    std::vector<std::string> args = {"shoal-stat-test", "--no-huge", "-m", "64", "--no-pci",
                                     "--file-prefix",   g_prefix,    "-l", "0",  "--log-level",
                                     "lib.eal:error"};
    std::vector<char *> argv;
    for (auto &a : args)
      argv.push_back(a.data());
    ASSERT_GE(rte_eal_init(static_cast<int>(argv.size()), argv.data()), 0);
    ASSERT_EQ(rte_telemetry_register_cmd("/shoal/stats", fake_stats, "test counters"), 0);
    std::atexit([] {
      rte_eal_cleanup();
      std::error_code ec;
      std::filesystem::remove_all("/var/run/dpdk/" + g_prefix, ec);
      if (const char *xdg = std::getenv("XDG_RUNTIME_DIR"))
        std::filesystem::remove_all(std::string(xdg) + "/dpdk/" + g_prefix, ec);
    });
  });
}

TEST(ShoalStatLive, ReadsPerShardCountersOverTheTelemetrySocket) {
  start_eal_with_telemetry();
  TelemetryClient client;
  std::string error;
  ASSERT_TRUE(client.connect(socket_path_for_prefix(g_prefix), &error)) << error;
  EXPECT_EQ(client.pid(), getpid());
  EXPECT_NE(client.version().find("DPDK"), std::string::npos) << client.version();

  const auto raw = client.query_text("/shoal/stats", &error);
  ASSERT_TRUE(raw.has_value()) << error;
  EXPECT_EQ(*raw, R"({"/shoal/stats":{"shard0":{"rx_packets":100,"tx_packets":0,"eth_ipv6":0},)"
                  R"("shard1":{"rx_packets":101,"tx_packets":0,"eth_ipv6":1}}})");

  const auto stats = fetch_stats(client, &error);
  ASSERT_TRUE(stats.has_value()) << error;
  EXPECT_EQ(stats->columns, (std::vector<std::string>{"shard0", "shard1"}));
  EXPECT_EQ(stats->find("rx_packets", "shard1")->uint, 101u);

  // /shoal/conns is not registered here: the reply is null, not an error.
  const auto conns = client.query("/shoal/conns", &error);
  ASSERT_TRUE(conns.has_value()) << error;
  EXPECT_TRUE(conns->is_null());
}

TEST(ShoalStatLive, OncePlainPrintsGreppableLines) {
  start_eal_with_telemetry();
  std::vector<std::string> args = {"shoal-stat", "--prefix", g_prefix, "--once", "--format=plain"};
  std::vector<char *> argv;
  for (auto &a : args)
    argv.push_back(a.data());
  testing::internal::CaptureStdout();
  const int rc = run(static_cast<int>(argv.size()), argv.data());
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, "stats shard0 rx_packets 100\n"
                 "stats shard1 rx_packets 101\n"
                 "stats total rx_packets 201\n"
                 "stats shard0 eth_ipv6 0\n"
                 "stats shard1 eth_ipv6 1\n"
                 "stats total eth_ipv6 1\n"
                 "conns unavailable\n");

  args = {"shoal-stat", "--prefix", g_prefix, "--watch", "0.05", "--count", "2"};
  argv.clear();
  for (auto &a : args)
    argv.push_back(a.data());
  testing::internal::CaptureStdout();
  EXPECT_EQ(run(static_cast<int>(argv.size()), argv.data()), 0);
  const std::string table = testing::internal::GetCapturedStdout();
  EXPECT_NE(table.find("rate/s"), std::string::npos) << table;
  EXPECT_NE(table.find("connections: not available"), std::string::npos) << table;

  args = {"shoal-stat", "--socket", "/nonexistent/sock"};
  argv.clear();
  for (auto &a : args)
    argv.push_back(a.data());
  EXPECT_EQ(run(static_cast<int>(argv.size()), argv.data()), 1);
}

} // namespace
} // namespace shoal::stat
