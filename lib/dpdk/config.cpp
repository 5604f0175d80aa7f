#include "dpdk/config.hpp"

#include "tcp/recovery/congestion_control.hpp"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include <rte_cfgfile.h>
#include <rte_log.h>

namespace shoal::dpdk {

namespace {

constexpr char kCommentCharacter = '#';

// "value" in double quotes, for messages. Built by appending: GCC 12 at -O3
// reports a false -Wrestrict overlap for "\"" + std::string + "\"".
std::string quoted(const std::string &text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  out += text;
  out += '"';
  return out;
}

// The first problem found while reading; later ones are not reported (one
// line, as promised).
struct ConfigError {
  std::string message;
};

// One section's entries, with the keys the reader asked for, so that the
// leftovers can be reported as unknown.
class Section {
public:
  Section(std::string path, std::string name) : path_(std::move(path)), name_(std::move(name)) {}

  void add(const std::string &key, const std::string &value) {
    if (!entries_.emplace(key, value).second)
      fail(key, "duplicate key");
  }

  [[noreturn]] void fail(const std::string &key, const std::string &what) const {
    throw ConfigError{path_ + ": [" + name_ + "] " + key + ": " + what};
  }

  const std::string *find(const std::string &key) {
    consumed_.insert(key);
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second;
  }

  const std::string &require(const std::string &key) {
    const std::string *v = find(key);
    if (v == nullptr)
      fail(key, "missing (required)");
    return *v;
  }

  // "name" + an unsigned integer in [lo, hi]; absent keeps `value`.
  template <typename T> void get_uint(const std::string &key, T &value, uint64_t lo, uint64_t hi) {
    if (const std::string *v = find(key))
      value = static_cast<T>(parse_uint(key, *v, lo, hi));
  }
  template <typename T>
  void require_uint(const std::string &key, T &value, uint64_t lo, uint64_t hi) {
    value = static_cast<T>(parse_uint(key, require(key), lo, hi));
  }

  void get_bool(const std::string &key, bool &value) {
    const std::string *v = find(key);
    if (v == nullptr)
      return;
    if (*v == "true" || *v == "yes" || *v == "on" || *v == "1")
      value = true;
    else if (*v == "false" || *v == "no" || *v == "off" || *v == "0")
      value = false;
    else
      fail(key, quoted(*v) + " is not a boolean (true/false/yes/no/on/off/1/0)");
  }

  // A percentage "0".."100" (decimals allowed) as a probability 0..1.
  void get_percent(const std::string &key, double &value) {
    const std::string *v = find(key);
    if (v == nullptr)
      return;
    double d = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), d);
    if (ec != std::errc{} || end != v->data() + v->size() || !(d >= 0 && d <= 100))
      fail(key, quoted(*v) + " is not a percentage from 0 to 100");
    value = d / 100.0;
  }

  template <typename Unit, typename T>
  void get_duration(const std::string &key, Duration &value, uint64_t lo, uint64_t hi) {
    if (const std::string *v = find(key))
      value =
          std::chrono::duration_cast<Duration>(Unit(static_cast<T>(parse_uint(key, *v, lo, hi))));
  }

  void get_string(const std::string &key, std::string &value) {
    if (const std::string *v = find(key)) {
      if (v->empty())
        fail(key, "empty value");
      value = *v;
    }
  }

  wire::Ipv4Addr parse_ipv4(const std::string &key, const std::string &text) const {
    auto a = wire::Ipv4Addr::parse(text);
    if (!a)
      fail(key, quoted(text) + " is not an IPv4 address");
    return *a;
  }

  uint64_t parse_uint(const std::string &key, const std::string &text, uint64_t lo,
                      uint64_t hi) const {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || v < lo || v > hi)
      fail(key, quoted(text) + " is not a whole number from " + std::to_string(lo) + " to " +
                    std::to_string(hi));
    return v;
  }

  // Every key the file has that no reader asked for is a typo or a key of
  // another version: refuse it rather than ignore it.
  void reject_unknown_keys() const {
    for (const auto &[key, value] : entries_)
      if (!consumed_.contains(key))
        fail(key, "unknown key");
  }

  const std::string &name() const { return name_; }

private:
  std::string path_, name_;
  std::map<std::string, std::string> entries_;
  std::set<std::string> consumed_;
};

// rte_cfgfile reports syntax errors through the DPDK log; capture them so
// they become part of our one error line instead of a second line on stderr.
class CapturedLog {
public:
  CapturedLog() {
    stream_ = open_memstream(&buf_, &len_);
    if (stream_ != nullptr)
      rte_openlog_stream(stream_);
  }
  ~CapturedLog() {
    restore();
    std::free(buf_);
  }
  CapturedLog(const CapturedLog &) = delete;
  CapturedLog &operator=(const CapturedLog &) = delete;

  // The captured text on one line, trimmed; "" if nothing was logged.
  std::string text() {
    restore();
    std::string s = buf_ != nullptr ? std::string(buf_, len_) : std::string();
    for (char &c : s)
      if (c == '\n' || c == '\r')
        c = ' ';
    while (!s.empty() && s.back() == ' ')
      s.pop_back();
    // "rte_cfgfile_load_with_params(): line 3 - ..." -> "line 3 - ..."
    if (auto p = s.find("(): "); p != std::string::npos)
      s.erase(0, p + 4);
    return s;
  }

private:
  void restore() {
    if (stream_ != nullptr) {
      rte_openlog_stream(nullptr);
      std::fclose(stream_);
      stream_ = nullptr;
    }
  }
  FILE *stream_ = nullptr;
  char *buf_ = nullptr;
  size_t len_ = 0;
};

std::vector<std::string> split_spaces(const std::string &s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string word;
  while (in >> word)
    out.push_back(word);
  return out;
}

// "net_tap0,iface=shoal0,mac=..." -> {"net_tap0", {{"iface","shoal0"}, ...}}
std::pair<std::string, std::vector<std::pair<std::string, std::string>>>
split_devargs(const std::string &devargs) {
  std::vector<std::pair<std::string, std::string>> kv;
  std::string name;
  size_t start = 0;
  bool first = true;
  while (start <= devargs.size()) {
    size_t comma = devargs.find(',', start);
    if (comma == std::string::npos)
      comma = devargs.size();
    std::string item = devargs.substr(start, comma - start);
    if (first) {
      name = item;
      first = false;
    } else {
      size_t eq = item.find('=');
      kv.emplace_back(item.substr(0, eq), eq == std::string::npos ? "" : item.substr(eq + 1));
    }
    start = comma + 1;
  }
  return {name, kv};
}

void read_eal(Section &s, EalConfig &eal) {
  s.get_string("lcores", eal.lcores);
  // EAL's -l syntax: "0", "0-3", "0,2", "1@(0-1)"; anything else would
  // reach rte_eal_init as a cryptic failure.
  if (eal.lcores.find_first_not_of("0123456789,-@()") != std::string::npos)
    s.fail("lcores", quoted(eal.lcores) + " is not an lcore list like 0 or 0-3 or 0,2");
  s.get_uint("memory_mb", eal.memory_mb, 16, 1u << 20);
  s.get_bool("no_huge", eal.no_huge);
  eal.file_prefix = s.require("file_prefix");
  for (char c : eal.file_prefix)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      s.fail("file_prefix",
             quoted(eal.file_prefix) + " may hold only letters, digits, '-', '_' and '.'");
  if (eal.file_prefix.size() > 64)
    s.fail("file_prefix", "longer than 64 characters");
  s.get_string("log_level", eal.log_level);
  if (const std::string *v = s.find("extra_args"))
    eal.extra_args = split_spaces(*v);
}

void read_port(Section &s, PortConfig &port) {
  s.get_string("vdev", port.vdev);
  s.get_string("pci", port.pci);
  if (port.vdev.empty() && port.pci.empty())
    s.fail("vdev", "missing (one of vdev or pci is required)");
  if (!port.vdev.empty() && !port.pci.empty())
    s.fail("pci", "vdev and pci are exclusive: give one");
  if (!port.vdev.empty()) {
    auto [driver, args] = split_devargs(port.vdev);
    if (driver.empty())
      s.fail("vdev", quoted(port.vdev) + " has no device name");
    // The tap PMD accepts only these keys, and one unknown key makes it
    // silently ignore all of them (DPDK 22.11's net_tap).
    if (driver.rfind("net_tap", 0) == 0) {
      for (const auto &[key, value] : args) {
        if (key != "iface" && key != "mac" && key != "remote" && key != "persist")
          s.fail("vdev",
                 "net_tap does not know \"" + key + "\" (only iface, mac, remote, persist)");
        if (key == "iface" && (value.empty() || value.size() > 15))
          s.fail("vdev", "iface=\"" + value + "\" is not a 1..15 character interface name");
      }
    }
  }
  s.get_uint("mtu", port.mtu, 68, 9000);
  s.get_uint("rx_queues", port.rx_queues, 1, 16);
  s.get_uint("tx_queues", port.tx_queues, 1, 16);
  s.get_uint("rx_ring_size", port.rx_ring_size, 32, 16384);
  s.get_uint("tx_ring_size", port.tx_ring_size, 32, 16384);
  s.get_uint("mbufs", port.mbufs, 1023, 1u << 24);
  s.get_uint("mbuf_cache", port.mbuf_cache, 0, 512); // RTE_MEMPOOL_CACHE_MAX_SIZE
  s.get_bool("checksum_offload", port.checksum_offload);
  s.get_bool("tso", port.tso);
  s.get_bool("memory_wire", port.memory_wire);
  s.get_uint("link_wait_ms", port.link_wait_ms, 0, 60000);
  // The pool must cover every rx descriptor plus the per-lcore caches.
  uint64_t rx_need = uint64_t{port.rx_queues} * port.rx_ring_size +
                     uint64_t{port.tx_queues} * port.tx_ring_size + port.mbuf_cache;
  if (port.mbufs < rx_need)
    s.fail("mbufs", std::to_string(port.mbufs) + " is fewer than the rings and cache hold (" +
                        std::to_string(rx_need) + ")");
}

void read_ipv4(Section &s, Ipv4Config &ip) {
  ip.address = s.parse_ipv4("address", s.require("address"));
  if (ip.address.is_unspecified() || ip.address.is_broadcast() || ip.address.is_multicast() ||
      ip.address.is_loopback())
    s.fail("address", quoted(ip.address.to_string()) + " is not a unicast host address");
  s.require_uint("prefix_length", ip.prefix_length, 1, 32);
  s.get_uint("reassembly_max_datagrams", ip.reassembly_max_datagrams, 0, 1u << 20);
  s.get_uint("reassembly_timeout_ms", ip.reassembly_timeout_ms, 1, 120000);
  if (const std::string *gw = s.find("gateway")) {
    ip.gateway = s.parse_ipv4("gateway", *gw);
    uint32_t mask = ip.prefix_length == 0 ? 0 : ~uint32_t{0} << (32 - ip.prefix_length);
    if ((ip.gateway->v & mask) != (ip.address.v & mask))
      s.fail("gateway", quoted(*gw) + " is not on-link for " + ip.address.to_string() + "/" +
                            std::to_string(ip.prefix_length));
    if (*ip.gateway == ip.address)
      s.fail("gateway", quoted(*gw) + " is the stack's own address");
  }
}

void read_host(Section &s, HostConfig &host, const PortConfig &port, const Ipv4Config &ip) {
  host.interface = port.tap_iface();
  s.get_string("interface", host.interface);
  if (host.interface.empty())
    s.fail("interface", "missing (and the vdev has no iface=)");
  if (host.interface.size() > 15)
    s.fail("interface", quoted(host.interface) + " is longer than 15 characters");
  host.address = s.parse_ipv4("address", s.require("address"));
  if (host.address == ip.address)
    s.fail("address", quoted(host.address.to_string()) + " is the stack's own address");
  s.require_uint("prefix_length", host.prefix_length, 1, 32);
  s.get_bool("disable_ipv6", host.disable_ipv6);
}

void read_arp(Section &s, ArpConfig &arp) {
  uint32_t lifetime_s = 60, interval_ms = 1000;
  s.get_uint("entry_lifetime_s", lifetime_s, 1, 86400);
  s.get_uint("pending_per_address", arp.pending_per_address, 1, 1024);
  s.get_uint("request_interval_ms", interval_ms, 10, 60000);
  s.get_uint("request_retries", arp.request_retries, 1, 100);
  s.get_uint("max_entries", arp.max_entries, 8, 1u << 20);
  arp.entry_lifetime = std::chrono::seconds(lifetime_s);
  arp.request_interval = std::chrono::milliseconds(interval_ms);
}

void read_shard(Section &s, ShardConfig &shard) {
  s.get_uint("idle_sleep_us", shard.idle_sleep_us, 0, 1000000);
  s.get_uint("status_interval_s", shard.status_interval_s, 0, 3600);
}

void read_preload(Section &s, PreloadConfig &p) {
  std::string mode = p.dedicated ? "dedicated" : "inline";
  s.get_string("mode", mode);
  if (mode != "inline" && mode != "dedicated")
    s.fail("mode", quoted(mode) + " is not inline or dedicated");
  p.dedicated = mode == "dedicated";
  s.get_uint("spin_us", p.spin_us, 0, 1000000);
  s.get_uint("helper_sleep_us", p.helper_sleep_us, 1, 1000000);
}

void read_tcp(Section &s, tcp::EngineConfig &t) {
  using std::chrono::milliseconds, std::chrono::seconds;
  uint32_t mss = 0;
  s.get_uint("mss", mss, 88, 9000 - 40);
  t.mtu = mss == 0 ? 0 : static_cast<uint16_t>(mss + 40);
  s.get_uint("rcv_buf", t.rcv_buf, 4096, 1u << 30);
  s.get_uint("snd_buf", t.snd_buf, 4096, 1u << 30);
  s.get_duration<seconds, int64_t>("msl_s", t.msl, 0, 3600);
  s.get_duration<milliseconds, int64_t>("initial_rto_ms", t.initial_rto, 10, 60000);
  s.get_duration<milliseconds, int64_t>("min_rto_ms", t.min_rto, 1, 60000);
  s.get_uint("syn_retries", t.syn_retries, 0, 20);
  s.get_uint("synack_retries", t.synack_retries, 0, 20);
  s.get_uint("data_retries", t.data_retries, 1, 30);
  s.get_duration<seconds, int64_t>("fin_wait2_timeout_s", t.fin_wait2_timeout, 1, 86400);
  s.get_duration<seconds, int64_t>("keepalive_idle_s", t.keepalive_idle, 1, 86400 * 7);
  s.get_duration<seconds, int64_t>("keepalive_interval_s", t.keepalive_interval, 1, 86400);
  s.get_uint("keepalive_probes", t.keepalive_probes, 1, 127);
  s.get_duration<milliseconds, int64_t>("delayed_ack_ms", t.delayed_ack, 0, 500);
  s.get_uint("quickack_segments", t.quickack_segments, 0, 255);
  s.get_bool("rcv_window_hold_back", t.rcv_window_hold_back);
  s.get_bool("ack_every_second_segment", t.ack_every_second_segment);
  if (const std::string *v = s.find("congestion_control")) {
    std::string known;
    bool ok = false;
    for (std::string_view n : tcp::congestion_control_names()) {
      known += (known.empty() ? "" : ", ") + std::string(n);
      ok = ok || n == *v;
    }
    if (!ok)
      s.fail("congestion_control", quoted(*v) + " is not one of " + known);
    t.congestion_control = *v;
  }
  s.get_bool("tail_loss_probe", t.tail_loss_probe);
  s.get_duration<milliseconds, int64_t>("tlp_peer_delayed_ack_ms", t.tlp_peer_delayed_ack, 0, 1000);
  s.get_bool("rack", t.rack);
  s.get_uint("initial_window_segments", t.initial_window_segments, 0, 1000);
  s.get_duration<milliseconds, int64_t>("user_timeout_ms", t.user_timeout, 0, 86400000);
  s.get_uint("syn_backlog", t.syn_backlog, 1, 1u << 24);
  s.get_uint("accept_backlog", t.accept_backlog, 1, 1u << 24);
  s.get_uint("max_connections", t.max_connections, 1, 1u << 24);
  s.get_uint("max_time_wait", t.max_time_wait, 0, 1u << 24);
  s.get_bool("time_wait_reuse", t.time_wait_reuse);
  s.get_bool("timestamps", t.timestamps);
  s.get_bool("sack", t.sack);
  s.get_bool("window_scaling", t.window_scaling);
  s.get_uint("copy_payload_max", t.copy_payload_max, 0, 65535);
  s.get_bool("autocork", t.autocork);
  s.get_uint("ephemeral_port_min", t.ephemeral_port_min, 1024, 65535);
  s.get_uint("ephemeral_port_max", t.ephemeral_port_max, 1024, 65535);
  if (t.ephemeral_port_min > t.ephemeral_port_max)
    s.fail("ephemeral_port_max", "below ephemeral_port_min");
}

void read_impair(Section &s, ImpairConfig &i) {
  s.get_percent("loss", i.loss);
  s.get_percent("reorder", i.reorder);
  s.get_percent("duplicate", i.duplicate);
  s.get_duration<std::chrono::milliseconds, int64_t>("delay_ms", i.delay, 0, 10000);
  s.get_uint("seed", i.seed, 0, UINT64_MAX);
  std::string dir = "both";
  s.get_string("direction", dir);
  if (dir != "rx" && dir != "tx" && dir != "both")
    s.fail("direction", quoted(dir) + " is not rx, tx or both");
  i.rx = dir != "tx";
  i.tx = dir != "rx";
}

std::string trim(const std::string &s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos)
    return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// rte_cfgfile accepts some malformed lines silently and reports others only
// through the log, without the key; this pass names the line and the key.
void lint(const std::string &path) {
  FILE *f = std::fopen(path.c_str(), "r");
  if (f == nullptr)
    throw ConfigError{path + ": cannot read: " + std::strerror(errno)};
  struct Closer {
    FILE *f;
    ~Closer() { std::fclose(f); }
  } closer{f};
  std::string section;
  char buf[1024];
  for (int lineno = 1; std::fgets(buf, sizeof buf, f) != nullptr; lineno++) {
    std::string raw(buf);
    if (!raw.empty() && raw.back() != '\n' && !std::feof(f))
      throw ConfigError{path + ": line " + std::to_string(lineno) + ": longer than " +
                        std::to_string(sizeof buf - 2) + " characters"};
    if (auto c = raw.find(kCommentCharacter); c != std::string::npos)
      raw.erase(c);
    const std::string line = trim(raw);
    if (line.empty())
      continue;
    const std::string where = path + ": line " + std::to_string(lineno) + ": ";
    if (line.front() == '[') {
      if (line.back() != ']' || line.size() < 3)
        throw ConfigError{where + quoted(line) + " is not a [section] header"};
      section = trim(line.substr(1, line.size() - 2));
      if (section.empty() || section.size() >= CFG_NAME_LEN)
        throw ConfigError{where + quoted(line) + " is not a [section] header"};
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string::npos)
      throw ConfigError{where + quoted(line) + " is neither \"key = value\" nor \"[section]\""};
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (section.empty())
      throw ConfigError{where + quoted(key) + " comes before any [section]"};
    const std::string prefix = path + ": [" + section + "] " + key + ": ";
    if (key.empty())
      throw ConfigError{where + quoted(line) + " has no key before '='"};
    if (key.size() >= CFG_NAME_LEN)
      throw ConfigError{prefix + "key longer than " + std::to_string(CFG_NAME_LEN - 1) +
                        " characters"};
    if (value.empty())
      throw ConfigError{prefix + "empty value"};
    if (value.size() >= CFG_VALUE_LEN)
      throw ConfigError{prefix + "value longer than " + std::to_string(CFG_VALUE_LEN - 1) +
                        " characters"};
  }
  if (std::ferror(f))
    throw ConfigError{path + ": cannot read: " + std::strerror(errno)};
}

NodeConfig parse(const std::string &path) {
  lint(path);

  rte_cfgfile *cfg = nullptr;
  {
    CapturedLog log;
    rte_cfgfile_parameters params{};
    params.comment_character = kCommentCharacter;
    cfg = rte_cfgfile_load_with_params(path.c_str(), 0, &params);
    if (cfg == nullptr) {
      std::string why = log.text();
      throw ConfigError{path + ": not an INI file: " + (why.empty() ? "syntax error" : why)};
    }
  }
  struct Closer {
    rte_cfgfile *c;
    ~Closer() { rte_cfgfile_close(c); }
  } closer{cfg};

  // Sections by index: rte_cfgfile keeps duplicates, which we refuse.
  std::map<std::string, Section> sections;
  const int n = rte_cfgfile_num_sections(cfg, "", 0);
  for (int i = 0; i < n; i++) {
    char name[CFG_NAME_LEN] = {};
    const int count = rte_cfgfile_section_num_entries_by_index(cfg, name, i);
    std::vector<rte_cfgfile_entry> entries(count > 0 ? static_cast<size_t>(count) : 0);
    rte_cfgfile_section_entries_by_index(cfg, i, name, entries.data(), count);
    auto [it, fresh] = sections.try_emplace(name, path, name);
    if (!fresh)
      throw ConfigError{path + ": [" + std::string(name) + "]: duplicate section"};
    for (const rte_cfgfile_entry &e : entries)
      it->second.add(e.name, e.value);
  }
  for (const auto &[name, section] : sections)
    if (name != "eal" && name != "port" && name != "ipv4" && name != "host" && name != "arp" &&
        name != "shard" && name != "tcp" && name != "impair" && name != "preload")
      throw ConfigError{
          path + ": [" + name +
          "]: unknown section (known: eal, port, ipv4, host, arp, shard, tcp, impair, preload)"};
  auto section = [&](const char *name) -> Section & {
    auto it = sections.find(name);
    if (it == sections.end())
      throw ConfigError{path + ": [" + std::string(name) + "]: missing section"};
    return it->second;
  };

  NodeConfig c;
  c.path = path;
  read_eal(section("eal"), c.eal);
  read_port(section("port"), c.port);
  read_ipv4(section("ipv4"), c.ipv4);
  if (sections.contains("host")) {
    c.host.emplace();
    read_host(section("host"), *c.host, c.port, c.ipv4);
  }
  if (sections.contains("arp"))
    read_arp(section("arp"), c.arp);
  if (sections.contains("shard"))
    read_shard(section("shard"), c.shard);
  c.tcp.mtu = 0; // 0: the port's MTU (see NodeConfig::tcp)
  if (sections.contains("tcp"))
    read_tcp(section("tcp"), c.tcp);
  if (sections.contains("impair"))
    read_impair(section("impair"), c.impair);
  if (sections.contains("preload"))
    read_preload(section("preload"), c.preload);
  for (const auto &[name, s] : sections)
    s.reject_unknown_keys();
  return c;
}

} // namespace

ConfigResult load_config(const std::string &path) {
  ConfigResult r;
  try {
    r.config = parse(path);
  } catch (const ConfigError &e) {
    r.error = e.message;
  } catch (const std::exception &e) {
    r.error = path + ": " + e.what();
  }
  return r;
}

std::string PortConfig::device_name() const {
  if (!pci.empty())
    return pci;
  return split_devargs(vdev).first;
}

std::string PortConfig::tap_iface() const {
  auto [driver, args] = split_devargs(vdev);
  if (driver.rfind("net_tap", 0) != 0)
    return "";
  for (const auto &[k, v] : args)
    if (k == "iface")
      return v;
  return "";
}

} // namespace shoal::dpdk
