#pragma once
// The kernel side of a TAP, configured from [host] in the calling process's
// network namespace: IPv6 off (before the link comes up, so no MLD/RS noise
// reaches the stack), an IPv4 address with its prefix, link up. Plain ioctls
// on an AF_INET socket, no external tools.
#include <string>

#include "dpdk/config.hpp"

namespace shoal::dpdk {

// false and a one-line reason in *error on failure.
bool configure_host_interface(const HostConfig &, std::string *error);

} // namespace shoal::dpdk
