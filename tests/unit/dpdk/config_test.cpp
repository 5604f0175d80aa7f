// The node config (lib/dpdk/config.cpp): the shipped default parses to the
// documented values, and each bad config gives exactly one line that names
// the file, the section and the key.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "dpdk/config.hpp"
#include "dpdk/eal.hpp"

namespace shoal::dpdk {
namespace {

// A minimal valid config, as sections of key/value lines, that each case edits.
struct Ini {
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> sections = {
      {"eal",
       {{"lcores", "0"}, {"memory_mb", "128"}, {"no_huge", "true"}, {"file_prefix", "shoal-test"}}},
      {"port", {{"vdev", "net_tap0,iface=shoal0"}, {"mtu", "1500"}}},
      {"ipv4", {{"address", "198.18.0.2"}, {"prefix_length", "24"}}},
      {"host", {{"address", "198.18.0.1"}, {"prefix_length", "24"}}},
      {"arp", {{"entry_lifetime_s", "60"}}},
  };
  std::string tail; // raw text appended at the end

  Ini &set(const std::string &sec, const std::string &key, const std::string &value) {
    for (auto &[name, kv] : sections)
      if (name == sec) {
        for (auto &[k, v] : kv)
          if (k == key) {
            v = value;
            return *this;
          }
        kv.emplace_back(key, value);
        return *this;
      }
    sections.push_back({sec, {{key, value}}});
    return *this;
  }
  Ini &erase(const std::string &sec, const std::string &key) {
    for (auto &[name, kv] : sections)
      if (name == sec)
        std::erase_if(kv, [&](const auto &p) { return p.first == key; });
    return *this;
  }
  Ini &erase_section(const std::string &sec) {
    std::erase_if(sections, [&](const auto &s) { return s.first == sec; });
    return *this;
  }
  Ini &raw(const std::string &text) {
    tail += text;
    return *this;
  }
  std::string text() const {
    std::string s = "# written by config_test\n";
    for (const auto &[name, kv] : sections) {
      s += "[" + name + "]\n";
      for (const auto &[k, v] : kv)
        s += k + " = " + v + "\n";
    }
    return s + tail;
  }
};

class ConfigTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("shoal-config-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string &name, const std::string &text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(ConfigTest, ShippedDefaultParses) {
  const std::string path = std::string(SHOAL_SOURCE_ROOT) + "/configs/default.ini";
  const ConfigResult r = load_config(path);
  ASSERT_TRUE(r) << r.error;
  const NodeConfig &c = *r.config;
  EXPECT_TRUE(c.eal.no_huge);
  EXPECT_EQ(c.eal.lcores, "0");
  EXPECT_EQ(c.eal.memory_mb, 128u);
  EXPECT_FALSE(c.eal.file_prefix.empty());
  EXPECT_EQ(c.port.vdev, "net_tap0,iface=shoal0");
  EXPECT_EQ(c.port.device_name(), "net_tap0");
  EXPECT_EQ(c.port.tap_iface(), "shoal0");
  EXPECT_EQ(c.port.rx_queues, 1);
  EXPECT_EQ(c.ipv4.address, wire::Ipv4Addr::from_octets(198, 18, 0, 2));
  EXPECT_EQ(c.ipv4.prefix_length, 24);
  EXPECT_FALSE(c.ipv4.gateway.has_value());
  ASSERT_TRUE(c.host.has_value());
  EXPECT_EQ(c.host->interface, "shoal0");
  EXPECT_EQ(c.host->address, wire::Ipv4Addr::from_octets(198, 18, 0, 1));
  EXPECT_TRUE(c.host->disable_ipv6);
  EXPECT_EQ(c.arp.entry_lifetime, std::chrono::seconds(60));
}

TEST_F(ConfigTest, MinimalConfigTakesDefaults) {
  Ini ini;
  ini.erase_section("host").erase_section("arp").set("ipv4", "gateway", "198.18.0.254");
  const ConfigResult r = load_config(write("min.ini", ini.text()));
  ASSERT_TRUE(r) << r.error;
  EXPECT_FALSE(r.config->host.has_value());
  EXPECT_EQ(r.config->port.mbufs, 8191u);
  EXPECT_EQ(r.config->arp.pending_per_address, 16u);
  EXPECT_EQ(r.config->ipv4.gateway, wire::Ipv4Addr::from_octets(198, 18, 0, 254));
}

TEST_F(ConfigTest, EalArgumentsFollowTheConfig) {
  Ini ini;
  ini.set("eal", "extra_args", "--log-level=lib.eal:debug  --no-telemetry");
  const ConfigResult r = load_config(write("eal.ini", ini.text()));
  ASSERT_TRUE(r) << r.error;
  const std::vector<std::string> a = eal_arguments(r.config->eal, r.config->port, "prog");
  const std::vector<std::string> want = {"prog",
                                         "-l",
                                         "0",
                                         "-m",
                                         "128",
                                         "--file-prefix",
                                         "shoal-test",
                                         "--no-huge",
                                         "--no-pci",
                                         "--vdev=net_tap0,iface=shoal0",
                                         "--log-level=lib.eal:debug",
                                         "--no-telemetry"};
  EXPECT_EQ(a, want);
}

TEST(EalArguments, NoVdevArgumentWithoutADevice) {
  // Ports made at run time (rte_eth_from_rings: shoal-churn ring,
  // shoal-synflood ring): no PCI scan and no empty --vdev.
  EalConfig eal;
  eal.file_prefix = "p";
  const std::vector<std::string> a = eal_arguments(eal, PortConfig{}, "prog");
  const std::vector<std::string> want = {"prog",  "-l", "0",     "-m", "128", "--file-prefix",
                                         "p",     "--no-huge", "--no-pci"};
  EXPECT_EQ(a, want);
}

struct BadCase {
  const char *name;
  Ini ini;
  std::string expected; // after "<path>: "
};

std::vector<BadCase> bad_cases() {
  std::vector<BadCase> v;
  auto add = [&](const char *name, Ini ini, std::string expected) {
    v.push_back({name, std::move(ini), std::move(expected)});
  };
  add("preload_mode", Ini().set("preload", "mode", "fast"),
      "[preload] mode: \"fast\" is not inline or dedicated");
  add("preload_helper_sleep_zero", Ini().set("preload", "helper_sleep_us", "0"),
      "[preload] helper_sleep_us: \"0\" is not a whole number from 1 to 1000000");
  add("ipv4_address_short", Ini().set("ipv4", "address", "1.2.3"),
      "[ipv4] address: \"1.2.3\" is not an IPv4 address");
  add("ipv4_address_octet", Ini().set("ipv4", "address", "198.18.0.256"),
      "[ipv4] address: \"198.18.0.256\" is not an IPv4 address");
  add("ipv4_address_missing", Ini().erase("ipv4", "address"), "[ipv4] address: missing (required)");
  add("ipv4_address_multicast", Ini().set("ipv4", "address", "224.0.0.1"),
      "[ipv4] address: \"224.0.0.1\" is not a unicast host address");
  add("ipv4_prefix_zero", Ini().set("ipv4", "prefix_length", "0"),
      "[ipv4] prefix_length: \"0\" is not a whole number from 1 to 32");
  add("ipv4_prefix_33", Ini().set("ipv4", "prefix_length", "33"),
      "[ipv4] prefix_length: \"33\" is not a whole number from 1 to 32");
  add("ipv4_prefix_text", Ini().set("ipv4", "prefix_length", "24x"),
      "[ipv4] prefix_length: \"24x\" is not a whole number from 1 to 32");
  add("ipv4_prefix_negative", Ini().set("ipv4", "prefix_length", "-1"),
      "[ipv4] prefix_length: \"-1\" is not a whole number from 1 to 32");
  add("gateway_off_link", Ini().set("ipv4", "gateway", "10.0.0.1"),
      "[ipv4] gateway: \"10.0.0.1\" is not on-link for 198.18.0.2/24");
  add("gateway_self", Ini().set("ipv4", "gateway", "198.18.0.2"),
      "[ipv4] gateway: \"198.18.0.2\" is the stack's own address");
  add("eal_lcores_word", Ini().set("eal", "lcores", "all"),
      "[eal] lcores: \"all\" is not an lcore list like 0 or 0-3 or 0,2");
  add("eal_prefix_missing", Ini().erase("eal", "file_prefix"),
      "[eal] file_prefix: missing (required)");
  add("eal_prefix_slash", Ini().set("eal", "file_prefix", "a/b"),
      "[eal] file_prefix: \"a/b\" may hold only letters, digits, '-', '_' and '.'");
  add("eal_memory_small", Ini().set("eal", "memory_mb", "8"),
      "[eal] memory_mb: \"8\" is not a whole number from 16 to 1048576");
  add("eal_no_huge_word", Ini().set("eal", "no_huge", "maybe"),
      "[eal] no_huge: \"maybe\" is not a boolean (true/false/yes/no/on/off/1/0)");
  add("eal_unknown_key", Ini().set("eal", "lcore", "1"), "[eal] lcore: unknown key");
  add("port_no_device", Ini().erase("port", "vdev"),
      "[port] vdev: missing (one of vdev or pci is required)");
  add("port_vdev_and_pci", Ini().set("port", "pci", "0000:00:04.0"),
      "[port] pci: vdev and pci are exclusive: give one");
  add("port_tap_bad_key", Ini().set("port", "vdev", "net_tap0,iface=shoal0,queues=2"),
      "[port] vdev: net_tap does not know \"queues\" (only iface, mac, remote, persist)");
  add("port_tap_long_iface", Ini().set("port", "vdev", "net_tap0,iface=abcdefghijklmnop"),
      "[port] vdev: iface=\"abcdefghijklmnop\" is not a 1..15 character interface name");
  add("port_mtu_big", Ini().set("port", "mtu", "65536"),
      "[port] mtu: \"65536\" is not a whole number from 68 to 9000");
  add("port_queues_zero", Ini().set("port", "rx_queues", "0"),
      "[port] rx_queues: \"0\" is not a whole number from 1 to 16");
  add("port_mbufs_too_few", Ini().set("port", "mbufs", "2047").set("port", "rx_ring_size", "2048"),
      "[port] mbufs: 2047 is fewer than the rings and cache hold (3328)");
  add("port_unknown_key", Ini().set("port", "mtuu", "1500"), "[port] mtuu: unknown key");
  add("host_address_bad", Ini().set("host", "address", "198.18.0"),
      "[host] address: \"198.18.0\" is not an IPv4 address");
  add("host_same_as_stack", Ini().set("host", "address", "198.18.0.2"),
      "[host] address: \"198.18.0.2\" is the stack's own address");
  add("host_no_interface", Ini().set("port", "vdev", "net_null0"),
      "[host] interface: missing (and the vdev has no iface=)");
  add("arp_lifetime_zero", Ini().set("arp", "entry_lifetime_s", "0"),
      "[arp] entry_lifetime_s: \"0\" is not a whole number from 1 to 86400");
  add("arp_queue_huge", Ini().set("arp", "pending_per_address", "100000"),
      "[arp] pending_per_address: \"100000\" is not a whole number from 1 to 1024");
  add("shard_unknown_key", Ini().set("shard", "busy", "1"), "[shard] busy: unknown key");
  add("missing_section", Ini().erase_section("ipv4"), "[ipv4]: missing section");
  add("unknown_section", Ini().raw("[ipv6]\naddress = ::1\n"),
      "[ipv6]: unknown section (known: eal, port, ipv4, host, arp, shard, tcp, impair, preload)");
  add("duplicate_section", Ini().raw("[arp]\nmax_entries = 64\n"), "[arp]: duplicate section");
  add("duplicate_key", Ini().raw("[shard]\nidle_sleep_us = 1\nidle_sleep_us = 2\n"),
      "[shard] idle_sleep_us: duplicate key");
  add("empty_value", Ini().raw("[shard]\nidle_sleep_us =\n"), "[shard] idle_sleep_us: empty value");
  return v;
}

TEST_F(ConfigTest, EachBadConfigGivesItsOneLine) {
  for (const BadCase &c : bad_cases()) {
    SCOPED_TRACE(c.name);
    const std::string path = write(std::string(c.name) + ".ini", c.ini.text());
    const ConfigResult r = load_config(path);
    EXPECT_FALSE(r) << c.name << ": accepted:\n" << c.ini.text();
    EXPECT_EQ(r.error, path + ": " + c.expected) << "config was:\n" << c.ini.text();
    EXPECT_EQ(r.error.find('\n'), std::string::npos);
  }
}

// Lines rte_cfgfile would take silently or reject without naming anything.
TEST_F(ConfigTest, SyntaxErrorsNameTheLine) {
  struct Case {
    const char *text;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"[eal]\nfoo\n", "line 2: \"foo\" is neither \"key = value\" nor \"[section]\""},
      {"a = b\n[eal]\n", "line 1: \"a\" comes before any [section]"},
      {"[eal\n", "line 1: \"[eal\" is not a [section] header"},
      {"[]\n", "line 1: \"[]\" is not a [section] header"},
      {"[eal]\n= 3\n", "line 2: \"= 3\" has no key before '='"},
  };
  int i = 0;
  for (const Case &c : cases) {
    SCOPED_TRACE(c.text);
    const std::string path = write("syntax" + std::to_string(i++) + ".ini", c.text);
    const ConfigResult r = load_config(path);
    EXPECT_FALSE(r);
    EXPECT_EQ(r.error, path + ": " + c.expected);
  }
}

TEST_F(ConfigTest, UnreadableFile) {
  const std::string missing = (dir_ / "absent.ini").string();
  EXPECT_EQ(load_config(missing).error, missing + ": cannot read: No such file or directory");
  EXPECT_EQ(load_config(dir_.string()).error, dir_.string() + ": cannot read: Is a directory");
}

TEST_F(ConfigTest, TcpSectionMslIsParsed) {
  Ini ini;
  // Not the default (30 s), so a key that is read but not stored fails.
  ini.raw("[tcp]\nmsl_s = 7\n");
  const ConfigResult r = load_config(write("tcp.ini", ini.text()));
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r.config->tcp.msl, std::chrono::seconds(7));
  Ini bad;
  bad.raw("[tcp]\nmsl_s = 3601\n");
  EXPECT_FALSE(load_config(write("tcp-bad.ini", bad.text())));
}

TEST_F(ConfigTest, CopyPayloadMax) {
  const ConfigResult d =
      load_config(std::string(SHOAL_SOURCE_ROOT) + "/configs/default.ini");
  ASSERT_TRUE(d) << d.error;
  EXPECT_EQ(d.config->tcp.copy_payload_max, 256u);
  Ini ini;
  ini.raw("[tcp]\ncopy_payload_max = 0\n");
  const ConfigResult r = load_config(write("copy0.ini", ini.text()));
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r.config->tcp.copy_payload_max, 0u);
  Ini bad;
  bad.raw("[tcp]\ncopy_payload_max = 70000\n");
  const std::string path = write("copybad.ini", bad.text());
  const ConfigResult e = load_config(path);
  EXPECT_FALSE(e);
  EXPECT_NE(e.error.find("copy_payload_max"), std::string::npos) << e.error;
}

TEST_F(ConfigTest, QuickackSegments) {
  Ini ini;
  ini.raw("[tcp]\nquickack_segments = 0\n");
  const ConfigResult r = load_config(write("quickack0.ini", ini.text()));
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r.config->tcp.quickack_segments, 0u);
  Ini ini2;
  ini2.raw("[tcp]\nquickack_segments = 5\n");
  const ConfigResult r2 = load_config(write("quickack5.ini", ini2.text()));
  ASSERT_TRUE(r2) << r2.error;
  EXPECT_EQ(r2.config->tcp.quickack_segments, 5u);
  Ini bad;
  bad.raw("[tcp]\nquickack_segments = 256\n");
  const ConfigResult e = load_config(write("quickackbad.ini", bad.text()));
  EXPECT_FALSE(e);
  EXPECT_NE(e.error.find("quickack_segments"), std::string::npos) << e.error;
}

TEST_F(ConfigTest, AckAndWindowPersonality) {
  const ConfigResult d = load_config(write("personality_default.ini", Ini{}.text()));
  ASSERT_TRUE(d) << d.error;
  EXPECT_FALSE(d.config->tcp.ack_every_second_segment);
  EXPECT_TRUE(d.config->tcp.rcv_window_hold_back);
  EXPECT_EQ(d.config->tcp.tlp_peer_delayed_ack, std::chrono::milliseconds(200));
  Ini ini;
  ini.raw("[tcp]\nack_every_second_segment = true\nrcv_window_hold_back = false\n"
          "tlp_peer_delayed_ack_ms = 40\n");
  const ConfigResult r = load_config(write("personality_bsd.ini", ini.text()));
  ASSERT_TRUE(r) << r.error;
  EXPECT_TRUE(r.config->tcp.ack_every_second_segment);
  EXPECT_FALSE(r.config->tcp.rcv_window_hold_back);
  EXPECT_EQ(r.config->tcp.tlp_peer_delayed_ack, std::chrono::milliseconds(40));
  Ini bad;
  bad.raw("[tcp]\nrcv_window_hold_back = maybe\n");
  const ConfigResult e = load_config(write("personality_bad.ini", bad.text()));
  EXPECT_FALSE(e);
  EXPECT_NE(e.error.find("rcv_window_hold_back"), std::string::npos) << e.error;
}

} // namespace
} // namespace shoal::dpdk
