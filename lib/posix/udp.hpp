#pragma once
// shoal::posix UDP: SOCK_DGRAM sockets over the stack's UDP (shard/udp.hpp),
// with libc's return values and errno, for the POSIX facade's users and
// libshoal_preload.so.
//
//   int fd = shoal::posix::udp_socket(SOCK_NONBLOCK);
//   shoal::posix::udp_bind(fd, (sockaddr *)&sin, sizeof sin);
//   shoal::posix::udp_recvfrom(fd, buf, sizeof buf, 0, (sockaddr *)&from, &len);
//
// A socket is bound on every shard of the driver (a datagram is handled by
// the shard whose queue received it); what they receive is copied into one
// queue the application reads (at most `receive_queue_bytes`, Linux's
// default SO_RCVBUF; beyond it datagrams are dropped, as the kernel does).
// Sending goes out through the first shard. An unbound socket is bound to
// an ephemeral port by its first send or connect. A connected socket
// receives from its remote only and reports an ICMP port unreachable from
// it as ECONNREFUSED on its next call (SO_ERROR), as Linux does.
// Semantics worth knowing: MSG_PEEK, MSG_DONTWAIT and MSG_TRUNC (recv
// returns the datagram's full length) work; FIONREAD is the size of the
// next datagram; no broadcast, multicast or IP-level options; SO_RCVBUF
// sets the queue's bound.
#include <cstddef>

#include <sys/socket.h>
#include <sys/types.h>

#include "posix/driver.hpp"

namespace shoal::posix {

// `flags`: SOCK_NONBLOCK, SOCK_CLOEXEC. The default driver (set_default_driver).
int udp_socket(int flags);
int udp_socket(Driver &, int flags);
bool is_udp(int fd);

int udp_bind(int fd, const sockaddr *addr, socklen_t len);
int udp_connect(int fd, const sockaddr *addr, socklen_t len);
ssize_t udp_sendto(int fd, const void *buf, size_t n, int flags, const sockaddr *to,
                   socklen_t tolen);
ssize_t udp_sendmsg(int fd, const msghdr *msg, int flags);
ssize_t udp_recvfrom(int fd, void *buf, size_t n, int flags, sockaddr *from, socklen_t *fromlen);
ssize_t udp_recvmsg(int fd, msghdr *msg, int flags);
int udp_getsockname(int fd, sockaddr *addr, socklen_t *len);
int udp_getpeername(int fd, sockaddr *addr, socklen_t *len);
int udp_getsockopt(int fd, int level, int name, void *value, socklen_t *len);
int udp_setsockopt(int fd, int level, int name, const void *value, socklen_t len);
// FIONREAD (the next datagram's size), FIONBIO.
int udp_ioctl(int fd, unsigned long request, void *arg);
// F_GETFL / F_SETFL (O_NONBLOCK), F_GETFD / F_SETFD.
int udp_fcntl(int fd, int cmd, long arg);
// Closing is posix::close(fd), as for every facade descriptor.

} // namespace shoal::posix
