#pragma once
// shoal::posix -- POSIX socket calls over shoal's TCP engines, for code that
// cannot be rewritten around callbacks (and for packetdrill, which drives a
// stack through exactly these calls).
//
//   shoal::posix::StackDriver driver(*stack);       // stack->run() on its lcores
//   shoal::posix::set_default_driver(&driver);
//   int fd = shoal::posix::socket(AF_INET, SOCK_STREAM, 0);
//   shoal::posix::connect(fd, (sockaddr *)&sin, sizeof sin);   // really sleeps
//   shoal::posix::write(fd, "hi", 2);
//
// Every call returns what its libc namesake returns and sets errno the same
// way on failure; nothing in libc is interposed (the names live only in this
// namespace). Descriptors are real kernel descriptors (an eventfd per socket
// and per epoll set), so their numbers never collide with the process's
// files and close() on them by someone else is harmless; but only these
// functions understand them: readiness is computed by poll()/epoll_wait()
// here, not by the kernel.
//
// Semantics worth knowing (Linux is the reference where POSIX is silent):
//   - SOCK_STREAM over AF_INET only. Blocking calls sleep on a condition
//     variable woken by the shard; SOCK_NONBLOCK / O_NONBLOCK / MSG_DONTWAIT
//     give EAGAIN / EINPROGRESS.
//   - write() after SHUT_WR, or on a connection that is gone, fails with
//     EPIPE (after a reset, the first failure is ECONNRESET). No SIGPIPE is
//     ever raised: every send behaves as if MSG_NOSIGNAL were given.
//   - close() sends FIN after the queued data; with SO_LINGER {1, 0} it
//     aborts (RST, no TIME_WAIT). A linger time > 0 does not block close().
//     Unread data at close() resets the connection (RFC 2525 2.17).
//   - SO_RCVBUF/SO_SNDBUF are taken and reported as given (Linux doubles
//     them); the receive buffer set before connect()/listen() sizes the
//     window scale of the SYN only if set before the SYN is sent.
//   - TCP_MAXSEG (88..32767, or 0 for none) clamps, as Linux, the MSS the
//     SYN / SYN-ACK announces and the largest segment sent, for connect()
//     and listen() after it (accepted connections inherit the listener's).
//     getsockopt reports the value set (536 when none) until there is a
//     connection, then the MSS it sends with.
//   - poll() and epoll are level-triggered, except that an EPOLLET entry
//     reports a socket again only after it changed (new data, acknowledged
//     data, a connection, an end); EPOLLONESHOT disarms after one report.
//   - shutdown(SHUT_RD) ends reading as Linux does: read() still returns the
//     data queued, and data that arrives afterwards (it is acknowledged as
//     usual), and returns 0 instead of blocking once nothing is queued.
//     Data the application leaves unread is still reset by close().
//   - MSG_WAITALL is not supported.
#include <cstddef>
#include <cstdint>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "posix/driver.hpp"

namespace shoal::posix {

// The driver socket() uses (process-wide; nullptr: socket() fails with
// ENETDOWN). Accepted sockets belong to their listener's driver.
void set_default_driver(Driver *);
Driver *default_driver();

int socket(int domain, int type, int protocol);
int socket(Driver &, int domain, int type, int protocol);
int bind(int fd, const sockaddr *addr, socklen_t len);
int listen(int fd, int backlog);
int accept(int fd, sockaddr *addr, socklen_t *len);
int accept4(int fd, sockaddr *addr, socklen_t *len, int flags);
int connect(int fd, const sockaddr *addr, socklen_t len);
int getsockname(int fd, sockaddr *addr, socklen_t *len);
int getpeername(int fd, sockaddr *addr, socklen_t *len);

ssize_t read(int fd, void *buf, size_t n);
ssize_t recv(int fd, void *buf, size_t n, int flags); // MSG_PEEK, MSG_DONTWAIT
ssize_t readv(int fd, const iovec *iov, int iovcnt);
ssize_t recvmsg(int fd, msghdr *msg, int flags);
ssize_t write(int fd, const void *buf, size_t n);
ssize_t send(int fd, const void *buf, size_t n, int flags); // MSG_DONTWAIT, MSG_NOSIGNAL
ssize_t writev(int fd, const iovec *iov, int iovcnt);
ssize_t sendmsg(int fd, const msghdr *msg, int flags);

int shutdown(int fd, int how);
int close(int fd);

// F_GETFL / F_SETFL (O_NONBLOCK), F_GETFD / F_SETFD (on the kernel descriptor).
int fcntl(int fd, int cmd, long arg = 0);
// FIONREAD / SIOCINQ (bytes readable), SIOCOUTQ (bytes not yet acknowledged),
// FIONBIO; `arg` points to an int.
int ioctl(int fd, unsigned long request, void *arg);

int getsockopt(int fd, int level, int name, void *value, socklen_t *len);
int setsockopt(int fd, int level, int name, const void *value, socklen_t len);

// timeout in milliseconds on the driver's clock (-1: none).
int poll(pollfd *fds, nfds_t n, int timeout_ms);
int epoll_create1(int flags);
int epoll_ctl(int epfd, int op, int fd, epoll_event *event);
int epoll_wait(int epfd, epoll_event *events, int maxevents, int timeout_ms);

// Whether `fd` is one of the facade's sockets (or epoll sets).
bool is_socket(int fd);
bool is_epoll(int fd);

} // namespace shoal::posix
