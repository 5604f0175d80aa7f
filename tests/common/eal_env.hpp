#pragma once
// EAL bring-up for tests that need mbufs and mempools. No hugepages, no PCI,
// nothing left in /var/run (--in-memory), so tests can run in parallel.
#include <rte_mempool.h>

namespace shoal::test {
// Initialises the EAL once per process (idempotent). Aborts the test
// binary with a message if the EAL cannot start.
void ensure_eal();
// A packet mempool private to the calling test (name made unique).
rte_mempool *make_pktmbuf_pool(unsigned n_mbufs, uint16_t data_room = 2048 + 128);
} // namespace shoal::test
