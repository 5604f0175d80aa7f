#include "dpdk/mempool.hpp"

#include <algorithm>

#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

namespace shoal::dpdk {

void MempoolDeleter::operator()(rte_mempool *mp) const {
  rte_mempool_free(mp);
}

MempoolPtr make_packet_pool(const std::string &name, const PortConfig &port, int socket_id,
                            std::string *error) {
  // One frame (MTU + Ethernet header + room for a VLAN tag and the CRC) per
  // mbuf, never less than the default 2 KB data room.
  const uint32_t frame = uint32_t{port.mtu} + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN + 4;
  const uint32_t room = std::max<uint32_t>(RTE_MBUF_DEFAULT_DATAROOM, frame) + RTE_PKTMBUF_HEADROOM;
  rte_mempool *mp = rte_pktmbuf_pool_create(name.c_str(), port.mbufs, port.mbuf_cache, 0,
                                            static_cast<uint16_t>(room), socket_id);
  if (mp == nullptr) {
    *error = "mempool " + name + " (" + std::to_string(port.mbufs) +
             " mbufs): " + rte_strerror(rte_errno);
    return nullptr;
  }
  return MempoolPtr(mp);
}

} // namespace shoal::dpdk
