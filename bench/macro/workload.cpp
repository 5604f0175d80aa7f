// Transport-independent workload logic: see workload.hpp.
#include "workload.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>

namespace shoal::bench {

namespace {

constexpr Instant kNever = Instant::max();

double seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

// kBulkChunk bytes of pattern plus one period, so a span of up to
// kBulkChunk bytes starting at any pattern offset is a slice of it.
const std::array<uint8_t, kBulkChunk + 26> &pattern_buffer() {
  static const auto buf = [] {
    std::array<uint8_t, kBulkChunk + 26> b{};
    fill_pattern(b, 0);
    return b;
  }();
  return buf;
}

std::span<const uint8_t> pattern_span(uint64_t offset, uint64_t len) {
  const auto &buf = pattern_buffer();
  const size_t n = static_cast<size_t>(std::min<uint64_t>(len, kBulkChunk));
  return {buf.data() + offset % 26, n};
}

// "64.0us", "2.50ms", "1.20s": latencies for humans in the live line.
std::string human_ns(uint64_t ns) {
  char buf[32];
  if (ns < 1'000)
    std::snprintf(buf, sizeof buf, "%lluns", static_cast<unsigned long long>(ns));
  else if (ns < 1'000'000)
    std::snprintf(buf, sizeof buf, "%.1fus", double(ns) / 1e3);
  else if (ns < 1'000'000'000)
    std::snprintf(buf, sizeof buf, "%.2fms", double(ns) / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.2fs", double(ns) / 1e9);
  return buf;
}

void append(std::string &s, const char *fmt, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, args...);
  s += buf;
}

unsigned long long ull(uint64_t v) {
  return v;
}

std::string errors_json(const std::array<uint64_t, kErrorKinds> &errors, uint64_t total) {
  std::string s;
  append(s, "{\"total\":%llu", ull(total));
  for (size_t k = 0; k < kErrorKinds; ++k)
    append(s, ",\"%s\":%llu", to_string(static_cast<ErrorKind>(k)), ull(errors[k]));
  s += "}";
  return s;
}

// "errors 3 (reset 2, bad_response 1)" or "errors 0".
std::string errors_text(const std::array<uint64_t, kErrorKinds> &errors, uint64_t total) {
  std::string s;
  append(s, "errors %llu", ull(total));
  if (total == 0)
    return s;
  const char *sep = " (";
  for (size_t k = 0; k < kErrorKinds; ++k) {
    if (errors[k] == 0)
      continue;
    append(s, "%s%s %llu", sep, to_string(static_cast<ErrorKind>(k)), ull(errors[k]));
    sep = ", ";
  }
  s += ")";
  return s;
}

uint64_t sum(const std::array<uint64_t, kErrorKinds> &errors) {
  uint64_t t = 0;
  for (uint64_t e : errors)
    t += e;
  return t;
}

} // namespace

// ---- names ----

const char *to_string(Workload w) {
  switch (w) {
  case Workload::churn:
    return "churn";
  case Workload::rr:
    return "rr";
  case Workload::bulk:
    return "bulk";
  }
  return "?";
}

const char *to_string(Closer c) {
  return c == Closer::client ? "client" : "server";
}

const char *to_string(BulkDirection d) {
  return d == BulkDirection::download ? "download" : "upload";
}

const char *to_string(ServerMode m) {
  switch (m) {
  case ServerMode::echo:
    return "echo";
  case ServerMode::sink:
    return "sink";
  case ServerMode::source:
    return "source";
  }
  return "?";
}

const char *to_string(Next n) {
  switch (n) {
  case Next::send:
    return "send";
  case Next::receive:
    return "receive";
  case Next::await_close:
    return "await_close";
  case Next::close:
    return "close";
  case Next::fail:
    return "fail";
  }
  return "?";
}

const char *to_string(ErrorKind k) {
  switch (k) {
#define SHOAL_BENCH_ERROR_NAME(name, doc)                                                          \
  case ErrorKind::name:                                                                            \
    return #name;
    SHOAL_BENCH_ERRORS(SHOAL_BENCH_ERROR_NAME)
#undef SHOAL_BENCH_ERROR_NAME
  }
  return "?";
}

bool parse_workload(const std::string &s, Workload *out) {
  for (Workload w : {Workload::churn, Workload::rr, Workload::bulk})
    if (s == to_string(w)) {
      *out = w;
      return true;
    }
  return false;
}

bool parse_closer(const std::string &s, Closer *out) {
  for (Closer c : {Closer::client, Closer::server})
    if (s == to_string(c)) {
      *out = c;
      return true;
    }
  return false;
}

bool parse_bulk_direction(const std::string &s, BulkDirection *out) {
  for (BulkDirection d : {BulkDirection::download, BulkDirection::upload})
    if (s == to_string(d)) {
      *out = d;
      return true;
    }
  return false;
}

namespace {
bool parse_number(const char *v, uint64_t lo, uint64_t hi, uint64_t *out) {
  char *end = nullptr;
  errno = 0;
  const unsigned long long n = std::strtoull(v, &end, 10);
  if (errno != 0 || *end != '\0' || *v == '\0' || n < lo || n > hi)
    return false;
  *out = n;
  return true;
}
} // namespace

FlagParse parse_workload_flag(const std::string &f, const char *v, WorkloadFlags *o,
                              bool *took_value, std::string *error) {
  *took_value = false;
  auto bad = [&](const std::string &msg) {
    *error = msg;
    return FlagParse::bad_value;
  };
  if (f == "--close-first") {
    o->close_first = true;
    return FlagParse::ok;
  }
  if (f == "--quiet") {
    o->quiet = true;
    return FlagParse::ok;
  }
  static const char *const kWithValue[] = {
      "--duration", "--count",  "--concurrency", "--request", "--response",
      "--workload", "--closer", "--direction",   "--json",    "--label"};
  if (std::find(std::begin(kWithValue), std::end(kWithValue), f) == std::end(kWithValue))
    return FlagParse::not_a_workload_flag;
  if (v == nullptr)
    return bad(f + " needs a value");
  *took_value = true;
  uint64_t n = 0;
  if (f == "--duration") {
    char *end = nullptr;
    o->duration_s = std::strtod(v, &end);
    if (*end != '\0' || !(o->duration_s >= 0))
      return bad("bad value for --duration");
  } else if (f == "--count") {
    if (!parse_number(v, 0, UINT64_MAX, &o->count))
      return bad(std::string("bad value for --count: ") + v);
  } else if (f == "--concurrency" || f == "--request" || f == "--response") {
    const uint64_t lo = f == "--concurrency" ? 1 : 0;
    const uint64_t hi = f == "--concurrency" ? 1'000'000 : (1 << 24);
    if (!parse_number(v, lo, hi, &n))
      return bad("bad value for " + f + ": " + v);
    (f == "--concurrency" ? o->concurrency
     : f == "--request"   ? o->request
                          : o->response) = uint32_t(n);
  } else if (f == "--workload") {
    if (!parse_workload(v, &o->workload))
      return bad("--workload must be churn, rr or bulk");
  } else if (f == "--closer") {
    if (!parse_closer(v, &o->closer))
      return bad("--closer must be client or server");
  } else if (f == "--direction") {
    if (!parse_bulk_direction(v, &o->direction))
      return bad("--direction must be download or upload");
  } else if (f == "--json") {
    o->json_path = v;
  } else {
    o->label = v;
  }
  return FlagParse::ok;
}

ClientConfig client_config(const WorkloadFlags &w, std::string *error) {
  error->clear();
  ClientConfig c;
  c.workload = w.workload;
  c.closer = w.closer;
  c.bulk_direction = w.direction;
  c.concurrency = w.concurrency;
  c.request_size = w.request;
  c.response_size = w.response;
  c.duration = Duration(int64_t(w.duration_s * 1e9));
  c.count = w.count;
  c.label = w.label;
  if (w.quiet)
    c.report_interval = Duration::zero();
  if (c.duration == Duration::zero() && c.count == 0)
    *error = "needs --duration and/or --count";
  return c;
}

bool parse_server_mode(const std::string &s, ServerMode *out) {
  for (ServerMode m : {ServerMode::echo, ServerMode::sink, ServerMode::source})
    if (s == to_string(m)) {
      *out = m;
      return true;
    }
  return false;
}

void fill_pattern(std::span<uint8_t> out, uint64_t offset) {
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = pattern_byte(offset + i);
}

bool matches_pattern(std::span<const uint8_t> bytes, uint64_t offset) {
  for (size_t i = 0; i < bytes.size(); ++i)
    if (bytes[i] != pattern_byte(offset + i))
      return false;
  return true;
}

uint64_t ClientCounts::error_total() const {
  return sum(errors);
}
uint64_t ServerCounts::error_total() const {
  return sum(errors);
}

// ---- ClientRun ----

ClientRun::ClientRun(const ClientConfig &cfg) : cfg_(cfg) {
  if (cfg_.concurrency == 0)
    cfg_.concurrency = 1;
}

void ClientRun::begin(Instant now) {
  begin_ = now;
  interval_begin_ = now;
  deadline_ = cfg_.duration > Duration::zero() ? now + cfg_.duration : kNever;
}

bool ClientRun::want_connection(Instant now) const {
  if (ended_ || now >= deadline_ || in_flight_ >= cfg_.concurrency)
    return false;
  if (cfg_.count == 0)
    return true;
  switch (cfg_.workload) {
  case Workload::churn:
    return total_.started < cfg_.count;
  case Workload::rr:
    return claimed_ < cfg_.count;
  case Workload::bulk:
    return total_.bytes < cfg_.count;
  }
  return false;
}

bool ClientRun::over(Instant now) const {
  if (ended_ || now >= deadline_)
    return true;
  if (cfg_.count == 0)
    return false;
  switch (cfg_.workload) {
  case Workload::churn:
    return total_.started >= cfg_.count && in_flight_ == 0;
  case Workload::rr:
    return claimed_ >= cfg_.count && in_flight_ == 0;
  case Workload::bulk:
    return total_.bytes >= cfg_.count;
  }
  return true;
}

void ClientRun::end(Instant now) {
  if (ended_)
    return;
  ended_ = true;
  end_ = now;
}

Instant ClientRun::next_wakeup(Instant now) const {
  Instant t = deadline_;
  if (cfg_.report_interval > Duration::zero())
    t = std::min(t, interval_begin_ + cfg_.report_interval);
  return std::max(t, now);
}

double ClientRun::elapsed_s() const {
  return ended_ ? seconds(end_ - begin_) : 0.0;
}

double ClientRun::rate() const {
  const double s = elapsed_s();
  if (s <= 0)
    return 0;
  switch (cfg_.workload) {
  case Workload::churn:
    return double(total_.completed) / s;
  case Workload::rr:
    return double(total_.transactions) / s;
  case Workload::bulk:
    return double(total_.bytes) / s / (1024.0 * 1024.0);
  }
  return 0;
}

const char *ClientRun::rate_unit() const {
  switch (cfg_.workload) {
  case Workload::churn:
    return "conn/s";
  case Workload::rr:
    return "req/s";
  case Workload::bulk:
    return "MiB/s";
  }
  return "?";
}

std::string ClientRun::live_line(Instant now) const {
  const double s = std::max(seconds(now - interval_begin_), 1e-9);
  std::string line;
  append(line, "[%s %s", cfg_.label.c_str(), to_string(cfg_.workload));
  if (cfg_.workload == Workload::churn)
    append(line, " close=%s", to_string(cfg_.closer));
  append(line, " c=%u] t=%.1fs ", cfg_.concurrency, seconds(now - begin_));
  switch (cfg_.workload) {
  case Workload::churn:
    append(line, "%.0f conn/s", double(interval_.completed) / s);
    break;
  case Workload::rr:
    append(line, "%.0f req/s", double(interval_.transactions) / s);
    break;
  case Workload::bulk:
    append(line, "%.1f MiB/s", double(interval_.bytes) / s / (1024.0 * 1024.0));
    break;
  }
  line += "  " + errors_text(interval_.errors, interval_.error_total());
  if (interval_hist_.count())
    line += "  p50 " + human_ns(interval_hist_.percentile(50)) + " p99 " +
            human_ns(interval_hist_.percentile(99));
  append(line, "  in-flight %llu", ull(in_flight_));
  return line;
}

bool ClientRun::tick(Instant now, FILE *out) {
  if (cfg_.report_interval <= Duration::zero() || now - interval_begin_ < cfg_.report_interval)
    return false;
  if (out) {
    std::fprintf(out, "%s\n", live_line(now).c_str());
    std::fflush(out);
  }
  interval_ = ClientCounts{};
  interval_hist_.reset();
  interval_begin_ = now;
  return true;
}

std::string ClientRun::to_json() const {
  std::string s;
  append(s, "{\"role\":\"client\",\"label\":\"%s\",\"workload\":\"%s\"", cfg_.label.c_str(),
         to_string(cfg_.workload));
  if (cfg_.workload == Workload::churn)
    append(s, ",\"closer\":\"%s\"", to_string(cfg_.closer));
  if (cfg_.workload == Workload::bulk)
    append(s, ",\"direction\":\"%s\"", to_string(cfg_.bulk_direction));
  append(s, ",\"concurrency\":%u,\"request_size\":%u,\"response_size\":%u", cfg_.concurrency,
         cfg_.request_size, cfg_.response_size);
  append(s, ",\"elapsed_s\":%.6f,\"rate\":%.3f,\"rate_unit\":\"%s\"", elapsed_s(), rate(),
         rate_unit());
  const double el = std::max(elapsed_s(), 1e-9);
  append(s, ",\"connections_per_s\":%.3f,\"requests_per_s\":%.3f,\"mib_per_s\":%.3f",
         double(total_.completed) / el, double(total_.transactions) / el,
         double(total_.bytes) / el / (1024.0 * 1024.0));
  append(s, ",\"started\":%llu,\"connected\":%llu,\"completed\":%llu", ull(total_.started),
         ull(total_.connected), ull(total_.completed));
  append(s, ",\"transactions\":%llu,\"bytes\":%llu,\"in_flight_at_end\":%llu",
         ull(total_.transactions), ull(total_.bytes), ull(in_flight_at_end_));
  s += ",\"errors\":" + errors_json(total_.errors, total_.error_total());
  s += ",\"connect_latency_ns\":" + connect_hist_.to_json();
  s += ",\"transaction_latency_ns\":" + txn_hist_.to_json();
  s += "}";
  return s;
}

void ClientRun::merge(const ClientRun &o) {
  total_.started += o.total_.started;
  total_.connected += o.total_.connected;
  total_.completed += o.total_.completed;
  total_.transactions += o.total_.transactions;
  total_.bytes += o.total_.bytes;
  for (size_t k = 0; k < kErrorKinds; ++k)
    total_.errors[k] += o.total_.errors[k];
  in_flight_at_end_ += o.in_flight_at_end_;
  connect_hist_.merge(o.connect_hist_);
  txn_hist_.merge(o.txn_hist_);
}

void ClientRun::on_started(Instant) {
  ++total_.started;
  ++interval_.started;
  ++in_flight_;
}

void ClientRun::on_connected(Duration d) {
  ++total_.connected;
  ++interval_.connected;
  connect_hist_.record(d);
}

void ClientRun::on_transaction(Duration d) {
  ++total_.transactions;
  ++interval_.transactions;
  txn_hist_.record(d);
  interval_hist_.record(d);
}

void ClientRun::on_bytes(uint64_t n) {
  total_.bytes += n;
  interval_.bytes += n;
}

void ClientRun::on_error(ErrorKind k) {
  ++total_.errors[size_t(k)];
  ++interval_.errors[size_t(k)];
}

void ClientRun::on_finished(bool clean) {
  if (in_flight_ > 0)
    --in_flight_;
  if (clean) {
    ++total_.completed;
    ++interval_.completed;
  }
}

void ClientRun::on_abandoned() {
  if (in_flight_ > 0)
    --in_flight_;
  ++in_flight_at_end_;
}

bool ClientRun::claim_transaction() {
  if (cfg_.count != 0 && claimed_ >= cfg_.count)
    return false;
  ++claimed_;
  return true;
}

// ---- ClientSession ----

void ClientSession::start(Instant now) {
  started_ = now;
  run_->on_started(now);
}

Next ClientSession::connected(Instant now) {
  established_ = true;
  run_->on_connected(now - started_);
  const ClientConfig &cfg = run_->config();
  if (cfg.workload == Workload::bulk)
    return cfg.bulk_direction == BulkDirection::download ? Next::receive : Next::send;
  return begin_request(now);
}

Next ClientSession::begin_request(Instant now) {
  // churn: one transaction per connection, counted against `count` by
  // want_connection(); rr: each transaction claims one.
  if (run_->config().workload == Workload::rr && !run_->claim_transaction())
    return Next::close;
  request_started_ = now;
  request_sent_ = 0;
  response_got_ = 0;
  awaiting_response_ = false;
  if (run_->config().request_size == 0) {
    awaiting_response_ = true;
    return run_->config().response_size == 0 ? after_response(now) : Next::receive;
  }
  return Next::send;
}

std::span<const uint8_t> ClientSession::pending_send() const {
  const ClientConfig &cfg = run_->config();
  if (cfg.workload == Workload::bulk)
    return cfg.bulk_direction == BulkDirection::upload ? pattern_span(request_sent_, kBulkChunk)
                                                       : std::span<const uint8_t>{};
  if (!established_ || awaiting_response_ || awaiting_close_)
    return {};
  return pattern_span(request_sent_, cfg.request_size - request_sent_);
}

Next ClientSession::sent(size_t n, Instant now) {
  const ClientConfig &cfg = run_->config();
  if (cfg.workload == Workload::bulk) {
    run_->on_bytes(n);
    request_sent_ = static_cast<uint32_t>((request_sent_ + n) % 26);
    return Next::send;
  }
  request_sent_ += static_cast<uint32_t>(n);
  if (request_sent_ < cfg.request_size)
    return Next::send;
  awaiting_response_ = true;
  return cfg.response_size == 0 ? after_response(now) : Next::receive;
}

Next ClientSession::received(std::span<const uint8_t> bytes, Instant now) {
  const ClientConfig &cfg = run_->config();
  if (bytes.empty())
    return awaiting_close_ ? Next::await_close : Next::receive;
  if (cfg.workload == Workload::bulk) {
    if (cfg.bulk_direction == BulkDirection::upload)
      return failed(ErrorKind::bad_response, now);
    run_->on_bytes(bytes.size());
    return Next::receive;
  }
  if (!awaiting_response_)
    return failed(ErrorKind::bad_response, now); // nothing was asked
  const size_t take = std::min<size_t>(bytes.size(), cfg.response_size - response_got_);
  if (!matches_pattern(bytes.first(take), response_got_) || take < bytes.size())
    return failed(ErrorKind::bad_response, now);
  response_got_ += static_cast<uint32_t>(take);
  if (response_got_ < cfg.response_size)
    return Next::receive;
  return after_response(now);
}

Next ClientSession::after_response(Instant now) {
  const ClientConfig &cfg = run_->config();
  awaiting_response_ = false;
  // churn: the whole transaction, connect included; rr: one request.
  run_->on_transaction(now - (cfg.workload == Workload::churn ? started_ : request_started_));
  if (cfg.workload == Workload::rr)
    return begin_request(now);
  if (cfg.closer == Closer::client)
    return Next::close;
  awaiting_close_ = true;
  return Next::await_close;
}

Next ClientSession::peer_closed(Instant now) {
  if (awaiting_close_)
    return Next::close;
  if (awaiting_response_ && run_->config().workload == Workload::churn)
    return failed(ErrorKind::short_response, now);
  return failed(ErrorKind::unexpected_close, now);
}

Next ClientSession::failed(ErrorKind kind, Instant) {
  if (!failed_ && !finished_) {
    failed_ = true;
    run_->on_error(kind);
  }
  return Next::fail;
}

void ClientSession::finish(Instant) {
  if (finished_)
    return;
  finished_ = true;
  run_->on_finished(!failed_);
}

void ClientSession::abandon() {
  if (finished_)
    return;
  finished_ = true;
  run_->on_abandoned();
}

// ---- ServerRun ----

void ServerRun::begin(Instant now) {
  begin_ = now;
  interval_begin_ = now;
}

void ServerRun::end(Instant now) {
  end_ = now;
}

std::string ServerRun::live_line(Instant now) const {
  const double s = std::max(seconds(now - interval_begin_), 1e-9);
  std::string line;
  append(line, "[%s server %s] t=%.1fs accepted %.0f/s requests %.0f/s in %.1f MiB/s ",
         cfg_.label.c_str(), to_string(cfg_.mode), seconds(now - begin_),
         double(interval_.accepted) / s, double(interval_.requests) / s,
         double(interval_.bytes_in) / s / (1024.0 * 1024.0));
  append(line, "out %.1f MiB/s open %llu  ", double(interval_.bytes_out) / s / (1024.0 * 1024.0),
         ull(open_connections()));
  line += errors_text(interval_.errors, interval_.error_total());
  return line;
}

bool ServerRun::tick(Instant now, FILE *out) {
  if (cfg_.report_interval <= Duration::zero() || now - interval_begin_ < cfg_.report_interval)
    return false;
  if (out) {
    std::fprintf(out, "%s\n", live_line(now).c_str());
    std::fflush(out);
  }
  interval_ = ServerCounts{};
  interval_begin_ = now;
  return true;
}

std::string ServerRun::to_json() const {
  std::string s;
  const double el = seconds(end_ - begin_);
  append(s, "{\"role\":\"server\",\"label\":\"%s\",\"mode\":\"%s\",\"close_first\":%s",
         cfg_.label.c_str(), to_string(cfg_.mode), cfg_.close_first ? "true" : "false");
  append(s, ",\"request_size\":%u,\"response_size\":%u,\"elapsed_s\":%.6f", cfg_.request_size,
         cfg_.response_size, el);
  append(s, ",\"accepted\":%llu,\"closed\":%llu,\"requests\":%llu", ull(total_.accepted),
         ull(total_.closed), ull(total_.requests));
  append(s, ",\"bytes_in\":%llu,\"bytes_out\":%llu", ull(total_.bytes_in), ull(total_.bytes_out));
  s += ",\"errors\":" + errors_json(total_.errors, total_.error_total());
  s += "}";
  return s;
}

// ---- ServerSession ----

Next ServerSession::accepted(Instant) {
  ++run_->total_.accepted;
  ++run_->interval_.accepted;
  return run_->cfg_.mode == ServerMode::source ? Next::send : Next::receive;
}

std::span<const uint8_t> ServerSession::pending_send() const {
  const ServerConfig &cfg = run_->cfg_;
  if (cfg.mode == ServerMode::source)
    return pattern_span(source_offset_, kBulkChunk);
  if (cfg.mode == ServerMode::echo && responding_)
    return pattern_span(response_sent_, cfg.response_size - response_sent_);
  return {};
}

Next ServerSession::sent(size_t n, Instant now) {
  ServerRun &run = *run_;
  run.total_.bytes_out += n;
  run.interval_.bytes_out += n;
  if (run.cfg_.mode == ServerMode::source) {
    source_offset_ += n;
    return Next::send;
  }
  if (run.cfg_.mode != ServerMode::echo || !responding_)
    return failed(ErrorKind::io_error, now);
  response_sent_ += static_cast<uint32_t>(n);
  if (response_sent_ < run.cfg_.response_size)
    return Next::send;
  responding_ = false;
  request_got_ = 0;
  response_sent_ = 0;
  ++run.total_.requests;
  ++run.interval_.requests;
  return run.cfg_.close_first ? Next::close : Next::receive;
}

Next ServerSession::received(std::span<const uint8_t> bytes, Instant now) {
  ServerRun &run = *run_;
  run.total_.bytes_in += bytes.size();
  run.interval_.bytes_in += bytes.size();
  switch (run.cfg_.mode) {
  case ServerMode::sink:
    return Next::receive;
  case ServerMode::source:
    return Next::send; // a downloading client has nothing to say; ignore it
  case ServerMode::echo:
    break;
  }
  if (bytes.empty())
    return responding_ ? Next::send : Next::receive;
  // The client never pipelines: bytes while we still answer are a protocol error.
  if (responding_)
    return failed(ErrorKind::bad_request, now);
  const size_t take = std::min<size_t>(bytes.size(), run.cfg_.request_size - request_got_);
  if (!matches_pattern(bytes.first(take), request_got_) || take < bytes.size())
    return failed(ErrorKind::bad_request, now);
  request_got_ += static_cast<uint32_t>(take);
  if (request_got_ < run.cfg_.request_size)
    return Next::receive;
  responding_ = true;
  response_sent_ = 0;
  if (run.cfg_.response_size == 0)
    return sent(0, now);
  return Next::send;
}

Next ServerSession::peer_closed(Instant) {
  return Next::close;
}

Next ServerSession::failed(ErrorKind kind, Instant) {
  ++run_->total_.errors[size_t(kind)];
  ++run_->interval_.errors[size_t(kind)];
  return Next::fail;
}

void ServerSession::finish(Instant) {
  if (finished_)
    return;
  finished_ = true;
  ++run_->total_.closed;
  ++run_->interval_.closed;
}

} // namespace shoal::bench
