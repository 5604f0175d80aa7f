#include "dpdk/eal.hpp"

#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>

namespace shoal::dpdk {

namespace {
constexpr const char *kRuntimeBase = "/var/run/dpdk/";

// The pid of another process that holds the primary lock on
// /var/run/dpdk/<prefix>/config (the EAL takes a write lock on that file
// for as long as a primary process runs), or 0 when there is none.
pid_t prefix_owner(const std::string &prefix) {
  const std::string path = kRuntimeBase + prefix + "/config";
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return 0;
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  pid_t owner = 0;
  if (::fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK)
    owner = probe.l_pid > 0 ? probe.l_pid : -1;
  ::close(fd);
  return owner;
}

// Lines the drivers log at start-up that say nothing a user can act on.
// Each is dropped, and explained once on stderr.
struct KnownNoise {
  const char *contains;
  const char *explanation;
};
constexpr KnownNoise kNoise[] = {
    {"multiq", "net_tap: this kernel has no multiq qdisc, so the TAP has no rte_flow "
               "(not used by shoal)"},
    {"qdisc kind is unknown", nullptr},
    {"No legacy callbacks", nullptr},
    {"rte flow", nullptr},
    {"No bpffs found", "net_af_xdp: no bpffs mounted, libxdp loads its program without "
                       "pinning (harmless; `mount -t bpf bpf /sys/fs/bpf` silences it)"},
    {"falling back", nullptr},
};

// Whether the config raised a log level to info or debug ([eal] log_level
// or a --log-level in extra_args): then every line is shown.
bool asks_for_detail(const EalConfig &eal) {
  std::string all = eal.log_level;
  for (const std::string &a : eal.extra_args)
    all += " " + a;
  for (const char *word : {"info", "debug", ":7", ":8"})
    if (all.find(word) != std::string::npos)
      return true;
  return false;
}

// The log stream of the EAL and the drivers for the life of the process:
// warnings and worse go to stderr (every line when the config asked for
// detail), less the known noise (one explanation each instead); the last
// error line is kept for a failure message. Lines are told apart by the
// level of the message they came from (rte_log_cur_msg_loglevel() is valid
// while a message is written).
struct LogFilter {
  bool verbose = false;
  std::string line;
  uint32_t line_level = RTE_LOG_ERR;
  std::string last_error;
  bool explained[std::size(kNoise)] = {};

  void finish_line() {
    if (line.empty())
      return;
    if (line_level <= RTE_LOG_ERR)
      last_error = line;
    bool noise = false;
    for (size_t i = 0; i < std::size(kNoise); i++) {
      if (line.find(kNoise[i].contains) == std::string::npos)
        continue;
      noise = true;
      if (kNoise[i].explanation != nullptr && !explained[i]) {
        explained[i] = true;
        std::fprintf(stderr, "note: %s\n", kNoise[i].explanation);
      }
      break;
    }
    if (!noise && (verbose || line_level <= RTE_LOG_WARNING))
      std::fprintf(stderr, "%s\n", line.c_str());
    line.clear();
  }

  static ssize_t write(void *cookie, const char *buf, size_t size) {
    auto *self = static_cast<LogFilter *>(cookie);
    const int lvl = rte_log_cur_msg_loglevel();
    for (size_t i = 0; i < size; i++) {
      if (self->line.empty())
        self->line_level = lvl > 0 ? static_cast<uint32_t>(lvl) : RTE_LOG_ERR;
      if (buf[i] == '\n')
        self->finish_line();
      else
        self->line.push_back(buf[i]);
    }
    return static_cast<ssize_t>(size);
  }
};

LogFilter g_log_filter;
FILE *g_log_stream = nullptr;

// Installs the filter as the DPDK log stream (once per process).
void install_log_filter(const EalConfig &eal) {
  g_log_filter.verbose = asks_for_detail(eal);
  if (g_log_stream != nullptr)
    return;
  cookie_io_functions_t io{};
  io.write = &LogFilter::write;
  g_log_stream = fopencookie(&g_log_filter, "w", io);
  if (g_log_stream == nullptr)
    return;
  std::setvbuf(g_log_stream, nullptr, _IONBF, 0);
  rte_openlog_stream(g_log_stream);
}
} // namespace

void ignore_realtime_signals() {
  for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
    std::signal(s, SIG_IGN);
}

std::vector<std::string> eal_arguments(const EalConfig &eal, const PortConfig &port,
                                       const char *argv0) {
  std::vector<std::string> a = {argv0 != nullptr ? argv0 : "shoal",
                                "-l",
                                eal.lcores,
                                "-m",
                                std::to_string(eal.memory_mb),
                                "--file-prefix",
                                eal.file_prefix};
  if (eal.no_huge)
    a.emplace_back("--no-huge");
  if (port.pci.empty()) {
    // No device is scanned or probed that the config did not name (none at
    // all when the ports are made at run time, e.g. rte_eth_from_rings).
    a.emplace_back("--no-pci");
    if (!port.vdev.empty())
      a.emplace_back("--vdev=" + port.vdev);
  } else {
    a.emplace_back("-a");
    a.emplace_back(port.pci);
  }
  if (!eal.log_level.empty())
    a.emplace_back("--log-level=" + eal.log_level);
  a.insert(a.end(), eal.extra_args.begin(), eal.extra_args.end());
  return a;
}

std::unique_ptr<Eal> Eal::init(const EalConfig &eal, const PortConfig &port, const char *argv0,
                               std::string *error) {
  ignore_realtime_signals();
  if (pid_t owner = prefix_owner(eal.file_prefix); owner != 0) {
    // Checked before rte_eal_init, which fails here without setting
    // rte_errno ("Success") and whose clean-up must not touch the other
    // process's runtime directory.
    *error = "[eal] file_prefix \"" + eal.file_prefix + "\" is in use by another DPDK process" +
             (owner > 0 ? " (pid " + std::to_string(owner) + ")" : std::string()) +
             ": give each concurrent process its own file_prefix";
    return nullptr;
  }
  std::vector<std::string> args = eal_arguments(eal, port, argv0);
  std::vector<char *> argv;
  for (auto &s : args)
    argv.push_back(s.data());
  argv.push_back(nullptr);
  // Start-up chatter is filtered (LogFilter), and a failure names the
  // EAL's own last error rather than rte_errno alone.
  install_log_filter(eal);
  g_log_filter.last_error.clear();
  const int rc = rte_eal_init(static_cast<int>(args.size()), argv.data());
  const int init_errno = rte_errno;
  // The EAL parsed its arguments with getopt: the process's own parsing
  // (a program started over libshoal_preload.so parses its argv after
  // this) must begin afresh.
  optind = 0;
  g_log_filter.finish_line();
  const std::string last_error = g_log_filter.last_error;
  if (rc < 0) {
    *error = "rte_eal_init failed: ";
    if (!last_error.empty())
      *error += last_error;
    else
      *error += init_errno != 0 ? rte_strerror(init_errno) : "no reason given";
    // A half-initialised EAL may still have made its runtime directory.
    std::error_code ec;
    std::filesystem::remove_all(kRuntimeBase + eal.file_prefix, ec);
    return nullptr;
  }
  return std::unique_ptr<Eal>(new Eal(eal.file_prefix));
}

Eal::~Eal() {
  rte_eal_cleanup();
  remove_runtime_dir();
}

void Eal::remove_runtime_dir() const {
  std::error_code ec;
  std::filesystem::remove_all(runtime_dir(), ec);
}

std::string Eal::runtime_dir() const {
  return kRuntimeBase + file_prefix_;
}

} // namespace shoal::dpdk
