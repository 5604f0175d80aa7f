#pragma once
// gtest glue for simulation tests: a mempool per test binary, a leak check
// per test, and the trace printed (and optionally written as pcapng to
// $SHOAL_PCAP_DIR) when a test fails.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include <rte_mempool.h>

#include "eal_env.hpp"
#include "sim/pcapng.hpp"
#include "sim/scripted_peer.hpp"
#include "sim/simulation.hpp"
#include "sim/trace.hpp"

namespace shoal::sim::testing {

inline rte_mempool *shared_pool() {
  static rte_mempool *pool = test::make_pktmbuf_pool(8192);
  return pool;
}

inline std::string current_test_name() {
  const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info != nullptr ? std::string(info->test_suite_name()) + "." + info->name()
                                     : std::string("test");
  for (char &ch : name)
    if (ch == '/')
      ch = '_';
  return name;
}

// On failure: print the trace; with SHOAL_PCAP_DIR set, also write
// <dir>/<Suite.Test>.pcapng for Wireshark.
inline void dump_trace_on_failure(const Trace &trace) {
  if (!::testing::Test::HasFailure())
    return;
  std::fprintf(stderr, "---- trace of %s ----\n%s---- end of trace ----\n",
               current_test_name().c_str(), trace.format().c_str());
  if (const char *dir = std::getenv("SHOAL_PCAP_DIR")) {
    const std::string path = std::string(dir) + "/" + current_test_name() + ".pcapng";
    if (write_pcapng(trace, path))
      std::fprintf(stderr, "pcapng written to %s\n", path.c_str());
  }
}

class PoolCheckedTest : public ::testing::Test {
protected:
  void SetUp() override {
    pool_ = shared_pool();
    pool_start_ = rte_mempool_avail_count(pool_);
  }
  // Call after everything holding mbufs is destroyed.
  void expect_pool_restored() {
    EXPECT_EQ(rte_mempool_avail_count(pool_), pool_start_) << "mbufs leaked";
  }
  rte_mempool *pool_ = nullptr;
  unsigned pool_start_ = 0;
};

// Two engines over two links; sim_ is built by make_sim(), so tests can set
// the config first.
class SimTest : public PoolCheckedTest {
protected:
  SimConfig config() {
    SimConfig c;
    c.seed = 1;
    c.pool_a = pool_;
    return c;
  }
  Simulation &make_sim(const SimConfig &c) {
    sim_.emplace(c);
    return *sim_;
  }
  Simulation &make_sim() { return make_sim(config()); }
  void TearDown() override {
    if (sim_) {
      dump_trace_on_failure(sim_->trace());
      sim_.reset();
    }
    expect_pool_restored();
  }
  std::optional<Simulation> sim_;
};

// One engine under test, the test as its peer; mismatches become gtest failures.
class PeerTest : public PoolCheckedTest {
protected:
  PeerConfig config() {
    PeerConfig c;
    c.pool = pool_;
    c.on_failure = [](const std::string &msg) { ADD_FAILURE() << msg; };
    return c;
  }
  ScriptedPeer &make_peer(const PeerConfig &c) {
    peer_.emplace(c);
    return *peer_;
  }
  ScriptedPeer &make_peer() { return make_peer(config()); }
  void TearDown() override {
    if (peer_) {
      // The harness already printed the trace with its own failures; print
      // it for other assertion failures too.
      if (HasFailure() && !peer_->failed())
        dump_trace_on_failure(peer_->trace());
      peer_.reset();
    }
    expect_pool_restored();
  }
  std::optional<ScriptedPeer> peer_;
};

} // namespace shoal::sim::testing
