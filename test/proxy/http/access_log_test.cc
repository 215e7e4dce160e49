// Access logs: compiled formats (text and JSON), and the path of a line from a worker's buffer
// through a file's writer thread: size and timer flushes, several workers at once, a reader
// that stops reading (bounded, counted drops), and shutdown.
#include "proxy/http/access_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "proxy/common/strings.h"
#include "proxy/event/event_loop.h"
#include "proxy/stats/stats.h"
#include "test/common/test_util.h"

namespace remora::http {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/remora-access-log-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct Request {
  Request() {
    req.method = "GET";
    req.scheme = "http";
    req.authority = "shop.example";
    req.path = "/cart?x=1";
    req.headers.add("user-agent", "curl/7.88.1");
    req.headers.add("x-request-id", "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b");
    info.start_ms = 1795000000123;  // 2026-11-18T11:06:40.123Z
    info.start_mono_ms = 1000;
    info.end_mono_ms = 1042;
    info.response_code = 200;
    info.protocol = "HTTP/1.1";
    info.bytes_received = 7;
    info.bytes_sent = 1024;
    info.upstream_host = *net::Address::parse("192.0.2.10:8080");
    info.response_headers.add("x-envoy-upstream-service-time", "3");
  }
  RequestHeaders req;
  StreamInfo info;
};

std::string render(std::string_view format, const Request& r) {
  auto f = LogFormat::parse(format);
  REQUIRE(f.ok());
  return f->render(r.req, r.info);
}

TEST_CASE("access log: Envoy's default format, field by field", "[http][access_log]") {
  Request r;
  r.req.headers.add("x-forwarded-for", "198.51.100.7");
  std::string line = render(kDefaultAccessLogFormat, r);
  CHECK(line ==
        "[2026-11-18T11:06:40.123Z] \"GET /cart?x=1 HTTP/1.1\" 200 - 7 1024 42 3 "
        "\"198.51.100.7\" \"curl/7.88.1\" \"1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b\" "
        "\"shop.example\" \"192.0.2.10:8080\"\n");
  // The cached second is not reused for another second, nor the milliseconds.
  r.info.start_ms = 1795000001007;
  CHECK(render("%START_TIME%", r) == "2026-11-18T11:06:41.007Z");
  r.info.start_ms = 1795000001999;
  CHECK(render("%START_TIME%", r) == "2026-11-18T11:06:41.999Z");
}

TEST_CASE("access log: operators, alternatives, lengths, flags and empty values",
          "[http][access_log]") {
  Request r;
  CHECK(render("%REQ(:METHOD)% %REQ(:path)% %REQ(HOST)% %REQ(:SCHEME)%", r) ==
        "GET /cart?x=1 shop.example http");
  // x?y: the second when the first is absent; either may be a pseudo-header.
  CHECK(render("%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", r) == "/cart?x=1");
  r.req.headers.add("x-envoy-original-path", "/original");
  CHECK(render("%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", r) == "/original");
  CHECK(
      render("%REQ(USER-AGENT):4%|%REQ(X-MISSING)%|%RESP(X-MISSING?X-ENVOY-UPSTREAM-SERVICE-TIME)%",
             r) == "curl|-|3");
  CHECK(render("100%% %RESPONSE_CODE%", r) == "100% 200");
  CHECK(render("%RESPONSE_FLAGS%", r) == "-");
  r.info.setFlag(ResponseFlag::UpstreamConnectionFailure);
  r.info.setFlag(ResponseFlag::NoHealthyUpstream);
  CHECK(render("%RESPONSE_FLAGS%", r) == "UH,UF");
  CHECK(render("%UPSTREAM_CLUSTER% %ROUTE_NAME% %DOWNSTREAM_PEER_URI_SAN%", r) == "- - -");
  r.info.upstream_cluster = "outbound|8080||reviews.default.svc.cluster.local";
  r.info.route_name = "default";
  r.info.attempts = 2;
  CHECK(render("%UPSTREAM_CLUSTER% %ROUTE_NAME% %UPSTREAM_REQUEST_ATTEMPT_COUNT%", r) ==
        "outbound|8080||reviews.default.svc.cluster.local default 2");
  r.info.end_mono_ms = 900;  // a clock that went backwards gives 0, not a huge number
  CHECK(render("%DURATION%", r) == "0");
}

TEST_CASE("access log: formats remora would misread are refused", "[http][access_log]") {
  CHECK(LogFormat::parse("%NOT_AN_OPERATOR%")
            .status()
            .message()
            .find("operator %NOT_AN_OPERATOR% is not supported") != std::string_view::npos);
  CHECK(!LogFormat::parse("%REQ()%").ok());
  CHECK(!LogFormat::parse("%REQ(x%").ok());
  CHECK(!LogFormat::parse("%RESPONSE_CODE").ok());
  CHECK(!LogFormat::parse("%REQ(x):abc%").ok());
  // A START_TIME format would be rendered in another format: refused.
  CHECK(!LogFormat::parse("%START_TIME(%s)%").ok());
  CHECK(!LogFormat::parse("%DURATION(x)%").ok());
}

TEST_CASE("access log: JSON lines keep numbers numeric, absent values null, text escaped",
          "[http][access_log]") {
  Request r;
  r.req.headers.set("user-agent", "say \"hi\"\\\x01");
  config::AccessLogConfig c;
  c.path = "/dev/null";
  c.json_format = {{"code", "%RESPONSE_CODE%"},
                   {"ua", "%REQ(USER-AGENT)%"},
                   {"missing", "%REQ(X-MISSING)%"},
                   {"path", "%REQ(:PATH)% via %PROTOCOL%"},
                   {"k\"ey", "%BYTES_SENT%"}};
  auto log = AccessLog::create(c);
  REQUIRE(log.ok());
  CHECK((*log)->format(r.req, r.info) ==
        "{\"code\":200,\"ua\":\"say \\\"hi\\\"\\\\\\u0001\",\"missing\":null,"
        "\"path\":\"/cart?x=1 via HTTP/1.1\",\"k\\\"ey\":1024}\n");
  CHECK(!(*log)->usesResponseHeaders());
  c.json_format.push_back({"svc", "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%"});
  CHECK((*AccessLog::create(c))->usesResponseHeaders());
}

// --- Buffers and writers ---

std::shared_ptr<AccessLog> textLog(const std::string& path, const std::string& format) {
  config::AccessLogConfig c;
  c.path = path;
  c.text_format = format;
  auto log = AccessLog::create(c);
  REQUIRE(log.ok());
  return *log;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A FIFO at `path` with its read end open and not read yet (so writes to it fill the pipe).
int openFifo(const std::string& path) {
  REQUIRE(mkfifo(path.c_str(), 0600) == 0);
  int reader = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);
  REQUIRE(reader >= 0);
  return reader;
}

// The reader comes back: reads (blocking) until `total` bytes or end of file; the count.
size_t readFifo(int reader, size_t total) {
  fcntl(reader, F_SETFL, fcntl(reader, F_GETFL) & ~O_NONBLOCK);
  size_t got = 0;
  char buf[65536];
  while (got < total) {
    ssize_t n = ::read(reader, buf, sizeof(buf));
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

struct LoopFixture {
  ~LoopFixture() {
    buffers.reset();
    loop.shutdown();
    uv_run(loop.uv(), UV_RUN_NOWAIT);
    loop.close();
  }
  template <typename Done>
  void runUntil(Done done) {
    uint64_t start = loop.now();
    while (!done() && loop.now() - start < 10000) uv_run(loop.uv(), UV_RUN_ONCE);
  }
  event::EventLoop loop{"al"};
  std::unique_ptr<AccessLogBuffers> buffers = std::make_unique<AccessLogBuffers>(loop.timeouts());
};

TEST_CASE("access log: lines wait in the worker's buffer until the flush interval",
          "[http][access_log]") {
  TempDir tmp;
  std::string path = tmp.file("access.log");
  auto log = textLog(path, "%REQ(:PATH)%\n");
  LoopFixture f;
  f.buffers->setFlushInterval(50);
  uint64_t by_timer = fileSystemStats().flushed_by_timer.load();
  Request r;
  for (int i = 0; i < 3; ++i) {
    r.req.path = cat("/", i);
    log->log(*f.buffers, r.req, r.info);
  }
  log->file()->sync();
  CHECK(slurp(path).empty());  // not handed over yet: no write per request
  f.runUntil([&] { return fileSystemStats().flushed_by_timer.load() > by_timer; });
  log->file()->sync();
  CHECK(slurp(path) == "/0\n/1\n/2\n");
  // The same path is the same file (one writer, one descriptor).
  CHECK(textLog(path, "%REQ(:PATH)%\n")->file() == log->file());
}

TEST_CASE("access log: 64 KiB of lines go to the writer without waiting for the timer",
          "[http][access_log]") {
  TempDir tmp;
  std::string path = tmp.file("access.log");
  auto log = textLog(path, "%REQ(:PATH)%\n");
  LoopFixture f;
  f.buffers->setFlushInterval(3600 * 1000);
  Request r;
  r.req.path = "/" + std::string(98, 'p');  // 100-byte lines
  size_t lines = AccessLogBuffers::kFlushBytes / 100 + 1;
  for (size_t i = 0; i < lines; ++i) log->log(*f.buffers, r.req, r.info);
  log->file()->sync();
  CHECK(slurp(path).size() == lines * 100);
  // One more line stays buffered until the worker closes its buffers.
  log->log(*f.buffers, r.req, r.info);
  log->file()->sync();
  CHECK(slurp(path).size() == lines * 100);
  f.buffers->close();
  log->file()->sync();
  CHECK(slurp(path).size() == (lines + 1) * 100);
  // After close, a line is handed over at once.
  log->log(*f.buffers, r.req, r.info);
  log->file()->sync();
  CHECK(slurp(path).size() == (lines + 2) * 100);
}

TEST_CASE("access log: /reopen_logs after a rename-style rotation writes to the new file",
          "[http][access_log]") {
  TempDir tmp;
  std::string path = tmp.file("access.log");
  auto log = textLog(path, "%REQ(:PATH)%\n");
  LoopFixture f;
  Request r;
  r.req.path = "/before";
  log->log(*f.buffers, r.req, r.info);
  f.buffers->flush();
  log->file()->sync();
  // logrotate without copytruncate: the file is renamed, the proxy told to reopen.
  REQUIRE(std::rename(path.c_str(), tmp.file("access.log.1").c_str()) == 0);
  AccessLogFile::reopenAll();
  r.req.path = "/after";
  log->log(*f.buffers, r.req, r.info);
  f.buffers->flush();
  log->file()->sync();
  CHECK(slurp(tmp.file("access.log.1")) == "/before\n");
  CHECK(slurp(path) == "/after\n");
  // A path that cannot be opened again: counted, and the old file goes on taking lines.
  uint64_t failed = fileSystemStats().reopen_failed.load();
  std::filesystem::remove(tmp.file("access.log.1"));
  std::filesystem::rename(path, tmp.file("moved.log"));
  std::filesystem::create_directory(path);  // the path is a directory now
  AccessLogFile::reopenAll();
  r.req.path = "/still";
  log->log(*f.buffers, r.req, r.info);
  f.buffers->flush();
  log->file()->sync();
  CHECK(fileSystemStats().reopen_failed.load() == failed + 1);
  CHECK(slurp(tmp.file("moved.log")) == "/after\n/still\n");
}

TEST_CASE("access log: four workers at once, every line whole and in its worker's order",
          "[http][access_log]") {
  TempDir tmp;
  std::string path = tmp.file("access.log");
  std::shared_ptr<AccessLog> log = textLog(path, "%REQ(:AUTHORITY)% %REQ(:PATH)%\n");
  constexpr int kWorkers = 4, kLines = 20000;
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      LoopFixture f;
      Request r;
      r.req.authority = cat("w", w);
      for (int i = 0; i < kLines; ++i) {
        r.req.path = cat("/", i, std::string(static_cast<size_t>(i % 50), 'x'));
        log->log(*f.buffers, r.req, r.info);
      }
      f.buffers->flush();
    });
  }
  for (auto& t : threads) t.join();
  log->file()->sync();
  std::map<std::string, int> next;
  size_t count = 0;
  bool whole = true, ordered = true;
  std::string text = slurp(path);
  for (std::string_view line : split(text, '\n', true)) {
    ++count;
    auto sp = line.find(' ');
    std::string who(line.substr(0, sp));
    std::string_view p = line.substr(sp + 2);
    size_t n = 0;
    while (n < p.size() && p[n] >= '0' && p[n] <= '9') ++n;
    int i = std::stoi(std::string(p.substr(0, n)));
    whole &= p.size() - n == static_cast<size_t>(i % 50);
    ordered &= next[who] == i;
    next[who] = i + 1;
  }
  CHECK(count == kWorkers * kLines);
  CHECK(whole);
  CHECK(ordered);
}

TEST_CASE("access log: a reader that stops reading costs bounded memory and counted drops",
          "[http][access_log]") {
  TempDir tmp;
  std::string fifo = tmp.file("log.fifo");
  int reader = openFifo(fifo);
  uint64_t dropped0 = fileSystemStats().write_dropped.load();
  size_t accepted = 0;
  {
    auto file = AccessLogFile::open(fifo);
    REQUIRE(file.ok());
    // Nobody reads: the pipe fills, the writer blocks, the queue reaches its bound, and the
    // batches past it are dropped, counted, and never block the submitting thread.
    std::string line(1000, 'l');
    line.back() = '\n';
    size_t batches = AccessLogFile::kMaxQueuedBytes / (64 * 1000) + 40;
    for (size_t b = 0; b < batches; ++b) {
      std::string batch;
      for (int i = 0; i < 64; ++i) batch += line;
      size_t before = fileSystemStats().write_dropped.load();
      (*file)->submit(std::move(batch), false);
      if (fileSystemStats().write_dropped.load() == before) accepted += 64 * 1000;
    }
    CHECK(fileSystemStats().write_dropped.load() > dropped0);
    CHECK(fileSystemStats().write_total_buffered.load() <=
          static_cast<int64_t>(AccessLogFile::kMaxQueuedBytes));
    // The reader comes back: everything accepted arrives, whole.
    std::thread sync([&] { (*file)->sync(); });
    size_t got = readFifo(reader, accepted);
    sync.join();
    CHECK(got == accepted);
  }
  ::close(reader);
}

TEST_CASE("access log: shutdown does not hang on a pipe nobody reads", "[http][access_log]") {
  TempDir tmp;
  std::string fifo = tmp.file("log.fifo");
  int reader = openFifo(fifo);
  uint64_t failed0 = fileSystemStats().write_failed.load();
  {
    auto file = AccessLogFile::open(fifo);
    REQUIRE(file.ok());
    for (int b = 0; b < 40; ++b) (*file)->submit(std::string(64 * 1024, 'x'), false);
  }  // the writer gives up on the stuck pipe instead of waiting for it forever
  CHECK(AccessLogFile::awaitRetired() == 0);
  CHECK(fileSystemStats().write_failed.load() > failed0);
  ::close(reader);
}

TEST_CASE("access log: letting go of a file never waits for its writer", "[http][access_log]") {
  // The last reference can go away on a worker (a configuration that named the file was
  // replaced). That must not hold the worker while the writer drains: with a reader that is
  // not reading yet, a release that waited would sit out the writer's one-second give-up and
  // lose the lines. Here the release returns while the writer is still stuck, the reader then
  // takes everything, and the writer finishes and frees itself.
  REQUIRE(AccessLogFile::awaitRetired() == 0);  // earlier tests' writers are done
  TempDir tmp;
  std::string fifo = tmp.file("log.fifo");
  int reader = openFifo(fifo);
  uint64_t completed0 = fileSystemStats().write_completed.load();
  uint64_t failed0 = fileSystemStats().write_failed.load();
  const size_t total = 8 * 64 * 1024;  // eight times what the pipe holds
  {
    auto file = AccessLogFile::open(fifo);
    REQUIRE(file.ok());
    for (int b = 0; b < 8; ++b) (*file)->submit(std::string(64 * 1024, 'x'), false);
  }                                            // released here, with the pipe full
  CHECK(AccessLogFile::awaitRetired(0) == 1);  // still writing, on its own
  CHECK(readFifo(reader, total) == total);
  CHECK(AccessLogFile::awaitRetired() == 0);
  CHECK(fileSystemStats().write_completed.load() - completed0 == 8);
  CHECK(fileSystemStats().write_failed.load() == failed0);
  // The writer closed its end: the reader sees end of file, and the path opens a new writer.
  char byte;
  CHECK(::read(reader, &byte, 1) == 0);
  ::close(reader);
}

TEST_CASE("access log: filesystem stats are in the store once", "[http][access_log]") {
  stats::Store store;
  config::AccessLogConfig c;
  c.path = "/dev/null";
  REQUIRE(AccessLog::create(c, &store).ok());
  REQUIRE(AccessLog::create(c, &store).ok());
  int seen = 0;
  store.forEach([&](const stats::Scope& s) {
    s.visit([&](const stats::StatValue& v) {
      if (s.prefix() + std::string(v.name) == "filesystem.write_buffered") ++seen;
    });
  });
  CHECK(seen == 1);
}

}  // namespace
}  // namespace remora::http
