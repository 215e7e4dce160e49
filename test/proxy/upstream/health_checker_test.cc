// Active health checks on a real event loop against loopback responders: first checks,
// thresholds both ways, expected statuses, TCP send/receive, timeouts, refused connections,
// several checks per host, connection reuse, and the stats.
#include "proxy/upstream/health_checker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "proxy/upstream/cluster.h"

namespace remora::upstream {
namespace {

using namespace std::chrono_literals;

// A loopback server on its own thread with blocking sockets. `answer` sees the bytes a
// connection has sent and not yet consumed; it consumes what it answers and returns the bytes
// to write (close: the server then closes the connection).
class Responder {
 public:
  struct Answer {
    std::string bytes;
    bool close = false;
  };
  using Handler = std::function<Answer(std::string& pending)>;

  explicit Responder(Handler answer) : answer_(std::move(answer)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(listen_fd_, 64) == 0);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~Responder() {
    stop_ = true;
    thread_.join();
    for (auto& [fd, buf] : conns_) ::close(fd);
    ::close(listen_fd_);
  }

  uint16_t port() const { return port_; }
  net::Address address() const { return *net::Address::parseIp("127.0.0.1", port_); }
  int accepted() const { return accepted_; }
  std::string lastRequest() {
    std::lock_guard<std::mutex> g(mu_);
    return last_;
  }

 private:
  void run() {
    while (!stop_) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      for (auto& [fd, buf] : conns_) fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 10) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd >= 0) {
          conns_[fd] = "";
          ++accepted_;
        }
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        int fd = fds[i].fd;
        char buf[4096];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
          ::close(fd);
          conns_.erase(fd);
          continue;
        }
        std::string& pending = conns_[fd];
        pending.append(buf, static_cast<size_t>(n));
        {
          std::lock_guard<std::mutex> g(mu_);
          last_ = pending;
        }
        Answer a = answer_(pending);
        if (!a.bytes.empty()) (void)!::write(fd, a.bytes.data(), a.bytes.size());
        if (a.close) {
          ::close(fd);
          conns_.erase(fd);
        }
      }
    }
  }

  Handler answer_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::map<int, std::string> conns_;  // the server thread's
  std::mutex mu_;
  std::string last_;
};

// An HTTP/1.1 server answering every request with `status` (keep-alive).
struct HttpResponder {
  std::atomic<int> status{200};
  std::atomic<int> requests{0};
  Responder server{[this](std::string& pending) {
    Responder::Answer a;
    size_t end;
    while ((end = pending.find("\r\n\r\n")) != std::string::npos) {
      pending.erase(0, end + 4);
      ++requests;
      a.bytes += "HTTP/1.1 " + std::to_string(status.load()) + " X\r\ncontent-length: 2\r\n\r\nok";
    }
    return a;
  }};
};

// A port nothing listens on.
uint16_t closedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

config::HealthCheckConfig httpCheck(uint32_t unhealthy = 1, uint32_t healthy = 1) {
  config::HealthCheckConfig c;
  c.kind = config::HealthCheckConfig::Kind::Http;
  c.timeout = 500ms;
  c.interval = 20ms;
  c.unhealthy_threshold = unhealthy;
  c.healthy_threshold = healthy;
  c.path = "/healthz";
  return c;
}

config::HealthCheckConfig tcpCheck(std::string send, std::vector<std::string> receive) {
  config::HealthCheckConfig c;
  c.kind = config::HealthCheckConfig::Kind::Tcp;
  c.timeout = 500ms;
  c.interval = 20ms;
  c.send = std::move(send);
  c.receive = std::move(receive);
  return c;
}

struct Fixture {
  explicit Fixture(std::vector<net::Address> addresses) {
    for (const auto& a : addresses) hosts.push_back(std::make_shared<Host>(a, 1, 0, false));
    checker = std::make_shared<HealthChecker>(loop, store, "hc_test", state);
  }
  ~Fixture() {
    checker->stop();
    loop.shutdown();
    loop.run();
    CHECK(loop.close());
  }
  template <typename Done>
  bool runUntil(Done done, uint64_t limit_ms = 5000) {
    uint64_t start = loop.now();
    while (!done() && loop.now() - start < limit_ms) uv_run(loop.uv(), UV_RUN_ONCE);
    return done();
  }
  bool healthy(size_t i) const { return hosts[i]->healthy(); }
  uint32_t flags(size_t i) const {
    return hosts[i]->flags() & (Host::kFailedActiveHealthCheck | Host::kPendingActiveHealthCheck);
  }
  int64_t stat(const std::string& name) {
    int64_t v = -1;
    store.forEach([&](const stats::Scope& s) {
      s.visit([&](const stats::StatValue& st) {
        if (s.prefix() + std::string(st.name) == "cluster.hc_test.health_check." + name)
          v = st.value;
      });
    });
    return v;
  }
  uint64_t generation() const { return state->health_generation.load(); }

  event::EventLoop loop{"hc"};
  stats::Store store;
  std::shared_ptr<ClusterState> state = std::make_shared<ClusterState>();
  HostVector hosts;
  std::shared_ptr<HealthChecker> checker;
};

constexpr uint32_t kFailedPending =
    Host::kFailedActiveHealthCheck | Host::kPendingActiveHealthCheck;

TEST_CASE("hosts start failed and pending and a first passing check makes them healthy at once",
          "[health]") {
  HttpResponder backend;
  Fixture f({backend.server.address()});
  uint64_t gen = f.generation();
  std::vector<const Host*> passed;
  f.checker->setOnSuccess([&](const Host* h) { passed.push_back(h); });
  f.checker->update({httpCheck(/*unhealthy=*/3, /*healthy=*/3)}, f.hosts);
  CHECK(f.flags(0) == kFailedPending);
  CHECK_FALSE(f.healthy(0));
  CHECK(f.generation() > gen);
  gen = f.generation();

  REQUIRE(f.runUntil([&] { return f.healthy(0); }));
  CHECK(f.stat("success") == 1);  // healthy_threshold 3 does not apply to the first check
  CHECK(f.stat("attempt") == 1);
  CHECK(f.stat("healthy") == 1);
  CHECK(f.generation() > gen);
  REQUIRE(passed.size() == 1);
  CHECK(passed[0] == f.hosts[0].get());
  std::string req = backend.server.lastRequest();
  CHECK(req.rfind("GET /healthz HTTP/1.1\r\n", 0) == 0);
  CHECK(req.find("host: hc_test\r\n") != std::string::npos);
  CHECK(req.find("user-agent: Envoy/HC\r\n") != std::string::npos);
}

TEST_CASE(
    "an HTTP host answering 503 fails at once (unhealthy_threshold is for network failures) "
    "and returns after healthy_threshold",
    "[health]") {
  HttpResponder backend;
  Fixture f({backend.server.address()});
  f.checker->update({httpCheck(/*unhealthy=*/2, /*healthy=*/3)}, f.hosts);
  REQUIRE(f.runUntil([&] { return f.healthy(0); }));
  uint64_t gen = f.generation();

  backend.status = 503;
  int64_t failures = f.stat("failure");
  REQUIRE(f.runUntil([&] { return f.stat("failure") == failures + 1; }));
  // An unexpected status is not a flaky network: Envoy fails the host at once.
  CHECK_FALSE(f.healthy(0));
  CHECK(f.flags(0) == Host::kFailedActiveHealthCheck);
  CHECK(f.stat("healthy") == 0);
  CHECK(f.stat("network_failure") == 0);
  CHECK(f.generation() > gen);
  gen = f.generation();

  backend.status = 200;
  int64_t successes = f.stat("success");
  REQUIRE(f.runUntil([&] { return f.stat("success") == successes + 2; }));
  CHECK_FALSE(f.healthy(0));
  CHECK(f.generation() == gen);
  REQUIRE(f.runUntil([&] { return f.stat("success") == successes + 3; }));
  CHECK(f.healthy(0));
  CHECK(f.generation() > gen);
  CHECK(f.stat("healthy") == 1);
  // Every check used the one kept-alive connection.
  CHECK(backend.server.accepted() == 1);
  int64_t done = f.stat("success") + f.stat("failure");
  CHECK(f.stat("attempt") >= done);  // one check may be in flight
  CHECK(f.stat("attempt") <= done + 1);
  CHECK(f.stat("passive_failure") == 0);
  CHECK(f.stat("verify_cluster") == 0);
}

TEST_CASE("expected_statuses ranges decide which answers pass", "[health]") {
  HttpResponder ok204, plain200;
  ok204.status = 204;
  Fixture f({ok204.server.address(), plain200.server.address()});
  auto c = httpCheck();
  c.expected_statuses = {{204, 205}, {300, 302}};
  f.checker->update({c}, f.hosts);
  REQUIRE(f.runUntil([&] { return f.healthy(0) && plain200.requests >= 2; }));
  CHECK_FALSE(f.healthy(1));
  CHECK(f.flags(1) == Host::kFailedActiveHealthCheck);  // checked: no longer pending
  plain200.status = 301;
  REQUIRE(f.runUntil([&] { return f.healthy(1); }));

  // Without expected_statuses only 200 passes.
  HttpResponder only204;
  only204.status = 204;
  Fixture g({only204.server.address()});
  g.checker->update({httpCheck()}, g.hosts);
  REQUIRE(g.runUntil([&] { return g.stat("failure") >= 1; }));
  CHECK_FALSE(g.healthy(0));
}

TEST_CASE("request headers to add and remove, and the host override", "[health]") {
  HttpResponder backend;
  Fixture f({backend.server.address()});
  auto c = httpCheck();
  c.host = "health.example";
  c.request_headers_to_add = {{"X-Probe", "1"}};
  c.request_headers_to_remove = {"user-agent"};
  f.checker->update({c}, f.hosts);
  REQUIRE(f.runUntil([&] { return f.healthy(0); }));
  std::string req = backend.server.lastRequest();
  CHECK(req.find("host: health.example\r\n") != std::string::npos);
  CHECK(req.find("x-probe: 1\r\n") != std::string::npos);
  CHECK(req.find("user-agent") == std::string::npos);
}

// Answers "po-ng" to "ping" and "nope" (then closes) to anything else.
Responder::Answer pingPong(std::string& pending) {
  if (pending.size() < 4) return {};
  bool ping = pending.compare(0, 4, "ping") == 0;
  pending.clear();
  if (ping) return {"po-ng", false};
  return {"nope", true};
}

TEST_CASE("a TCP check sends its bytes and passes only on the expected reply", "[health]") {
  Responder server(pingPong);
  // Envoy's matching: each expected string somewhere in the reply, in order.
  Fixture f({server.address()});
  f.checker->update({tcpCheck("ping", {"po", "ng"})}, f.hosts);
  REQUIRE(f.runUntil([&] { return f.healthy(0); }));
  CHECK(server.lastRequest() == "ping");

  Fixture g({server.address()});
  g.checker->update({tcpCheck("pang", {"pong"})}, g.hosts);
  REQUIRE(g.runUntil([&] { return g.stat("failure") >= 2; }));
  CHECK_FALSE(g.healthy(0));
  CHECK(g.stat("success") == 0);

  // The reply in the wrong order fails too.
  Fixture h({server.address()});
  auto c = tcpCheck("ping", {"ng", "po"});
  c.timeout = 50ms;
  h.checker->update({c}, h.hosts);
  REQUIRE(h.runUntil([&] { return h.stat("failure") >= 1; }));
  CHECK_FALSE(h.healthy(0));
}

TEST_CASE("a TCP check without send or receive passes on connect", "[health]") {
  Responder server([](std::string& p) {
    p.clear();
    return Responder::Answer{};
  });
  Fixture f({server.address(), *net::Address::parseIp("127.0.0.1", closedPort())});
  f.checker->update({tcpCheck("", {})}, f.hosts);
  REQUIRE(f.runUntil([&] { return f.healthy(0) && f.stat("failure") >= 1; }));
  CHECK_FALSE(f.healthy(1));
  CHECK(f.flags(1) == Host::kFailedActiveHealthCheck);
}

TEST_CASE("a host that accepts and never answers fails on the timeout", "[health]") {
  Responder silent([](std::string& p) {
    p.clear();
    return Responder::Answer{};
  });
  Fixture f({silent.address()});
  auto c = httpCheck();
  c.timeout = 50ms;
  f.checker->update({c}, f.hosts);
  uint64_t start = f.loop.now();
  REQUIRE(f.runUntil([&] { return f.stat("failure") == 1; }));
  CHECK(f.loop.now() - start >= 45);
  CHECK(f.flags(0) == Host::kFailedActiveHealthCheck);  // no longer pending, still failed
  CHECK(f.stat("network_failure") == 1);
  CHECK(f.stat("success") == 0);
}

TEST_CASE("a closed port fails, and a healthy host going away fails after the threshold",
          "[health]") {
  Fixture f({*net::Address::parseIp("127.0.0.1", closedPort())});
  f.checker->update({httpCheck(2, 2)}, f.hosts);
  REQUIRE(f.runUntil([&] { return f.stat("failure") >= 2; }));
  CHECK_FALSE(f.healthy(0));
  CHECK(f.flags(0) == Host::kFailedActiveHealthCheck);
  CHECK(f.stat("network_failure") >= 2);
  CHECK(f.stat("success") == 0);

  auto backend = std::make_unique<HttpResponder>();
  Fixture g({backend->server.address()});
  g.checker->update({httpCheck(2, 2)}, g.hosts);
  REQUIRE(g.runUntil([&] { return g.healthy(0); }));
  int64_t failures = g.stat("failure");
  backend.reset();  // the connection resets and the port closes
  REQUIRE(g.runUntil([&] { return g.stat("failure") == failures + 1; }));
  CHECK(g.healthy(0));
  REQUIRE(g.runUntil([&] { return !g.healthy(0); }));
  CHECK(g.stat("network_failure") >= 2);
}

TEST_CASE("with several health checks a host is healthy only while all pass", "[health]") {
  HttpResponder backend;
  Fixture f({backend.server.address()});
  auto tcp = tcpCheck("ping", {"pong"});  // the HTTP server never answers this
  tcp.timeout = 50ms;
  f.checker->update({httpCheck(), tcp}, f.hosts);
  REQUIRE(f.runUntil([&] { return f.stat("success") >= 2 && f.stat("failure") >= 2; }));
  CHECK_FALSE(f.healthy(0));
  CHECK(f.flags(0) == Host::kFailedActiveHealthCheck);
  // A changed configuration restarts the checks and keeps the host's health until they run.
  f.checker->update({httpCheck(), tcpCheck("", {})}, f.hosts);
  CHECK(f.flags(0) == Host::kFailedActiveHealthCheck);
  REQUIRE(f.runUntil([&] { return f.healthy(0); }));
}

TEST_CASE("hosts that leave are forgotten and stop() clears the flags", "[health]") {
  HttpResponder a, b;
  Fixture f({a.server.address(), b.server.address()});
  f.checker->update({httpCheck()}, f.hosts);
  REQUIRE(f.runUntil([&] { return f.healthy(0) && f.healthy(1); }));
  CHECK(f.stat("healthy") == 2);
  f.checker->update({httpCheck()}, {f.hosts[0]});
  CHECK(f.stat("healthy") == 1);
  int a_before = a.requests;
  REQUIRE(f.runUntil([&] { return a.requests >= a_before + 1; }));
  int before = b.requests;  // a probe already on its way has been answered by now
  REQUIRE(f.runUntil([&] { return a.requests >= a_before + 5; }));
  CHECK(b.requests == before);

  // A host new to the checker starts failed and pending again.
  auto c = std::make_shared<Host>(b.server.address(), 1, 0, false);
  f.hosts.push_back(c);
  f.checker->update({httpCheck()}, {f.hosts[0], c});
  CHECK((c->flags() & kFailedPending) == kFailedPending);
  REQUIRE(f.runUntil([&] { return c->healthy(); }));

  a.status = 500;
  REQUIRE(f.runUntil([&] { return !f.healthy(0); }));
  uint64_t gen = f.generation();
  f.checker->stop();
  CHECK(f.healthy(0));
  CHECK(f.flags(0) == 0);
  CHECK(f.generation() > gen);
}

}  // namespace
}  // namespace remora::upstream
