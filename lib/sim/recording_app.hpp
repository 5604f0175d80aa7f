#pragma once
// A small application for simulated conversations: it follows a script (send
// this on connect, close after that) and records what happened to its
// connection (connected, bytes received, peer closed, why it closed, and
// when), so a test can assert on the outcome and print it.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "common/time.hpp"
#include "tcp/connection.hpp"
#include "tcp/engine.hpp"

namespace shoal::sim {

struct AppScript {
  std::string send_on_connect;  // written as soon as ESTABLISHED
  std::string reply_on_receive; // written once reply_after_bytes have arrived
  size_t reply_after_bytes = 1;
  bool close_after_send = false;           // close() once everything above is written
  size_t close_after_receiving = SIZE_MAX; // close() once this many bytes have arrived
  bool close_on_peer_close = true;         // close() when the peer's FIN arrives (passive close)
};

class RecordingApp final : public tcp::ConnectionHandler {
public:
  using Clock = std::function<Instant()>;
  explicit RecordingApp(Clock clock, AppScript script = {}, std::string name = "app");

  // What happened (read by tests).
  bool connected = false;
  Instant connected_at{};
  std::string received;
  bool peer_closed = false;
  std::optional<tcp::CloseReason> closed;
  Instant closed_at{};
  size_t bytes_written = 0;

  // The live connection (nullptr before on_connected/connect and after on_closed).
  tcp::Connection *connection() const { return conn_; }
  // For active opens: the Connection* that Engine::connect returned.
  void attach(tcp::Connection *c) { conn_ = c; }
  bool close_called() const { return close_called_; }
  // Closes gracefully now (reads what is pending first).
  void close();
  // "app: connected@0.001 rx=5 peer_closed closed=normal@0.200"
  std::string summary() const;

  void on_connected(tcp::Connection &c) override;
  void on_readable(tcp::Connection &c) override;
  void on_writable(tcp::Connection &c) override;
  void on_peer_closed(tcp::Connection &c) override;
  void on_closed(tcp::Connection &c, tcp::CloseReason why) override;

private:
  void drain(tcp::Connection &c);
  void flush(tcp::Connection &c);
  // close_after_send: everything scripted has been written.
  bool done_sending() const {
    return to_send_.empty() && (script_.reply_on_receive.empty() || replied_);
  }
  void maybe_close();

  Clock clock_;
  AppScript script_;
  std::string name_;
  tcp::Connection *conn_ = nullptr;
  std::string to_send_;
  bool replied_ = false;
  bool close_called_ = false;
};

// A listener's handler factory that gives every accepted connection its own
// RecordingApp (kept here, addresses stable).
class RecordingServer {
public:
  RecordingServer(RecordingApp::Clock clock, AppScript script = {}, std::string name = "server")
      : clock_(std::move(clock)), script_(std::move(script)), name_(std::move(name)) {}
  tcp::HandlerFactory factory();
  std::deque<RecordingApp> &apps() { return apps_; }
  const std::deque<RecordingApp> &apps() const { return apps_; }

private:
  RecordingApp::Clock clock_;
  AppScript script_;
  std::string name_;
  std::deque<RecordingApp> apps_;
};

} // namespace shoal::sim
