// shoal-httpd <config.ini> [--port N] [--docroot DIR] [--default-size N]
//             [--io-delay-ms N]
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
// Files are opened and read by an I/O thread, never on a shard's lcore: a
// request for a file waits (the connection's later requests wait behind
// it) while the thread opens it and reads its first 64 KiB; the response
// head and that data then leave in one write, and the rest is read 256 KiB
// at a time as the send ring drains. The completions come back to the
// connection's shard through Stack::post. --io-delay-ms holds every file
// operation that long in the I/O thread (for tests: a slow disk).
//
// stdout: the "ready" line, the stats JSON line at exit. stderr: a progress
// line every [shard] status_interval_s.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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
// File data read with the open (it leaves with the response head), and
// per later read.
constexpr size_t kFirstRead = 65536, kNextRead = 262144;
// Send-ring space kept free before parsing a request: its response head.
constexpr size_t kHeadRoom = 1024;

struct Settings {
  uint16_t port = 80;
  std::string docroot; // realpath, "" = none
  uint64_t default_size = 1024;
  unsigned io_delay_ms = 0;
};
Settings g_settings;

// An open file, closed when the last of the handler and its reads lets go.
struct OpenFile {
  explicit OpenFile(int f) : fd(f) {}
  ~OpenFile() { ::close(fd); }
  OpenFile(const OpenFile &) = delete;
  OpenFile &operator=(const OpenFile &) = delete;
  int fd;
};

// One thread that runs blocking file operations, in order, for every
// shard. A job's completion is posted back to the shard it came from.
class FileIo {
public:
  explicit FileIo(shoal::api::Stack &stack) : stack_(stack), thread_([this] { loop(); }) {}
  ~FileIo() {
    {
      std::lock_guard g(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  FileIo(const FileIo &) = delete;
  FileIo &operator=(const FileIo &) = delete;

  // Runs `work` on the I/O thread, then `done` on `shard`.
  void submit(unsigned shard, std::function<void()> work, std::function<void()> done) {
    {
      std::lock_guard g(mu_);
      jobs_.push_back({shard, std::move(work), std::move(done)});
    }
    cv_.notify_one();
  }

private:
  struct Job {
    unsigned shard;
    std::function<void()> work, done;
  };
  void loop() {
    std::unique_lock lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || !jobs_.empty(); });
      if (stop_)
        return;
      Job j = std::move(jobs_.front());
      jobs_.pop_front();
      lk.unlock();
      if (g_settings.io_delay_ms != 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(g_settings.io_delay_ms));
      j.work();
      // The shard's command ring may be full for a moment: try again.
      while (!stack_.post(j.shard, j.done) && !stack_.stopping())
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      lk.lock();
    }
  }
  shoal::api::Stack &stack_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::thread thread_;
};
FileIo *g_io = nullptr;

std::atomic<uint64_t> g_accepted{0}, g_requests{0}, g_errors{0}, g_body_bytes{0};

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

// What a file operation brought back (written on the I/O thread, read on
// the shard once the completion runs there).
struct FileResult {
  std::shared_ptr<OpenFile> file; // null: not found (open)
  uint64_t size = 0;              // the file's length (open)
  std::vector<uint8_t> data;      // what was read
  bool failed = false;            // a read error or the file shrank
};

// One per connection; the stack owns it and destroys it after on_closed.
class HttpHandler final : public shoal::api::Handler {
public:
  HttpHandler() : alive_(std::make_shared<HttpHandler *>(this)) {}
  ~HttpHandler() override { *alive_ = nullptr; } // completions still queued find no handler

  void on_connected(Connection c) override { serve(c); }
  void on_readable(Connection c) override { serve(c); }
  void on_writable(Connection c) override { serve(c); }
  void on_peer_closed(Connection c) override {
    if (discarding_) {
      c.consume(c.readable());
      c.close();
      return;
    }
    serve(c);
  }
  void on_closed(Connection, CloseReason) override {}

private:
  // Writes what is pending, then parses and answers requests while the
  // previous response is out of the way.
  void serve(Connection c) {
    if (discarding_) {
      c.consume(c.readable());
      return;
    }
    for (;;) {
      if (opening_)
        return; // the I/O thread is opening the file of the current request
      if (!write_body(c))
        return; // send ring full (on_writable) or file data not read yet
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

  // Runs `work` on the I/O thread, then `done(handler, connection, result)`
  // on this shard, if the connection is still there.
  void file_job(Connection c, std::function<void(FileResult &)> work,
                void (HttpHandler::*done)(Connection, FileResult &)) {
    auto result = std::make_shared<FileResult>();
    g_io->submit(
        shard(), [result, work = std::move(work)] { work(*result); },
        [alive = alive_, c, result, done] {
          if (HttpHandler *h = *alive)
            (h->*done)(c, *result);
        });
  }

  void respond(Connection c) {
    g_requests.fetch_add(1, std::memory_order_relaxed);
    using shoal::http::Method;
    const std::string_view target = parser_.target();
    const bool get = parser_.method() == Method::get, is_head = parser_.method() == Method::head;
    keep_alive_ = parser_.keep_alive();
    is_head_ = is_head;
    target_ = std::string(target);
    if (!get && !is_head)
      return send_head(c, 405, 0, false, {});
    if (target.rfind("/bytes/", 0) == 0) {
      uint64_t n = 0;
      if (shoal::apps::parse_u64(std::string(target.substr(7)).c_str(), 0, kMaxBytes, &n))
        return send_head(c, 200, n, true, "application/octet-stream");
      return send_head(c, 404, 0, false, {});
    }
    if (g_settings.docroot.empty())
      return not_a_file(c);
    // The file: opened, measured and its start read on the I/O thread.
    opening_ = true;
    const size_t first = is_head ? 0 : kFirstRead;
    file_job(
        c,
        [target = target_, first](FileResult &r) {
          uint64_t size = 0;
          const int fd = open_under_docroot(target, &size);
          if (fd < 0)
            return;
          r.file = std::make_shared<OpenFile>(fd);
          r.size = size;
          r.data.resize(static_cast<size_t>(std::min<uint64_t>(size, first)));
          const ssize_t n = r.data.empty() ? 0 : pread(fd, r.data.data(), r.data.size(), 0);
          r.failed = n < 0 || static_cast<size_t>(n) != r.data.size();
        },
        &HttpHandler::opened);
  }

  // `/` without an index.html is the pattern body; anything else, 404.
  void not_a_file(Connection c) {
    if (target_ == "/")
      return send_head(c, 200, g_settings.default_size, true, "text/plain");
    return send_head(c, 404, 0, false, {});
  }

  void opened(Connection c, FileResult &r) {
    opening_ = false;
    if (!r.file) {
      not_a_file(c);
    } else if (r.failed) {
      c.abort(); // unreadable: the length cannot be kept
      return;
    } else {
      file_ = std::move(r.file);
      pending_ = std::move(r.data);
      pending_off_ = 0;
      send_head(c, 200, r.size, false,
                shoal::http::content_type_for(target_ == "/" ? "index.html" : target_));
    }
    serve(c);
  }

  void send_head(Connection c, unsigned status, uint64_t length, bool pattern,
                 std::string_view type) {
    shoal::http::ResponseHead head;
    head.keep_alive = keep_alive_;
    head.status = status;
    if (status == 405)
      head.extra_fields = "Allow: GET, HEAD\r\n";
    head.content_length = length;
    if (status == 200)
      head.content_type = type;
    const shoal::http::HttpDate date(std::time(nullptr));
    head.date = date.view();
    std::array<uint8_t, 1024> buf;
    const auto w = shoal::http::write_response_head(head, buf);
    body_left_ = is_head_ ? 0 : length;
    body_off_ = 0;
    pattern_ = pattern;
    queue_head(c, {buf.data(), w.written});
    if (body_left_ == 0)
      end_file();
    close_after_ = !head.keep_alive;
  }

  void end_file() {
    file_.reset();
    pending_.clear();
    pending_off_ = 0;
    reading_ = false;
  }

  // The head and as much of the body as the send ring's tail has room for,
  // in one commit: a small response is one write (and one segment).
  // write_body queues the rest. The ring has room for a head (kHeadRoom),
  // but perhaps not in one piece: then the head goes alone.
  void queue_head(Connection c, std::span<const uint8_t> head) {
    const std::span<uint8_t> out =
        c.reserve(head.size() + static_cast<size_t>(std::min<uint64_t>(body_left_, 65536)));
    if (out.size() < head.size()) {
      c.write(head);
      return;
    }
    std::memcpy(out.data(), head.data(), head.size());
    const size_t body = fill_body(out.subspan(head.size()));
    c.commit(head.size() + body);
    advance_body(body);
  }

  // The next body bytes into `out` (the pattern, or file data already read):
  // how many.
  size_t fill_body(std::span<uint8_t> out) {
    if (out.empty() || body_left_ == 0)
      return 0;
    if (pattern_) {
      shoal::http::fill_pattern(body_off_, out);
      return out.size();
    }
    const size_t n = std::min(out.size(), pending_.size() - pending_off_);
    std::memcpy(out.data(), pending_.data() + pending_off_, n);
    pending_off_ += n;
    return n;
  }

  void advance_body(size_t n) {
    body_off_ += n;
    body_left_ -= n;
    g_body_bytes.fetch_add(n, std::memory_order_relaxed);
  }

  // The next file data, read on the I/O thread after what is pending.
  void read_more(Connection c) {
    reading_ = true;
    const uint64_t off = body_off_;
    const size_t len = static_cast<size_t>(std::min<uint64_t>(body_left_, kNextRead));
    file_job(
        c,
        [file = file_, off, len](FileResult &r) {
          r.data.resize(len);
          const ssize_t n = pread(file->fd, r.data.data(), len, static_cast<off_t>(off));
          r.failed = n <= 0; // an error, or the file shrank
          r.data.resize(n > 0 ? static_cast<size_t>(n) : 0);
        },
        &HttpHandler::read_done);
  }

  void read_done(Connection c, FileResult &r) {
    reading_ = false;
    if (r.failed) { // the length is promised: end the connection
      c.abort();
      return;
    }
    pending_ = std::move(r.data);
    pending_off_ = 0;
    serve(c);
  }

  // Fills the send ring with the current body; true when it is all queued.
  bool write_body(Connection c) {
    while (body_left_ > 0) {
      if (!pattern_ && pending_off_ == pending_.size()) {
        if (!reading_)
          read_more(c);
        return false; // read_done resumes
      }
      const std::span<uint8_t> out =
          c.reserve(static_cast<size_t>(std::min<uint64_t>(body_left_, 65536)));
      if (out.empty())
        return false;
      const size_t n = fill_body(out);
      c.commit(n);
      advance_body(n);
    }
    end_file();
    return true;
  }

  std::shared_ptr<HttpHandler *> alive_;
  shoal::http::RequestParser parser_;
  std::string target_;
  bool keep_alive_ = true, is_head_ = false;
  uint64_t body_left_ = 0, body_off_ = 0;
  bool pattern_ = false;
  std::shared_ptr<OpenFile> file_;
  std::vector<uint8_t> pending_; // file data read, not yet in the send ring
  size_t pending_off_ = 0;
  bool opening_ = false, reading_ = false;
  bool close_after_ = false;
  bool discarding_ = false;
};

int usage(const char *argv0) {
  std::fprintf(stderr,
               "usage: %s <config.ini> [--port N] [--docroot DIR] [--default-size N] "
               "[--io-delay-ms N]\n",
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
    } else if (a == "--io-delay-ms" && shoal::apps::parse_u64(v, 0, 60000, &n)) {
      g_settings.io_delay_ms = static_cast<unsigned>(n);
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
  auto io = std::make_unique<FileIo>(*stack);
  g_io = io.get();
  stack->listen(g_settings.port, [](Connection) {
    g_accepted.fetch_add(1, std::memory_order_relaxed);
    return std::make_unique<HttpHandler>();
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
  io.reset(); // before the stack: it posts to the shards
  g_io = nullptr;
  stack.reset(); // ends the connections still open and destroys their handlers
  return 0;
}
