#include "sim/bulk_app.hpp"
#include "tcp/inspect.hpp"

#include <algorithm>
#include <cstdio>
#include <span>

namespace shoal::sim {

const char *to_string(BulkScript::Ending e) {
  switch (e) {
  case BulkScript::Ending::half_close:
    return "half_close";
  case BulkScript::Ending::close_when_done:
    return "close_when_done";
  case BulkScript::Ending::stay_open:
    return "stay_open";
  }
  return "?";
}

BulkApp::BulkApp(Simulation &sim, BulkScript script, std::string name)
    : sim_(sim), script_(std::move(script)), name_(std::move(name)), rng_(script_.chunk_seed),
      self_(std::make_shared<BulkApp *>(this)) {}

BulkApp::~BulkApp() {
  *self_ = nullptr;
}

size_t BulkApp::next_chunk(size_t max) {
  if (script_.chunk_seed == 0 || max == SIZE_MAX || max <= 1)
    return max;
  return 1 + static_cast<size_t>(rng_() % max);
}

void BulkApp::write_some() {
  if (conn_ == nullptr || shutdown_called_ || close_called_)
    return;
  if (script_.send_after_end_of_stream && !eof_)
    return;
  while (sent_ < script_.send_bytes) {
    const uint64_t left = script_.send_bytes - sent_;
    const std::span<uint8_t> room = conn_->reserve(
        static_cast<size_t>(std::min<uint64_t>(next_chunk(script_.write_chunk), left)));
    if (room.empty())
      break; // send buffer full: on_writable resumes
    script_.send_pattern.fill(sent_, room);
    conn_->commit(room.size());
    sent_ += room.size();
  }
  if (sent_ == script_.send_bytes && sent_all_at_ == Instant{}) {
    sent_all_at_ = sim_.now();
    maybe_close();
  }
}

void BulkApp::read_some(size_t limit) {
  if (conn_ == nullptr || close_called_)
    return;
  const size_t n = std::min(conn_->readable(), limit);
  if (n == 0)
    return;
  // Check each span at its stream offset; bytes past the expected end are
  // counted, not compared.
  size_t left = n;
  uint64_t offset = received_;
  conn_->for_each_readable([&](std::span<const uint8_t> span) {
    if (left == 0)
      return;
    span = span.first(std::min(span.size(), left));
    left -= span.size();
    uint64_t in_stream = 0;
    if (offset < script_.expect_bytes)
      in_stream = std::min<uint64_t>(span.size(), script_.expect_bytes - offset);
    excess_ += span.size() - in_stream;
    if (!mismatch_at_ && in_stream > 0)
      if (auto bad = script_.expect_pattern.mismatch(offset, span.first(in_stream)))
        mismatch_at_ = offset + *bad;
    offset += span.size();
  });
  received_ += n;
  ++reads_;
  conn_->consume(n);
}

void BulkApp::check_end_of_stream() {
  if (eof_ || conn_ == nullptr || !conn_->peer_closed() || conn_->readable() != 0)
    return;
  eof_ = true;
  eof_at_ = sim_.now();
  if (script_.send_after_end_of_stream)
    write_some(); // our turn
  maybe_close();
}

void BulkApp::maybe_close() {
  if (conn_ == nullptr || !sent_all())
    return;
  switch (script_.ending) {
  case BulkScript::Ending::half_close:
    shutdown_write();
    if (eof_)
      close();
    break;
  case BulkScript::Ending::close_when_done:
    if (eof_)
      close();
    break;
  case BulkScript::Ending::stay_open:
    break;
  }
}

void BulkApp::schedule_read() {
  if (read_scheduled_ || script_.read_interval <= Duration{0})
    return;
  read_scheduled_ = true;
  sim_.after(script_.read_interval, [self = self_] {
    BulkApp *app = *self;
    if (app == nullptr)
      return;
    app->read_scheduled_ = false;
    if (app->conn_ == nullptr || app->close_called_ || app->eof_)
      return; // nothing more to read: the reader stops ticking
    app->read_some(app->next_chunk(app->script_.read_chunk));
    app->check_end_of_stream();
    if (app->conn_ != nullptr && !app->eof_ && !app->close_called_)
      app->schedule_read();
  });
}

void BulkApp::abort() {
  if (conn_ != nullptr)
    conn_->abort();
}

void BulkApp::close() {
  if (conn_ == nullptr || close_called_)
    return;
  close_called_ = true;
  conn_->close();
}

void BulkApp::shutdown_write() {
  if (conn_ == nullptr || shutdown_called_ || close_called_)
    return;
  shutdown_called_ = true;
  conn_->shutdown_write();
}

void BulkApp::on_connected(tcp::Connection &c) {
  conn_ = &c;
  connected_ = true;
  connected_at_ = sim_.now();
  c.set_nodelay(script_.nodelay);
  write_some();
  if (script_.read_interval > Duration{0})
    schedule_read();
}

void BulkApp::on_readable(tcp::Connection &c) {
  conn_ = &c;
  if (script_.read_interval > Duration{0})
    return; // the slow reader reads on its own schedule
  while (conn_ != nullptr && !close_called_ && conn_->readable() > 0)
    read_some(next_chunk(script_.read_chunk));
  check_end_of_stream();
}

void BulkApp::on_writable(tcp::Connection &c) {
  conn_ = &c;
  write_some();
}

void BulkApp::on_peer_closed(tcp::Connection &c) {
  conn_ = &c;
  if (script_.read_interval <= Duration{0})
    while (conn_ != nullptr && !close_called_ && conn_->readable() > 0)
      read_some(next_chunk(script_.read_chunk));
  check_end_of_stream();
}

void BulkApp::on_closed(tcp::Connection &, tcp::CloseReason why) {
  closed_ = why;
  closed_at_ = sim_.now();
  conn_ = nullptr;
}

std::string BulkApp::summary() const {
  auto secs = [](Instant t) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(to_ns(t)) / 1e9);
    return std::string(buf);
  };
  std::string s = name_ + ":";
  s += connected_ ? " connected@" + secs(connected_at_) : " not-connected";
  s += " tx=" + std::to_string(sent_) + "/" + std::to_string(script_.send_bytes);
  if (sent_all())
    s += "@" + secs(sent_all_at_);
  s += " rx=" + std::to_string(received_) + "/" + std::to_string(script_.expect_bytes);
  if (mismatch_at_)
    s += " MISMATCH@" + std::to_string(*mismatch_at_);
  if (excess_ != 0)
    s += " EXCESS=" + std::to_string(excess_);
  if (eof_)
    s += " eof@" + secs(eof_at_);
  s += std::string(" ending=") + to_string(script_.ending);
  if (shutdown_called_)
    s += " shutdown_called";
  if (close_called_)
    s += " close_called";
  if (closed_)
    s += std::string(" closed=") + tcp::to_string(*closed_) + "@" + secs(closed_at_);
  else if (conn_ != nullptr)
    s += std::string(" state=") + tcp::to_string(conn_->state()) +
         " readable=" + std::to_string(conn_->readable()) +
         " send_queued=" + std::to_string(conn_->send_queued()) +
         " snd_wnd=" + std::to_string(conn_->inspect().snd_wnd()) +
         " rcv_wnd=" + std::to_string(conn_->inspect().rcv_wnd());
  return s;
}

tcp::HandlerFactory BulkServer::factory() {
  return [this](tcp::Connection &) -> tcp::ConnectionHandler * {
    return &apps_.emplace_back(sim_, script_, name_ + "#" + std::to_string(apps_.size()));
  };
}

} // namespace shoal::sim
