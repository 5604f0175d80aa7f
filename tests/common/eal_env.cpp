#include "eal_env.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

namespace shoal::test {

void ensure_eal() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::vector<std::string> args = {"shoal-test", "--no-huge", "-m", "512", "--no-pci",
                                     "--no-shconf", "--file-prefix", "shoal-test-" + std::to_string(getpid()), "-l", "0", "--log-level", "lib.eal:error", "--log-level", "pmd.*:error",
                                     "--no-telemetry"};
    std::vector<char *> argv;
    for (auto &a : args)
      argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
      std::fprintf(stderr, "shoal-test: rte_eal_init failed: %s\n", rte_strerror(rte_errno));
      std::abort();
    }
    std::atexit([] {
      rte_eal_cleanup();
      // --no-shconf still makes a runtime directory; leave nothing behind.
      std::error_code ec;
      std::filesystem::remove_all("/var/run/dpdk/shoal-test-" + std::to_string(getpid()), ec);
    });
  });
}

rte_mempool *make_pktmbuf_pool(unsigned n_mbufs, uint16_t data_room) {
  ensure_eal();
  static std::atomic<unsigned> seq{0};
  std::string name = "tp" + std::to_string(seq.fetch_add(1));
  rte_mempool *mp = rte_pktmbuf_pool_create(name.c_str(), n_mbufs, 0, 0, data_room, SOCKET_ID_ANY);
  if (mp == nullptr) {
    std::fprintf(stderr, "shoal-test: mempool %s: %s\n", name.c_str(), rte_strerror(rte_errno));
    std::abort();
  }
  return mp;
}

} // namespace shoal::test
