// shoal-httpd <config.ini> [--port N] [--docroot DIR] [--default-size N]
//
// HTTP/1.1 GET (and HEAD) on shoal, with keep-alive and pipelining:
//   /bytes/N   N bytes of the pattern body (http/body.hpp), N <= 1 GiB
//   /          docroot/index.html if there is one, else --default-size
//              pattern bytes (default 1024)
//   /path      a regular file under --docroot (no "..", no '%', nothing that
//              resolves outside the docroot); else 404
// Every response has an exact Content-Length. A malformed request gets the
// status lib/http names for it (400, 411, 414, 431, 501, 505) with
// Connection: close; the server then half-closes (FIN after the response),
// discards what the client still sends and closes once the client does, so
// the client reads the whole error response instead of a reset.
// "Connection: close" is handled the same way after the response.
//
// stdout: the "ready" line, the stats JSON line at exit. stderr: a progress
// line every [shard] status_interval_s.
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/stack.hpp"
#include "app_util.hpp"
#include "http/body.hpp"
#include "http/date.hpp"
#include "http/request_parser.hpp"
#include "http/response_writer.hpp"

namespace {

using shoal::api::CloseReason;
using shoal::api::Connection;

constexpr uint64_t kMaxBytes = uint64_t{1} << 30;
// Send-ring space kept free before parsing a request: its response head.
constexpr size_t kHeadRoom = 1024;

struct Settings {
  uint16_t port = 80;
  std::string docroot; // realpath, "" = none
  uint64_t default_size = 1024;
};
Settings g_settings;

std::atomic<uint64_t> g_accepted{0}, g_requests{0}, g_errors{0}, g_body_bytes{0};

class HttpHandler;
shoal::apps::HandlerRegistry<HttpHandler> *g_registry = nullptr;

// The file a target names under the docroot, or -1 (not found, not safe,
// not a regular file). *size gets its length.
int open_under_docroot(std::string_view target, uint64_t *size) {
  if (g_settings.docroot.empty() || target.empty() || target.front() != '/')
    return -1;
  if (auto q = target.find('?'); q != std::string_view::npos)
    target = target.substr(0, q);
  if (target.find("..") != std::string_view::npos || target.find('%') != std::string_view::npos)
    return -1;
  std::string path = g_settings.docroot + std::string(target);
  if (path.back() == '/')
    path += "index.html";
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr)
    return -1;
  const std::string r(resolved);
  if (r.rfind(g_settings.docroot + "/", 0) != 0)
    return -1; // a symlink out of the docroot
  const int fd = ::open(resolved, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return -1;
  }
  *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

class HttpHandler final : public shoal::api::ConnectionHandler {
public:
  explicit HttpHandler(unsigned shard) : shard_(shard) {}
  ~HttpHandler() override {
    if (fd_ >= 0)
      ::close(fd_);
  }

  void on_connected(Connection &c) override { serve(c); }
  void on_readable(Connection &c) override { serve(c); }
  void on_writable(Connection &c) override { serve(c); }
  void on_peer_closed(Connection &c) override {
    if (discarding_) {
      c.consume(c.readable());
      c.close();
      return;
    }
    serve(c);
  }
  void on_closed(Connection &, CloseReason) override { g_registry->remove(shard_, this); }

private:
  // Writes what is pending, then parses and answers requests while the
  // previous response is out of the way.
  void serve(Connection &c) {
    if (discarding_) {
      c.consume(c.readable());
      return;
    }
    for (;;) {
      if (!write_body(c))
        return; // send ring full: on_writable
      if (close_after_) {
        // "Connection: close" or an error: FIN after the response, then
        // read and discard until the client closes too.
        discarding_ = true;
        c.shutdown_write();
        c.consume(c.readable());
        if (c.peer_closed())
          c.close();
        return;
      }
      if (c.readable() == 0) {
        if (c.peer_closed())
          c.close(); // the client is done and so are we
        return;
      }
      if (c.writable() < kHeadRoom)
        return; // the next response head needs room: on_writable
      const std::span<const uint8_t> in = c.peek();
      const shoal::http::FeedResult r = parser_.feed(in);
      c.consume(r.consumed);
      if (r.status == shoal::http::FeedStatus::complete) {
        respond(c);
      } else if (r.status == shoal::http::FeedStatus::error) {
        g_errors.fetch_add(1, std::memory_order_relaxed);
        std::array<uint8_t, 512> buf;
        const shoal::http::HttpDate date(std::time(nullptr));
        const auto w = shoal::http::write_error_response(parser_.error(), buf, date.view());
        c.write({buf.data(), w.written});
        close_after_ = true;
      }
    }
  }

  void respond(Connection &c) {
    g_requests.fetch_add(1, std::memory_order_relaxed);
    using shoal::http::Method;
    const std::string_view target = parser_.target();
    shoal::http::ResponseHead head;
    head.keep_alive = parser_.keep_alive();
    const bool get = parser_.method() == Method::get, is_head = parser_.method() == Method::head;
    uint64_t length = 0;
    bool pattern = false;
    std::string_view type = "application/octet-stream";
    if (!get && !is_head) {
      head.status = 405;
      head.extra_fields = "Allow: GET, HEAD\r\n";
    } else if (target.rfind("/bytes/", 0) == 0) {
      uint64_t n = 0;
      if (shoal::apps::parse_u64(std::string(target.substr(7)).c_str(), 0, kMaxBytes, &n)) {
        length = n;
        pattern = true;
      } else {
        head.status = 404;
      }
    } else {
      uint64_t size = 0;
      const int fd = open_under_docroot(target, &size);
      if (fd >= 0) {
        fd_ = fd;
        length = size;
        type = shoal::http::content_type_for(target == "/" ? "index.html" : target);
      } else if (target == "/") {
        length = g_settings.default_size;
        pattern = true;
        type = "text/plain";
      } else {
        head.status = 404;
      }
    }
    head.content_length = length;
    if (head.status == 200)
      head.content_type = type;
    const shoal::http::HttpDate date(std::time(nullptr));
    head.date = date.view();
    std::array<uint8_t, 1024> buf;
    const auto w = shoal::http::write_response_head(head, buf);
    body_left_ = is_head ? 0 : length;
    body_off_ = 0;
    pattern_ = pattern;
    queue_head(c, {buf.data(), w.written});
    if (body_left_ == 0 && fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    close_after_ = !head.keep_alive;
  }

  // The head and as much of the body as the send ring's tail has room for,
  // in one commit: a small response is one write (and one segment).
  // write_body queues the rest. The ring has room for a head (kHeadRoom),
  // but perhaps not in one piece: then the head goes alone.
  void queue_head(Connection &c, std::span<const uint8_t> head) {
    const std::span<uint8_t> out =
        c.reserve(head.size() + static_cast<size_t>(std::min<uint64_t>(body_left_, 65536)));
    if (out.size() < head.size()) {
      c.write(head);
      return;
    }
    std::memcpy(out.data(), head.data(), head.size());
    const ssize_t n = fill_body(out.subspan(head.size()));
    const size_t body = n > 0 ? static_cast<size_t>(n) : 0; // a failed read: write_body ends it
    c.commit(head.size() + body);
    advance_body(body);
  }

  // The next body bytes into `out`: how many, or <= 0 if the file could not
  // be read (it shrank).
  ssize_t fill_body(std::span<uint8_t> out) {
    if (out.empty() || body_left_ == 0)
      return 0;
    if (pattern_) {
      shoal::http::fill_pattern(body_off_, out);
      return static_cast<ssize_t>(out.size());
    }
    return pread(fd_, out.data(), out.size(), static_cast<off_t>(body_off_));
  }

  void advance_body(size_t n) {
    body_off_ += n;
    body_left_ -= n;
    g_body_bytes.fetch_add(n, std::memory_order_relaxed);
  }

  // Fills the send ring with the current body; true when it is all queued.
  bool write_body(Connection &c) {
    while (body_left_ > 0) {
      const std::span<uint8_t> out =
          c.reserve(static_cast<size_t>(std::min<uint64_t>(body_left_, 65536)));
      if (out.empty())
        return false;
      const ssize_t got = fill_body(out);
      if (got <= 0) { // the file shrank: the length is promised, end the connection
        c.abort();
        return false;
      }
      const auto n = static_cast<size_t>(got);
      c.commit(n);
      advance_body(n);
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    return true;
  }

  unsigned shard_;
  shoal::http::RequestParser parser_;
  uint64_t body_left_ = 0, body_off_ = 0;
  bool pattern_ = false;
  int fd_ = -1;
  bool close_after_ = false;
  bool discarding_ = false;
};

int usage(const char *argv0) {
  std::fprintf(stderr, "usage: %s <config.ini> [--port N] [--docroot DIR] [--default-size N]\n",
               argv0);
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2 || std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0)
    return usage(argc > 0 ? argv[0] : "shoal-httpd");
  for (int i = 2; i < argc; i++) {
    const std::string a = argv[i];
    if (i + 1 >= argc)
      return usage(argv[0]);
    const char *v = argv[++i];
    uint64_t n = 0;
    if (a == "--port" && shoal::apps::parse_u64(v, 1, 65535, &n)) {
      g_settings.port = static_cast<uint16_t>(n);
    } else if (a == "--default-size" && shoal::apps::parse_u64(v, 0, kMaxBytes, &n)) {
      g_settings.default_size = n;
    } else if (a == "--docroot") {
      char resolved[PATH_MAX];
      if (realpath(v, resolved) == nullptr) {
        std::fprintf(stderr, "shoal-httpd: --docroot %s: %s\n", v, std::strerror(errno));
        return 2;
      }
      g_settings.docroot = resolved;
    } else {
      std::fprintf(stderr, "shoal-httpd: bad argument %s %s\n", a.c_str(), v);
      return usage(argv[0]);
    }
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string error;
  auto stack = shoal::api::Stack::create(argv[1], argv[0], &error);
  if (!stack) {
    std::fprintf(stderr, "shoal-httpd: %s\n", error.c_str());
    return error.rfind(argv[1], 0) == 0 ? 1 : 3;
  }
  shoal::apps::HandlerRegistry<HttpHandler> registry(stack->shard_count());
  g_registry = &registry;
  stack->listen(g_settings.port, [](Connection &) -> shoal::api::ConnectionHandler * {
    const unsigned shard = static_cast<unsigned>(shoal::api::Stack::current_shard());
    g_accepted.fetch_add(1, std::memory_order_relaxed);
    return g_registry->add(shard, new HttpHandler(shard));
  });
  stack->set_status_hook([] {
    std::fprintf(stderr, "shoal-httpd: connections %lu requests %lu errors %lu body bytes %lu\n",
                 static_cast<unsigned long>(g_accepted.load()),
                 static_cast<unsigned long>(g_requests.load()),
                 static_cast<unsigned long>(g_errors.load()),
                 static_cast<unsigned long>(g_body_bytes.load()));
  });
  shoal::api::stop_on_signals(*stack);
  std::fprintf(stderr, "shoal-httpd: %s\n", stack->summary().c_str());
  std::printf("shoal-httpd: ready port=%u %s\n", g_settings.port, stack->ready_fields().c_str());
  stack->run();
  std::printf("%s\n", stack->stats_json().c_str());
  stack.reset();
  g_registry = nullptr;
  return 0;
}
