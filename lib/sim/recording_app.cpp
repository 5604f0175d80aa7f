#include "sim/recording_app.hpp"

#include <algorithm>
#include <cstdio>
#include <span>

namespace shoal::sim {

RecordingApp::RecordingApp(Clock clock, AppScript script, std::string name)
    : clock_(std::move(clock)), script_(std::move(script)), name_(std::move(name)) {}

void RecordingApp::flush(tcp::Connection &c) {
  if (to_send_.empty() || close_called_)
    return;
  const size_t n = c.write(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t *>(to_send_.data()), to_send_.size()));
  bytes_written += n;
  to_send_.erase(0, n);
}

void RecordingApp::drain(tcp::Connection &c) {
  if (close_called_)
    return;
  c.for_each_readable([this](std::span<const uint8_t> s) { received.append(s.begin(), s.end()); });
  c.consume(c.readable());
}

void RecordingApp::close() {
  if (close_called_ || conn_ == nullptr)
    return;
  drain(*conn_);
  close_called_ = true;
  conn_->close();
}

void RecordingApp::maybe_close() {
  if (script_.close_after_send && done_sending())
    close();
  else if (received.size() >= script_.close_after_receiving)
    close();
}

void RecordingApp::on_connected(tcp::Connection &c) {
  conn_ = &c;
  connected = true;
  connected_at = clock_();
  to_send_ = script_.send_on_connect;
  flush(c);
  maybe_close();
}

void RecordingApp::on_readable(tcp::Connection &c) {
  conn_ = &c;
  drain(c);
  if (!replied_ && !script_.reply_on_receive.empty() &&
      received.size() >= std::max<size_t>(script_.reply_after_bytes, 1)) {
    replied_ = true;
    to_send_ += script_.reply_on_receive;
    flush(c);
  }
  maybe_close();
}

void RecordingApp::on_writable(tcp::Connection &c) {
  conn_ = &c;
  flush(c);
  maybe_close();
}

void RecordingApp::on_peer_closed(tcp::Connection &c) {
  conn_ = &c;
  peer_closed = true;
  drain(c);
  if (script_.close_on_peer_close)
    close();
}

void RecordingApp::on_closed(tcp::Connection &, tcp::CloseReason why) {
  closed = why;
  closed_at = clock_();
  conn_ = nullptr;
}

std::string RecordingApp::summary() const {
  auto secs = [](Instant t) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(to_ns(t)) / 1e9);
    return std::string(buf);
  };
  std::string s = name_ + ":";
  s += connected ? " connected@" + secs(connected_at) : " not-connected";
  s += " tx=" + std::to_string(bytes_written) + " rx=" + std::to_string(received.size());
  if (peer_closed)
    s += " peer_closed";
  if (close_called_)
    s += " close_called";
  if (closed)
    s += std::string(" closed=") + tcp::to_string(*closed) + "@" + secs(closed_at);
  else if (conn_ != nullptr)
    s += std::string(" state=") + tcp::to_string(conn_->state());
  return s;
}

tcp::HandlerFactory RecordingServer::factory() {
  return [this](tcp::Connection &) -> tcp::ConnectionHandler * {
    return &apps_.emplace_back(clock_, script_, name_ + "#" + std::to_string(apps_.size()));
  };
}

} // namespace shoal::sim
