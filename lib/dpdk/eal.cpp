#include "dpdk/eal.hpp"

#include <csignal>
#include <filesystem>

#include <rte_eal.h>
#include <rte_errno.h>

namespace shoal::dpdk {

namespace {
constexpr const char *kRuntimeBase = "/var/run/dpdk/";
}

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
  std::vector<std::string> args = eal_arguments(eal, port, argv0);
  std::vector<char *> argv;
  for (auto &s : args)
    argv.push_back(s.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    *error = std::string("rte_eal_init failed: ") + rte_strerror(rte_errno);
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
