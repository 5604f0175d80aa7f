#pragma once
// The POSIX facade over engine A of a Simulation (ManualDriver, pumping the
// simulation when a blocking call is made on the test thread); engine B is
// the peer, played by PeerApp handlers. A failing test prints the trace.
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "posix/socket.hpp"
#include "sim_fixture.hpp"

namespace shoal::posix::testing {

using namespace std::chrono_literals;
namespace ps = shoal::posix;

// The peer's application on engine B: records what arrives and how the
// connection ended; the test writes/closes through it.
class PeerApp final : public tcp::ConnectionHandler {
public:
  tcp::Connection *conn = nullptr;
  bool connected = false;
  bool peer_closed = false;
  std::optional<tcp::CloseReason> closed;
  std::string received;

  void on_connected(tcp::Connection &c) override {
    conn = &c;
    connected = true;
  }
  void on_readable(tcp::Connection &c) override {
    std::vector<uint8_t> buf(c.readable());
    c.read(buf);
    received.append(buf.begin(), buf.end());
  }
  void on_peer_closed(tcp::Connection &) override { peer_closed = true; }
  void on_closed(tcp::Connection &, tcp::CloseReason why) override {
    closed = why;
    conn = nullptr;
  }
  void send(std::string_view s) {
    ASSERT_NE(conn, nullptr);
    EXPECT_EQ(conn->write({reinterpret_cast<const uint8_t *>(s.data()), s.size()}), s.size());
  }
};

inline sockaddr_in sin_of(wire::Ipv4Addr ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = ip.to_be();
  return a;
}

class PosixSimTest : public sim::testing::SimTest {
protected:
  void SetUp() override {
    SimTest::SetUp();
    sim::SimConfig c = config();
    c.a.delayed_ack = 0ms;
    c.b.delayed_ack = 0ms;
    tune(c);
    sim::Simulation &s = make_sim(c);
    driver_ = std::make_unique<ManualDriver>(
        s.a(),
        [&s](std::optional<Instant> until) {
          const auto t = s.next_event();
          if (t && (!until || *t <= *until))
            return s.step(*t);
          if (until && *until > s.now())
            s.run_until(*until);
          return false;
        },
        [&s] { return s.now(); });
    set_default_driver(driver_.get());
  }
  void TearDown() override {
    set_default_driver(nullptr);
    driver_.reset(); // forgets every socket (closing their descriptors)
    SimTest::TearDown();
  }
  virtual void tune(sim::SimConfig &) {}

  sim::Simulation &sim() { return *sim_; }
  // B listens on `port`; each accepted connection gets a PeerApp.
  void peer_listen(uint16_t port) {
    sim().b().listen(port, [this](tcp::Connection &) {
      peers_.push_back(std::make_unique<PeerApp>());
      return peers_.back().get();
    });
  }
  PeerApp &peer(size_t k = 0) { return *peers_.at(k); }
  // Runs the simulation until pred() or `d` of virtual time has passed.
  bool run_until(const std::function<bool()> &pred, Duration d = 5s) {
    return sim().run_until(pred, sim().now() + d);
  }
  // A connected pair: the facade's fd (connect()ed to B's listener) and its PeerApp.
  int connected_socket(uint16_t port = 80) {
    peer_listen(port);
    const int fd = ps::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, 0);
    sockaddr_in to = sin_of(sim::kAddressB, port);
    EXPECT_EQ(ps::connect(fd, reinterpret_cast<sockaddr *>(&to), sizeof to), 0)
        << std::strerror(errno);
    EXPECT_TRUE(run_until([&] { return !peers_.empty() && peers_.back()->connected; }));
    return fd;
  }
  // The engine-side connection behind a facade socket.
  tcp::Connection *conn_of(int fd) {
    sockaddr_in l{}, r{};
    socklen_t ll = sizeof l, rl = sizeof r;
    if (ps::getsockname(fd, reinterpret_cast<sockaddr *>(&l), &ll) != 0 ||
        ps::getpeername(fd, reinterpret_cast<sockaddr *>(&r), &rl) != 0)
      return nullptr;
    return sim().a().find(tcp::FourTuple{wire::Ipv4Addr::from_be(l.sin_addr.s_addr),
                                         wire::Ipv4Addr::from_be(r.sin_addr.s_addr),
                                         ntohs(l.sin_port), ntohs(r.sin_port)});
  }

  std::unique_ptr<ManualDriver> driver_;
  std::vector<std::unique_ptr<PeerApp>> peers_;
};

} // namespace shoal::posix::testing
