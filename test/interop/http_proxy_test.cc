// remora's HTTP/1.1 proxying with real clients and a real upstream: curl through an
// http_connection_manager listener to Python's http.server. Loopback only; no root needed.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "proxy/common/strings.h"
#include "test/common/test_util.h"
#include "test/integration/harness.h"
#include "test/interop/proxy_under_test.h"

namespace remora::integration {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string bootstrap(uint16_t listen_port, uint16_t upstream_port, const std::string& log_path) {
  uint16_t dead = freePort();  // nothing listens there
  return cat(R"(admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
  - name: http
    address: {socket_address: {address: 127.0.0.1, port_value: )",
             listen_port, R"(}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          max_request_headers_kb: 60
          access_log:
          - name: envoy.access_loggers.file
            typed_config: {'@type': type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog, path: )",
             log_path, R"(}
          route_config:
            name: local
            virtual_hosts:
            - name: svc
              domains: ['svc.local', 'svc.local:*', '127.0.0.1:)",
             listen_port, R"(']
              request_headers_to_add: [{header: {key: x-added, value: by-vhost}}]
              routes:
              - match: {prefix: /direct}
                direct_response: {status: 200, body: {inline_string: "direct answer"}}
              - match: {prefix: /old}
                redirect: {path_redirect: /new, response_code: FOUND}
              - match: {prefix: /api/}
                route: {cluster: backend, prefix_rewrite: /}
              - match: {prefix: /stall}
                route: {cluster: backend, timeout: 0.3s}
              - match: {prefix: /idle/stall}
                route: {cluster: backend, prefix_rewrite: /stall, timeout: 0s, idle_timeout: 0.4s}
              - match: {prefix: /nocluster}
                route: {cluster: missing}
              - match: {prefix: /dead}
                route: {cluster: dead}
              - match: {prefix: /}
                route: {cluster: backend}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  clusters:
  - name: backend
    type: STATIC
    connect_timeout: 1s
    load_assignment: {cluster_name: backend, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: )",
             upstream_port, R"(}}}}]}]}
  - name: dead
    type: STATIC
    connect_timeout: 1s
    load_assignment: {cluster_name: dead, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: )",
             dead, "}}}}]}]}\n");
}

struct Curl {
  int rc = -1;
  std::string out;
};
Curl curl(std::vector<std::string> args) {
  std::vector<std::string> argv{"curl", "-sS", "--max-time", "20"};
  argv.insert(argv.end(), args.begin(), args.end());
  Curl c;
  c.rc = runCommand(argv, &c.out);
  return c;
}

// One raw exchange: sends `request` on a new connection, reads until the proxy closes.
std::string raw(uint16_t port, std::string_view request) {
  int fd = testing::connectTcp("127.0.0.1", port, 2000);
  REQUIRE(fd >= 0);
  testing::sendAll(fd, request);
  std::string resp;
  testing::readToEnd(fd, &resp, 5000);
  close(fd);
  return resp;
}

struct Fixture {
  Upstream up;
  uint16_t port = freePort();
  std::string log_path;
  std::unique_ptr<ProxyUnderTest> proxy;
  Fixture() {
    log_path = Binaries::get().dir + "/" + cat("access-", getpid(), "-", port, ".log");
    proxy = std::make_unique<ProxyUnderTest>(bootstrap(port, up.port(), log_path));
    REQUIRE(testing::waitFor([&] { return proxy->ready(); }));
  }
  std::string url(const std::string& path) const { return cat("http://127.0.0.1:", port, path); }
  std::string accessLog() const {
    std::ifstream in(log_path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

TEST_CASE("http: curl through remora: routes, rewrites, headers and Envoy's local replies",
          "[http]") {
  Fixture f;
  auto r = curl({f.url("/hello")});
  REQUIRE(r.rc == 0);
  CHECK(r.out == "hello GET /hello");

  // What the upstream saw: a generated x-request-id, x-forwarded-proto, the vhost's header,
  // no hop-by-hop fields, and the rewritten path.
  r = curl({"-H", "Connection: keep-alive, X-Private", "-H", "X-Private: secret", "-H",
            "Keep-Alive: timeout=5", f.url("/api/headers?q=1")});
  REQUIRE(r.rc == 0);
  CHECK(r.out.find(R"("path": "/headers?q=1")") != std::string::npos);
  CHECK(r.out.find(R"(["x-added", "by-vhost"])") != std::string::npos);
  CHECK(r.out.find(R"(["x-forwarded-proto", "http"])") != std::string::npos);
  CHECK(r.out.find(R"(["x-envoy-original-path", "/api/headers?q=1"])") != std::string::npos);
  CHECK(r.out.find("x-private") == std::string::npos);
  CHECK(r.out.find("keep-alive") == std::string::npos);
  size_t rid = r.out.find(R"(["x-request-id", ")");
  REQUIRE(rid != std::string::npos);
  CHECK(r.out.substr(rid + 18, 36).size() == 36);
  CHECK(r.out[rid + 18 + 14] == '4');  // a version-4 UUID
  // A request id the client sends is kept (an internal hop: use_remote_address false).
  r = curl({"-H", "x-request-id: abc-123", f.url("/headers")});
  CHECK(r.out.find(R"(["x-request-id", "abc-123"])") != std::string::npos);

  // Local replies.
  r = curl({"-i", f.url("/direct")});
  CHECK(r.out.starts_with("HTTP/1.1 200"));
  CHECK(r.out.ends_with("direct answer"));
  r = curl({"-i", f.url("/old/x?y=1")});
  CHECK(r.out.starts_with("HTTP/1.1 302"));
  CHECK(r.out.find(cat("location: http://127.0.0.1:", f.port, "/new?y=1")) != std::string::npos);
  r = curl({"-i", "-H", "Host: elsewhere.example", f.url("/hello")});
  CHECK(r.out.starts_with("HTTP/1.1 404"));
  {
    // A local reply given from the request head closes a "Connection: close" connection (it
    // stayed open before: the keep-alive decision waited for the end of the message).
    int fd = testing::connectTcp("127.0.0.1", f.port, 2000);
    REQUIRE(fd >= 0);
    testing::sendAll(fd,
                     "GET /hello HTTP/1.1\r\nHost: elsewhere.example\r\nConnection: close\r\n\r\n");
    std::string resp;
    CHECK(testing::readToEnd(fd, &resp, 3000) == testing::ReadEnd::Eof);
    close(fd);
    CHECK(resp.starts_with("HTTP/1.1 404"));
    CHECK(resp.find("connection: close") != std::string::npos);
  }
  r = curl({"-i", f.url("/nocluster")});
  CHECK(r.out.starts_with("HTTP/1.1 503"));
  r = curl({"-i", f.url("/dead")});
  CHECK(r.out.starts_with("HTTP/1.1 503"));
  CHECK(r.out.find("reset reason: connection failure") != std::string::npos);
  REQUIRE(testing::waitFor([&] { return f.accessLog().find("/dead") != std::string::npos; }));
  std::string log = f.accessLog();
  CHECK(log.find("\"GET /hello HTTP/1.1\" 200 - ") != std::string::npos);
  CHECK(log.find("\"GET /hello HTTP/1.1\" 404 NR ") != std::string::npos);
  CHECK(log.find("\"GET /nocluster HTTP/1.1\" 503 NC ") != std::string::npos);
  CHECK(log.find("\"GET /dead HTTP/1.1\" 503 UF ") != std::string::npos);
  CHECK(log.find("\"abc-123\"") != std::string::npos);
  CHECK(f.proxy->stat("http.ingress.downstream_rq_2xx") >= 4);
  CHECK(f.proxy->stat("http.ingress.downstream_rq_5xx") == 2);
  CHECK(f.proxy->stat("http.ingress.no_route") == 2);  // curl and the raw request
  // Keep-alive: both requests on one downstream connection, and the upstream connection reused.
  int64_t cx_before = f.proxy->stat("cluster.backend.upstream_cx_total");
  r = curl({"-v", f.url("/a"), f.url("/b")});
  CHECK(r.out.find("Re-using existing connection") != std::string::npos);
  CHECK(f.proxy->stat("cluster.backend.upstream_cx_total") - cx_before <= 1);
}

TEST_CASE(
    "http: the keep-alive pool hands out the most recently used idle upstream connection, as "
    "Envoy and NGINX do",
    "[http]") {
  Fixture f;
  // Three requests at once: three upstream connections.
  std::vector<std::string> urls;
  for (int i = 0; i < 3; ++i) urls.push_back(f.url(cat("/peer?ms=", 600 + 100 * i)));
  std::vector<std::string> args{"--no-progress-meter", "--parallel", "--parallel-immediate", "-w",
                                " "};
  args.insert(args.end(), urls.begin(), urls.end());
  auto r = curl(args);
  REQUIRE(r.rc == 0);
  std::set<std::string> ports;
  for (auto p : split(r.out, ' ', true)) ports.insert(std::string(p));
  INFO(r.out);
  REQUIRE(ports.size() == 3);
  REQUIRE(f.proxy->stat("cluster.backend.upstream_cx_total") == 3);
  // One request after another: always the same connection, the last one released (the
  // slowest request's); a FIFO pool would go round all three.
  std::string last = cat(split(r.out, ' ', true).back());
  for (int i = 0; i < 6; ++i) {
    auto one = curl({f.url("/peer")});
    REQUIRE(one.rc == 0);
    CHECK(one.out == last);
  }
  CHECK(f.proxy->stat("cluster.backend.upstream_cx_total") == 3);
}

TEST_CASE("http: large bodies cross intact both ways (content-length and chunked)", "[http]") {
  Fixture f;
  std::string body = testing::randomBytes(8 << 20);
  std::string file = Binaries::get().dir + "/" + cat("body-", getpid(), ".bin");
  std::ofstream(file, std::ios::binary) << body;
  std::string want = testing::sha256Hex(body);
  std::string out = file + ".out";
  auto r = curl({"--data-binary", "@" + file, "-o", out, f.url("/echo")});
  REQUIRE(r.rc == 0);
  auto readAll = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  CHECK(testing::sha256Hex(readAll(out)) == want);
  r = curl(
      {"-X", "POST", "-T", file, "-H", "Transfer-Encoding: chunked", "-o", out, f.url("/echo")});
  REQUIRE(r.rc == 0);
  CHECK(testing::sha256Hex(readAll(out)) == want);
  // Downloads: 10 MB generated upstream.
  r = curl({"-o", out, f.url("/bytes/10000000")});
  REQUIRE(r.rc == 0);
  std::string got = readAll(out);
  REQUIRE(got.size() == 10000000);
  bool same = true;
  for (size_t i = 0; i < got.size() && same; ++i)
    same = static_cast<unsigned char>(got[i]) == i % 251;
  CHECK(same);
  CHECK(f.proxy->stat("http.ingress.downstream_rq_rx_bytes_total") == 2 * (8 << 20));
}

TEST_CASE("http: the route timeout answers 504 with flag UT", "[http]") {
  Fixture f;
  auto start = std::chrono::steady_clock::now();
  auto r = curl({"-i", f.url("/stall")});
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  CHECK(r.out.starts_with("HTTP/1.1 504"));
  CHECK(r.out.ends_with("upstream request timeout"));
  REQUIRE(testing::waitFor([&] { return f.accessLog().find("/stall") != std::string::npos; }));
  CHECK(f.accessLog().find("\"GET /stall HTTP/1.1\" 504 UT ") != std::string::npos);
  CHECK(f.proxy->stat("cluster.backend.upstream_rq_timeout") == 1);
  // With no route timeout, the route's idle_timeout ends the silent exchange: 504, flag SI.
  r = curl({"-i", f.url("/idle/stall")});
  CHECK(r.out.starts_with("HTTP/1.1 504"));
  REQUIRE(testing::waitFor([&] { return f.accessLog().find("/idle/stall") != std::string::npos; }));
  CHECK(f.accessLog().find("\"GET /idle/stall HTTP/1.1\" 504 SI ") != std::string::npos);
  CHECK(f.proxy->stat("http.ingress.downstream_rq_idle_timeout") == 1);
  // The proxy goes on serving.
  CHECK(curl({f.url("/after")}).out == "hello GET /after");
}

TEST_CASE("http: access log lines wait for the flush interval, and SIGTERM writes every one",
          "[http]") {
  Upstream up;
  uint16_t port = freePort();
  std::string log_path = Binaries::get().dir + "/" + cat("access-", getpid(), "-", port, ".log");
  ProxyUnderTest proxy(bootstrap(port, up.port(), log_path), {"--file-flush-interval", "1h"});
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }));
  auto readLog = [&] {
    std::ifstream in(log_path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  constexpr int kRequests = 40;
  for (int i = 0; i < kRequests; ++i) {
    auto r = curl({cat("http://127.0.0.1:", port, "/hello/", i)});
    REQUIRE(r.rc == 0);
  }
  // Under 64 KiB and within the hour: still in the worker's buffer (no write per request).
  CHECK(readLog().empty());
  CHECK(proxy.stat("filesystem.write_buffered") == 0);
  proxy.process().signal(SIGTERM);
  CHECK(proxy.process().wait(10000) == 0);
  std::string log = readLog();
  INFO(log);
  CHECK(split(log, '\n', true).size() == kRequests);
  for (int i = 0; i < kRequests; ++i) {
    CHECK(log.find(cat("\"GET /hello/", i, " HTTP/1.1\" 200 - ")) != std::string::npos);
  }
}

TEST_CASE(
    "http: request smuggling shapes get 400 and a closed connection - nothing reaches the "
    "upstream",
    "[http][security]") {
  Fixture f;
  const std::string host = "Host: svc.local\r\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"CL and TE",
       "POST /x HTTP/1.1\r\n" + host +
           "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled "
           "HTTP/1.1\r\n" +
           host + "\r\n"},
      {"two Content-Lengths",
       "POST /x HTTP/1.1\r\n" + host + "Content-Length: 3\r\nContent-Length: 40\r\n\r\nabc"},
      {"bare LF", "GET /x HTTP/1.1\r\n" + host + "X-A: 1\nX-B: 2\r\n\r\n"},
      {"bare CR", "GET /x HTTP/1.1\r\n" + host + "X-A: 1\rX-B: 2\r\n\r\n"},
      {"NUL in a value",
       std::string("GET /x HTTP/1.1\r\n") + host + "X-A: a" + std::string(1, '\0') + "b\r\n\r\n"},
      {"obs-fold", "GET /x HTTP/1.1\r\n" + host + "X-A: a\r\n b\r\n\r\n"},
      {"space before colon",
       "POST /x HTTP/1.1\r\n" + host + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"},
      {"chunk size overflow", "POST /x HTTP/1.1\r\n" + host +
                                  "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF1\r\nx\r\n"},
      {"invalid method", "G(T /x HTTP/1.1\r\n" + host + "\r\n"},
      {"invalid path", "GET /a b HTTP/1.1\r\n" + host + "\r\n"},
      {"two Hosts", "GET /x HTTP/1.1\r\n" + host + host + "\r\n"},
  };
  size_t before = f.up.requests().size();
  for (const auto& [name, request] : cases) {
    INFO(name);
    std::string resp = raw(f.port, request);
    CHECK(resp.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    CHECK(resp.find("connection: close") != std::string::npos);
    // The chunked request's body may have started a stream; either way, nothing was smuggled.
    CHECK(resp.find("smuggled") == std::string::npos);
  }
  // The chunk-size case opens the stream before the bad chunk; no other case reaches upstream.
  auto seen = f.up.requests();
  for (size_t i = before; i < seen.size(); ++i)
    CHECK(seen[i].find("smuggled") == std::string::npos);
  CHECK(seen.size() - before <= 1);
  CHECK(f.proxy->stat("http.ingress.downstream_cx_protocol_error") ==
        static_cast<int64_t>(cases.size()));
  // A normal request on a new connection works right after.
  CHECK(curl({f.url("/fine")}).out == "hello GET /fine");
}

TEST_CASE("http: pipelined requests are answered in order - header limits answer 431", "[http]") {
  Fixture f;
  std::string resp = raw(f.port,
                         "GET /p1 HTTP/1.1\r\nHost: svc.local\r\n\r\n"
                         "GET /p2 HTTP/1.1\r\nHost: svc.local\r\n\r\n"
                         "GET /p3 HTTP/1.1\r\nHost: svc.local\r\nConnection: close\r\n\r\n");
  size_t p1 = resp.find("hello GET /p1"), p2 = resp.find("hello GET /p2"),
         p3 = resp.find("hello GET /p3");
  REQUIRE(p1 != std::string::npos);
  REQUIRE(p2 != std::string::npos);
  REQUIRE(p3 != std::string::npos);
  CHECK(p1 < p2);
  CHECK(p2 < p3);
  resp =
      raw(f.port, "GET /big HTTP/1.1\r\nHost: svc.local\r\nX-Big: " + std::string(70 * 1024, 'a') +
                      "\r\n\r\n");
  CHECK(resp.starts_with("HTTP/1.1 431"));
  std::string many = "GET /many HTTP/1.1\r\nHost: svc.local\r\n";
  for (int i = 0; i < 101; ++i) many += cat("X-H", i, ": v\r\n");
  resp = raw(f.port, many + "\r\n");
  CHECK(resp.starts_with("HTTP/1.1 431"));
  CHECK(f.proxy->stat("http.ingress.downstream_rq_too_large") == 2);
}

std::string attack(uint16_t port, const std::string& name, const std::string& arg = "") {
  std::vector<std::string> argv{"python3", testing::sourceDir() + "/test/interop/h2_attack.py",
                                cat(port), name};
  if (!arg.empty()) argv.push_back(arg);
  std::string out;
  runCommand(argv, &out);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

TEST_CASE("http2: nghttp, curl and h2load through remora (HTTP/2 client, HTTP/1.1 upstream)",
          "[http][http2]") {
  Fixture f;
  auto r = curl({"--http2-prior-knowledge", f.url("/hello")});
  CHECK(r.out == "hello GET /hello");
  std::string body = testing::randomBytes(3 << 20);
  std::string file = Binaries::get().dir + "/" + cat("h2body-", getpid(), ".bin");
  std::ofstream(file, std::ios::binary) << body;
  r = curl({"--http2-prior-knowledge", "--data-binary", "@" + file, f.url("/echo")});
  CHECK(testing::sha256Hex(r.out) == testing::sha256Hex(body));
  std::string out;
  CHECK(runCommand({"nghttp", "-n", "-s", f.url("/hello"), f.url("/headers")}, &out) == 0);
  CHECK(runCommand({"h2load", "-n", "2000", "-c", "4", "-m", "8", f.url("/hello")}, &out) == 0);
  INFO(out);
  CHECK(out.find("2000 succeeded, 0 failed") != std::string::npos);
  CHECK(out.find("status codes: 2000 2xx") != std::string::npos);
  CHECK(f.proxy->stat("http.ingress.downstream_rq_http2_total") >= 2004);
  CHECK(f.proxy->stat("http.ingress.http2_premature_reset") == 0);
}

TEST_CASE(
    "http2: hostile clients are cut off with the right error - a normal request works "
    "right after each",
    "[http][http2][security]") {
  Fixture f;
  REQUIRE(attack(f.port, "normal") == "response");
  struct Case {
    const char* attack;
    const char* expect;  // the server's answer
    const char* counter;
  };
  const Case cases[] = {
      // A header block that decodes past the limit: a stream error, not a connection error.
      {"hpack-bomb", "rst 1 2", "http.ingress.http2_header_overflow"},
      {"rapid-reset", "goaway 11", "http.ingress.http2_premature_reset"},
      {"continuation-flood", "goaway 1", "http.ingress.http2_protocol_error"},
      {"empty-data-flood", "goaway 11", "http.ingress.http2_inbound_empty_frames_flood"},
      {"priority-flood", "goaway 11", "http.ingress.http2_inbound_priority_frames_flood"},
      {"window-update-flood", "goaway 11", "http.ingress.http2_inbound_window_update_frames_flood"},
      {"ping-flood", nullptr, "http.ingress.http2_outbound_control_flood"},
      {"settings-flood", nullptr, "http.ingress.http2_outbound_control_flood"},
  };
  int64_t control_floods = 0;
  for (const auto& c : cases) {
    INFO(c.attack);
    std::string got = attack(f.port, c.attack);
    if (c.expect != nullptr) {
      CHECK(got == c.expect);
      CHECK(f.proxy->stat(c.counter) >= 1);
    } else {
      // The acknowledgements it never reads pile up until the connection is dropped.
      CHECK(got != "open");
      CHECK(f.proxy->stat(c.counter) == ++control_floods);
    }
    CHECK(attack(f.port, "normal") == "response");
  }
  // A client that never opens its window while asking for large bodies: the proxy holds back
  // (reads a bounded amount from the upstream) instead of buffering everything.
  attack(f.port, "zero-window", "3");
  CHECK(f.proxy->stat("cluster.backend.upstream_cx_rx_bytes_total") < 40 * (1 << 20));
  CHECK(f.proxy->stat("cluster.backend.upstream_flow_control_paused_reading_total") >= 1);
  CHECK(curl({"--http2-prior-knowledge", f.url("/after")}).out == "hello GET /after");
}

// An HTTP/2-only upstream: grpc-js (gRPC) or nghttpd (files over h2c).
class H2Upstream {
 public:
  static H2Upstream grpc() {
    H2Upstream u;
    setenv("NODE_PATH", (testing::sourceDir() + "/xds/proto/node_modules").c_str(), 1);
    u.proc_ = std::make_unique<Process>(
        std::vector<std::string>{"node", testing::sourceDir() + "/test/interop/grpc_stream.js",
                                 "server", u.dir_ + "/port"},
        u.dir_ + "/server.log");
    REQUIRE(testing::waitFor([&] {
      std::ifstream in(u.dir_ + "/port");
      return static_cast<bool>(in >> u.port_);
    }));
    return u;
  }
  static H2Upstream files(const std::string& docroot) {
    H2Upstream u;
    u.port_ = freePort();
    u.proc_ = std::make_unique<Process>(
        std::vector<std::string>{"nghttpd", "--no-tls", "-d", docroot, cat(u.port_)},
        u.dir_ + "/nghttpd.log");
    REQUIRE(testing::waitFor([&] {
      int fd = testing::connectTcp("127.0.0.1", u.port_, 200);
      if (fd < 0) return false;
      close(fd);
      return true;
    }));
    return u;
  }
  uint16_t port() const { return port_; }

 private:
  H2Upstream() {
    dir_ = Binaries::get().dir + "/" + cat("h2up", counter_++, "-", getpid());
    fs::create_directories(dir_);
  }
  static inline int counter_ = 0;
  std::string dir_;
  std::unique_ptr<Process> proc_;
  uint16_t port_ = 0;
};

std::string h2Bootstrap(uint16_t listen_port, uint16_t upstream_port) {
  return cat(R"(admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
  - name: grpc
    address: {socket_address: {address: 127.0.0.1, port_value: )",
             listen_port, R"(}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: grpc
          route_config:
            virtual_hosts: [{name: all, domains: ['*'], routes: [{match: {prefix: /}, route: {cluster: h2}}]}]
          http_filters: [{name: envoy.filters.http.router, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
  clusters:
  - name: h2
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        '@type': type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {http2_protocol_options: {max_concurrent_streams: 100}}
    load_assignment: {cluster_name: h2, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: )",
             upstream_port, "}}}}]}]}\n");
}

TEST_CASE(
    "grpc: grpc-js client and server through remora: unary, 10,000-message bidirectional "
    "stream, trailers, status codes, deadlines",
    "[http][http2][grpc]") {
  H2Upstream up = H2Upstream::grpc();
  uint16_t port = freePort();
  ProxyUnderTest proxy(h2Bootstrap(port, up.port()));
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }));
  std::string out;
  REQUIRE(runCommand({"node", testing::sourceDir() + "/test/interop/grpc_stream.js", "client",
                      cat("127.0.0.1:", port), "10000"},
                     &out) == 0);
  INFO(out);
  CHECK(out.find(R"("unary":"echo:hi 7")") != std::string::npos);
  // Every message acknowledged in order; the server's trailers (grpc-status 0, x-count) arrive.
  CHECK(out.find(R"("chat":{"acks":10000,"inOrder":true,"code":0,"count":"10000"})") !=
        std::string::npos);
  CHECK(out.find(R"("fail":"14 failed on purpose")") != std::string::npos);
  CHECK(out.find(R"("deadline":"4")") != std::string::npos);  // DEADLINE_EXCEEDED
  CHECK(proxy.stat("http.grpc.downstream_rq_http2_total") == 4);
  CHECK(proxy.stat("cluster.h2.upstream_cx_total") == 1);  // one multiplexed connection
}

TEST_CASE("http: an HTTP/1.1 client reaches an HTTP/2-only upstream (nghttpd)", "[http][http2]") {
  std::string docroot = Binaries::get().dir + "/" + cat("docroot-", getpid());
  fs::create_directories(docroot);
  std::string body = testing::randomBytes(2 << 20);
  std::ofstream(docroot + "/blob", std::ios::binary) << body;
  H2Upstream up = H2Upstream::files(docroot);
  uint16_t port = freePort();
  ProxyUnderTest proxy(h2Bootstrap(port, up.port()));
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }));
  auto r = curl({"--http1.1", cat("http://127.0.0.1:", port, "/blob")});
  REQUIRE(r.rc == 0);
  CHECK(testing::sha256Hex(r.out) == testing::sha256Hex(body));
  r = curl({"--http1.1", "-i", cat("http://127.0.0.1:", port, "/missing")});
  CHECK(r.out.starts_with("HTTP/1.1 404"));
}

TEST_CASE("http: draining closes idle HTTP/1.1 connections and sends HTTP/2 GOAWAY", "[http]") {
  Fixture f;
  // An idle keep-alive HTTP/1.1 connection, after one exchange.
  int h1 = testing::connectTcp("127.0.0.1", f.port, 2000);
  REQUIRE(h1 >= 0);
  testing::sendAll(h1, "GET /one HTTP/1.1\r\nHost: svc.local\r\n\r\n");
  std::string first;
  REQUIRE(testing::waitFor([&] {
    char buf[4096];
    ssize_t n = recv(h1, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) first.append(buf, static_cast<size_t>(n));
    return first.find("hello GET /one") != std::string::npos;
  }));
  // An HTTP/2 client that stays connected after its response.
  std::string dir = Binaries::get().dir + "/" + cat("drain-", getpid());
  fs::create_directories(dir);
  Process h2(
      {"python3", testing::sourceDir() + "/test/interop/h2_attack.py", cat(f.port), "await-goaway"},
      dir + "/h2.log");
  REQUIRE(testing::waitFor([&] { return h2.log().find("response") != std::string::npos; }));
  REQUIRE(f.proxy->admin("/drain_listeners", "POST").status == 200);
  // The idle HTTP/1.1 connection is closed at once (not after the drain time).
  std::string rest;
  CHECK(testing::readToEnd(h1, &rest, 5000) == testing::ReadEnd::Eof);
  close(h1);
  REQUIRE(testing::waitFor([&] { return h2.log().find("goaway") != std::string::npos; }));
  CHECK(h2.log().find("goaway 0") != std::string::npos);  // NO_ERROR
}

TEST_CASE(
    "http_inspector: one port carries HTTP/1.1, h2c and opaque TCP to their own chains - "
    "bytes are never changed",
    "[http][http_inspector]") {
  NamedBackend tcp("greeting");
  uint16_t port = freePort();
  std::string boot = cat(R"(admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
  - name: sniffing
    address: {socket_address: {address: 127.0.0.1, port_value: )",
                         port, R"(}}
    listener_filters:
    - name: envoy.filters.listener.http_inspector
      typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector}
    listener_filters_timeout: 0.3s
    continue_on_listener_filters_timeout: true
    filter_chains:
    - filter_chain_match: {application_protocols: [http/1.1, h2c]}
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: sniffed
          route_config:
            virtual_hosts: [{name: all, domains: ['*'], routes: [{match: {prefix: /}, direct_response: {status: 200, body: {inline_string: "via http"}}}]}]
          http_filters: [{name: envoy.filters.http.router, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
    default_filter_chain:
      filters: [{name: envoy.filters.network.tcp_proxy, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: opaque, cluster: tcp}}]
  clusters:
  - name: tcp
    type: STATIC
    connect_timeout: 1s
    load_assignment: {cluster_name: tcp, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: )",
                         tcp.port(), "}}}}]}]}\n");
  ProxyUnderTest proxy(boot);
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }));
  std::string url = cat("http://127.0.0.1:", port, "/x");
  CHECK(curl({url}).out == "via http");
  CHECK(curl({"--http2-prior-knowledge", url}).out == "via http");
  CHECK(proxy.stat("http.sniffed.downstream_rq_http1_total") == 1);
  CHECK(proxy.stat("http.sniffed.downstream_rq_http2_total") == 1);
  // Not HTTP: the client speaks first; the sniffed bytes reach the TCP server unchanged.
  {
    int fd = testing::connectTcp("127.0.0.1", port, 2000);
    REQUIRE(fd >= 0);
    std::string hello = std::string("\x16\x03\x01 not http at all\n", 23);
    testing::sendAll(fd, hello);
    std::string got = testing::readExactly(fd, 9 + hello.size(), 5000);
    CHECK(got == "greeting\n" + hello);
    close(fd);
  }
  // A server-speaks-first protocol: the client waits; after listener_filters_timeout the
  // connection goes on as TCP and the server's greeting arrives.
  {
    int fd = testing::connectTcp("127.0.0.1", port, 2000);
    REQUIRE(fd >= 0);
    CHECK(testing::readExactly(fd, 9, 5000) == "greeting\n");
    testing::sendAll(fd, "after\n");
    CHECK(testing::readExactly(fd, 6, 5000) == "after\n");
    close(fd);
  }
  CHECK(proxy.stat("tcp.opaque.downstream_cx_total") == 2);
}

TEST_CASE("start-up: a port in use is a clear error and exit code 1, not a crash", "[http]") {
  int taken = testing::listenTcp("127.0.0.1", 0);
  uint16_t admin_port = testing::boundPort(taken);
  Upstream up;
  std::string boot = bootstrap(freePort(), up.port(), "/dev/null");
  std::string needle = "port_value: 0}}}";
  boot.replace(boot.find(needle), needle.size(), cat("port_value: ", admin_port, "}}}"));
  std::string dir = Binaries::get().dir + "/" + cat("startfail-", getpid());
  fs::create_directories(dir);
  writeFile(dir + "/bootstrap.yaml", boot);
  std::string out;
  int rc =
      runCommand({testing::buildDir() + "/proxy/remora", "--bootstrap", dir + "/bootstrap.yaml",
                  "--concurrency", "2", "--prometheus-address=", "--health-address="},
                 &out);
  close(taken);
  INFO(out);
  CHECK(rc == 1);
  CHECK(out.find("start-up failed: admin: bind") != std::string::npos);
  CHECK(out.find("Address already in use") != std::string::npos);
  CHECK(out.find("handles open") == std::string::npos);
}

TEST_CASE(
    "http2: a client with a small window still gets a large body whole (flow control "
    "pauses and resumes the upstream)",
    "[http][http2]") {
  Fixture f;
  std::string dir = Binaries::get().dir + "/" + cat("smallwin-", getpid());
  fs::create_directories(dir);
  // 64 KiB stream and connection windows: the proxy holds at most its per-stream limit and
  // must resume the upstream every time the client opens its window again.
  std::string out;
  int rc = runCommand(
      {"timeout", "60", "nghttp", "-n", "-w", "16", "-W", "16", "-s", f.url("/bytes/8000000")},
      &out);
  CHECK(rc == 0);
  CHECK(out.find("200") != std::string::npos);
  CHECK(f.proxy->stat("http.ingress.downstream_rq_tx_bytes_total") == 8000000);
  CHECK(f.proxy->stat("cluster.backend.upstream_flow_control_paused_reading_total") >= 1);
  CHECK(f.proxy->stat("cluster.backend.upstream_flow_control_resumed_reading_total") >= 1);
}

// A cluster named `up` with the upstream protocol and HttpProtocolOptions'
// common_http_protocol_options: idle_timeout and max_requests_per_connection.
std::string poolLimitsBootstrap(uint16_t listen_port, uint16_t upstream_port, bool h2) {
  return cat(R"(admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
  - name: in
    address: {socket_address: {address: 127.0.0.1, port_value: )",
             listen_port, R"(}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: in
          route_config:
            virtual_hosts: [{name: all, domains: ['*'], routes: [{match: {prefix: /}, route: {cluster: up}}]}]
          http_filters: [{name: envoy.filters.http.router, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
  clusters:
  - name: up
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        '@type': type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        common_http_protocol_options: {idle_timeout: 2s, max_requests_per_connection: 3}
        explicit_http_config: )",
             h2 ? "{http2_protocol_options: {}}" : "{http_protocol_options: {}}", R"(
    load_assignment: {cluster_name: up, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: )",
             upstream_port, "}}}}]}]}\n");
}

TEST_CASE(
    "http: upstream connections close after max_requests_per_connection and after idle_timeout "
    "unused (HTTP/1.1 and HTTP/2 pools)",
    "[http][http2]") {
  bool h2 = GENERATE(false, true);
  INFO((h2 ? "HTTP/2 upstream" : "HTTP/1.1 upstream"));
  std::string docroot = Binaries::get().dir + "/" + cat("pool-docroot-", getpid());
  fs::create_directories(docroot);
  std::ofstream(docroot + "/peer") << "from nghttpd";
  std::unique_ptr<Upstream> h1_up;
  std::unique_ptr<H2Upstream> h2_up;
  uint16_t up_port;
  if (h2) {
    h2_up = std::make_unique<H2Upstream>(H2Upstream::files(docroot));
    up_port = h2_up->port();
  } else {
    h1_up = std::make_unique<Upstream>();
    up_port = h1_up->port();
  }
  uint16_t port = freePort();
  ProxyUnderTest proxy(poolLimitsBootstrap(port, up_port, h2));
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }));
  std::string url = cat("http://127.0.0.1:", port, "/peer");
  auto get = [&] {
    auto r = curl({url});
    REQUIRE(r.rc == 0);
  };
  // Three requests share a connection; it then takes no more and closes.
  for (int i = 0; i < 3; ++i) get();
  CHECK(proxy.stat("cluster.up.upstream_cx_total") == 1);
  CHECK(testing::waitFor([&] { return proxy.stat("cluster.up.upstream_cx_max_requests") == 1; }));
  CHECK(testing::waitFor([&] { return proxy.stat("cluster.up.upstream_cx_active") == 0; }));
  get();
  CHECK(proxy.stat("cluster.up.upstream_cx_total") == 2);
  // Unused for idle_timeout: closed, and the next request opens another.
  CHECK(testing::waitFor([&] { return proxy.stat("cluster.up.upstream_cx_idle_timeout") == 1; },
                         10000));
  CHECK(testing::waitFor([&] { return proxy.stat("cluster.up.upstream_cx_active") == 0; }));
  CHECK(proxy.stat("cluster.up.upstream_cx_destroy_local") >= 1);
  get();
  CHECK(proxy.stat("cluster.up.upstream_cx_total") == 3);
  CHECK(proxy.stat("cluster.up.upstream_cx_max_requests") == 1);
  CHECK(proxy.stat("http.in.downstream_rq_2xx") == 5);
}

}  // namespace
}  // namespace remora::integration
