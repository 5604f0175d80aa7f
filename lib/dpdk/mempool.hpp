#pragma once
// The packet mempool of a port (one per process for now; one per shard when
// shards own queues on several sockets).
#include <memory>
#include <string>

#include <rte_mempool.h>

#include "dpdk/config.hpp"

namespace shoal::dpdk {

struct MempoolDeleter {
  void operator()(rte_mempool *mp) const;
};
using MempoolPtr = std::unique_ptr<rte_mempool, MempoolDeleter>;

// rte_pktmbuf_pool_create with the [port] sizes; data room big enough for one
// MTU-sized frame plus headroom. nullptr and a reason in *error on failure.
MempoolPtr make_packet_pool(const std::string &name, const PortConfig &, int socket_id,
                            std::string *error);

} // namespace shoal::dpdk
