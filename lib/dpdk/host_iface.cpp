#include "dpdk/host_iface.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace shoal::dpdk {

namespace {

void set_sockaddr(sockaddr &sa, uint32_t host_order) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(host_order);
  std::memcpy(&sa, &sin, sizeof sin);
}

} // namespace

bool configure_host_interface(const HostConfig &host, std::string *error) {
  const std::string &ifname = host.interface;
  auto fail = [&](const std::string &what) {
    *error = "host interface " + ifname + ": " + what + ": " + std::strerror(errno);
    return false;
  };

  if (host.disable_ipv6) {
    // Absent when the kernel has no IPv6 at all: nothing to disable then.
    const std::string knob = "/proc/sys/net/ipv6/conf/" + ifname + "/disable_ipv6";
    if (access(knob.c_str(), F_OK) == 0) {
      std::ofstream f(knob);
      if (!(f << "1\n") || !f.flush())
        return fail("cannot write " + knob);
    }
  }

  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return fail("socket");
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};

  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  set_sockaddr(ifr.ifr_addr, host.address.v);
  if (ioctl(fd, SIOCSIFADDR, &ifr) != 0)
    return fail("set address " + host.address.to_string());
  const uint32_t mask = host.prefix_length == 0 ? 0 : ~uint32_t{0} << (32 - host.prefix_length);
  set_sockaddr(ifr.ifr_netmask, mask);
  if (ioctl(fd, SIOCSIFNETMASK, &ifr) != 0)
    return fail("set prefix length " + std::to_string(host.prefix_length));
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0)
    return fail("get flags");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
    return fail("set link up");
  return true;
}

} // namespace shoal::dpdk
