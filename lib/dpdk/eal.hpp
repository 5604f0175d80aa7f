#pragma once
// EAL bring-up from the [eal] and [port] sections, and its teardown.
//
// The EAL is process-global: one Eal object per process, created before any
// port or mempool and destroyed after them.
#include <memory>
#include <string>
#include <vector>

#include "dpdk/config.hpp"

namespace shoal::dpdk {

class Eal {
public:
  // Initialises the EAL; nullptr and a one-line reason in *error on failure.
  // Before rte_eal_init the real-time signals are set to SIG_IGN: the tap PMD
  // otherwise takes one signal per received packet (kernel to DPDK
  // drops from ~640 kpps to ~75 kpps). They are ignored, not blocked, because rte_eal_cleanup() hangs on
  // blocked signals.
  static std::unique_ptr<Eal> init(const EalConfig &, const PortConfig &, const char *argv0,
                                   std::string *error);
  // rte_eal_cleanup() and removal of /var/run/dpdk/<file_prefix>.
  ~Eal();
  // Only the removal of the runtime directory: for an exit that does not
  // unwind (an app's fail() calling std::exit), where the EAL is left as is.
  void remove_runtime_dir() const;
  Eal(const Eal &) = delete;
  Eal &operator=(const Eal &) = delete;

  const std::string &file_prefix() const { return file_prefix_; }
  // Where the EAL keeps its runtime files (and the telemetry socket).
  std::string runtime_dir() const;
  std::string telemetry_socket() const { return runtime_dir() + "/dpdk_telemetry.v2"; }

private:
  explicit Eal(std::string prefix) : file_prefix_(std::move(prefix)) {}
  std::string file_prefix_;
};

// The argument vector Eal::init passes to rte_eal_init (argv[0] first);
// exposed so tests can check it without starting an EAL.
std::vector<std::string> eal_arguments(const EalConfig &, const PortConfig &, const char *argv0);

// SIGRTMIN..SIGRTMAX -> SIG_IGN.
void ignore_realtime_signals();

} // namespace shoal::dpdk
