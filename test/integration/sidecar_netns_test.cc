// The sidecar end to end, as root, in two network namespaces joined by a veth pair: each pod
// has remora-init's iptables rules and a remora running as UID 1337; the client and server
// are plain sockets opened inside the pods (or real curl and python3 http.server).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "proxy/common/strings.h"
#include "test/common/test_util.h"
#include "test/integration/harness.h"

namespace remora::integration {
namespace {

using testing::ReadEnd;
using namespace std::chrono_literals;

constexpr const char* kOutCx = "listener.0.0.0.0_15001.downstream_cx_total";
constexpr const char* kInCx = "listener.0.0.0.0_15006.downstream_cx_total";

// Accepts one connection on a listening fd in its own thread, runs fn(fd) on it.
template <typename Fn>
std::thread serveOne(int listen_fd, Fn fn) {
  return std::thread([listen_fd, fn] {
    int fd = testing::acceptTcp(listen_fd, 10000);
    if (fd >= 0) {
      fn(fd);
      close(fd);
    }
  });
}

// True when a connection to ip:port is accepted and then reset by the proxy (on loopback the
// reset can already be there when connect() reports its result).
bool resetAfterAccept(Pod& pod, const std::string& ip, uint16_t port) {
  int c = pod.connect(ip, port);
  if (c < 0) return errno == ECONNRESET;
  std::string got;
  bool reset = testing::readToEnd(c, &got, 3000) == ReadEnd::Reset && got.empty();
  close(c);
  return reset;
}

TEST_CASE("netns: a connection from pod A reaches pod B through both sidecars", "[netns][root]") {
  TwoPods pods;
  int lfd = pods.b().listen("0.0.0.0", 8080);
  REQUIRE(lfd >= 0);
  std::string peer_seen;
  std::thread server = serveOne(lfd, [&](int fd) {
    sockaddr_in sa{};
    socklen_t len = sizeof(sa);
    getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    char buf[32];
    inet_ntop(AF_INET, &sa.sin_addr, buf, sizeof(buf));
    peer_seen = buf;
    std::string req = testing::readExactly(fd, 5);
    testing::sendAll(fd, req == "hello" ? "world" : "wrong");
  });
  int c = pods.a().connect("192.0.2.2", 8080);
  REQUIRE(c >= 0);
  testing::sendAll(c, "hello");
  CHECK(testing::readExactly(c, 5) == "world");
  close(c);
  server.join();
  close(lfd);
  // The app sees the inbound sidecar's passthrough source address.
  CHECK(peer_seen == "127.0.0.6");
  CHECK(testing::waitFor(
      [&] { return pods.a().stat("tcp.PassthroughCluster.downstream_cx_rx_bytes_total") == 5; }));
  CHECK(pods.a().stat(kOutCx) == 1);
  CHECK(pods.a().stat("tcp.PassthroughCluster.downstream_cx_tx_bytes_total") == 5);
  CHECK(pods.b().stat(kInCx) == 1);
  CHECK(pods.b().stat("cluster.InboundPassthroughCluster.upstream_cx_total") == 1);
  // No loop: neither proxy's own upstream connection came back into a listener.
  CHECK(pods.a().stat(kInCx) == 0);
  CHECK(pods.b().stat(kOutCx) == 0);
}

TEST_CASE("netns: real curl reaches a real HTTP server through both sidecars", "[netns][root]") {
  TwoPods pods;
  std::string www = Binaries::get().dir + "/www";
  std::filesystem::create_directories(www);
  std::ofstream(www + "/index.html") << "hello from pod B\n";
  Process server(pods.b().ns().exec({"python3", "-m", "http.server", "8080", "--directory", www}),
                 Binaries::get().dir + "/http.log");
  REQUIRE(testing::waitFor([&] {
    return pods.b().ns().run([] {
      int fd = testing::connectTcp("127.0.0.1", 8080, 200);
      if (fd >= 0) close(fd);
      return fd >= 0;
    });
  }));
  std::string out;
  int rc = runCommand(
      pods.a().ns().exec({"curl", "-sS", "-m", "5", "http://192.0.2.2:8080/index.html"}), &out);
  CHECK(rc == 0);
  CHECK(out == "hello from pod B\n");
  CHECK(pods.a().stat(kOutCx) == 1);
  CHECK(pods.b().stat(kInCx) >= 1);
}

TEST_CASE("netns: 64 MiB arrive intact both ways, with half-close", "[netns][root]") {
  TwoPods pods;
  int lfd = pods.b().listen("0.0.0.0", 9000);
  const std::string up = testing::randomBytes(64 << 20);
  const std::string down = testing::randomBytes(16 << 20);
  std::string at_server;
  std::thread server = serveOne(lfd, [&](int fd) {
    CHECK(testing::readToEnd(fd, &at_server, 20000) == ReadEnd::Eof);
    // The client has half-closed; this direction still works.
    testing::sendAll(fd, down);
    shutdown(fd, SHUT_WR);
  });
  int c = pods.a().connect("192.0.2.2", 9000);
  REQUIRE(c >= 0);
  std::thread sender([&] {
    testing::sendAll(c, up);
    shutdown(c, SHUT_WR);
  });
  std::string at_client;
  CHECK(testing::readToEnd(c, &at_client, 20000) == ReadEnd::Eof);
  sender.join();
  server.join();
  close(c);
  close(lfd);
  CHECK(testing::sha256Hex(at_server) == testing::sha256Hex(up));
  CHECK(testing::sha256Hex(at_client) == testing::sha256Hex(down));
  CHECK(testing::waitFor(
      [&] { return pods.a().stat("listener.0.0.0.0_15001.downstream_cx_active") == 0; }));
  CHECK(pods.a().stat("cluster.PassthroughCluster.upstream_cx_tx_bytes_total") ==
        int64_t(up.size()));
  CHECK(pods.b().stat("cluster.InboundPassthroughCluster.upstream_cx_rx_bytes_total") ==
        int64_t(down.size()));
}

TEST_CASE("netns: a port with no listener fails promptly and leaks nothing", "[netns][root]") {
  TwoPods pods;
  int base_a = pods.a().settledProxyFds(), base_b = pods.b().settledProxyFds();
  for (int i = 0; i < 20; ++i) {
    auto start = std::chrono::steady_clock::now();
    // Accepted by A's sidecar; B's sidecar finds no app on port 9; the client is reset.
    CHECK(resetAfterAccept(pods.a(), "192.0.2.2", 9));
    CHECK(std::chrono::steady_clock::now() - start < 2s);
  }
  CHECK(pods.b().stat("cluster.InboundPassthroughCluster.upstream_cx_connect_fail") == 20);
  CHECK(testing::waitFor(
      [&] { return pods.a().proxyFds() == base_a && pods.b().proxyFds() == base_b; }));
  CHECK(pods.a().stat("listener.0.0.0.0_15001.downstream_cx_active") == 0);
  CHECK(pods.b().stat("listener.0.0.0.0_15006.downstream_cx_active") == 0);
}

TEST_CASE("netns: connections straight to the proxy's own ports are refused, not looped",
          "[netns][root]") {
  TwoPods pods;
  // Not redirected (destination 127.0.0.1): the original destination is the listener itself.
  CHECK(resetAfterAccept(pods.a(), "127.0.0.1", 15001));
  CHECK(resetAfterAccept(pods.a(), "127.0.0.1", 15006));
  // From the other pod to B's capture port: A passes it on, B's inbound refuses it.
  CHECK(resetAfterAccept(pods.a(), "192.0.2.2", 15006));
  CHECK(pods.a().stat("listener.0.0.0.0_15001.downstream_cx_proxy_loop") == 1);
  CHECK(pods.a().stat("listener.0.0.0.0_15006.downstream_cx_proxy_loop") == 1);
  CHECK(pods.b().stat("listener.0.0.0.0_15006.downstream_cx_proxy_loop") == 1);
  CHECK(pods.a().stat("cluster.PassthroughCluster.upstream_cx_total") == 1);
  CHECK(pods.b().stat("cluster.InboundPassthroughCluster.upstream_cx_total") == 0);
  CHECK(pods.a().proxy().running());
  CHECK(pods.b().proxy().running());
}

TEST_CASE("netns: SIGTERM during a transfer lets it finish, then exits 0", "[netns][root]") {
  TwoPods pods({.proxy_args = {"--drain-timeout", "20s"}});
  int lfd = pods.b().listen("0.0.0.0", 9000);
  const std::string payload = testing::randomBytes(32 << 20);
  std::string at_server;
  std::atomic<bool> started{false};
  std::thread server = serveOne(lfd, [&](int fd) {
    // A slow reader: the transfer takes a couple of seconds.
    char buf[256 * 1024];
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      at_server.append(buf, static_cast<size_t>(n));
      started = true;
      std::this_thread::sleep_for(15ms);
    }
  });
  int c = pods.a().connect("192.0.2.2", 9000);
  REQUIRE(c >= 0);
  std::thread sender([&] {
    testing::sendAll(c, payload);
    shutdown(c, SHUT_WR);
  });
  REQUIRE(testing::waitFor([&] { return started.load(); }));
  pods.a().proxy().signal(SIGTERM);
  // Draining: not ready, and no new connections accepted.
  CHECK(testing::waitFor([&] {
    return httpRequest(pods.a().ns(), "127.0.0.1", 15000, "GET", "/ready").status == 503;
  }));
  CHECK(httpRequest(pods.a().ns(), "127.0.0.1", 15000, "GET", "/ready").body == "DRAINING\n");
  // The listeners close on each worker's loop right after /ready flips: within moments, a new
  // connection is refused (one that slips in before is part of the drain; it is closed here).
  CHECK(testing::waitFor([&] {
    int late = pods.a().connect("192.0.2.2", 9000, 1000);
    if (late < 0) return true;
    close(late);
    return false;
  }));
  sender.join();
  server.join();
  CHECK(at_server.size() == payload.size());
  CHECK(testing::sha256Hex(at_server) == testing::sha256Hex(payload));
  close(c);
  close(lfd);
  int rc = pods.a().proxy().wait(10000);
  INFO(pods.a().proxy().log());
  CHECK(rc == 0);
  CHECK(pods.a().proxy().log().find("drained: no connections left") != std::string::npos);
}

TEST_CASE(
    "netns: silent, resetting and 2,000 simultaneous connections leave the proxy up and fds at "
    "baseline",
    "[netns][root]") {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  REQUIRE(rl.rlim_cur >= 6000);

  TwoPods pods;
  int base_a = pods.a().settledProxyFds(), base_b = pods.b().settledProxyFds();
  int lfd = pods.b().listen("0.0.0.0", 8080);
  constexpr int kConns = 2000;
  std::vector<int> accepted;
  std::thread acceptor([&] {
    while (static_cast<int>(accepted.size()) < kConns) {
      int fd = testing::acceptTcp(lfd, 10000);
      if (fd < 0) break;
      accepted.push_back(fd);
    }
  });
  std::vector<int> clients;
  for (int i = 0; i < kConns; ++i) {
    int c = pods.a().connect("192.0.2.2", 8080);
    if (c < 0) break;
    clients.push_back(c);
  }
  acceptor.join();
  CHECK(clients.size() == kConns);
  CHECK(accepted.size() == kConns);
  CHECK(pods.a().stat("listener.0.0.0.0_15001.downstream_cx_active") == kConns);
  // A third send nothing, a third reset mid-stream, a third send and close normally.
  for (size_t i = 0; i < clients.size(); ++i) {
    if (i % 3 == 1) {
      testing::sendAll(clients[i], "partial request");
      testing::resetClose(clients[i]);
    } else if (i % 3 == 2) {
      testing::sendAll(clients[i], "bye");
      close(clients[i]);
    }
  }
  CHECK(pods.a().proxy().running());
  CHECK(pods.b().proxy().running());
  // A normal request still works while all of that is open.
  {
    int lfd2 = pods.b().listen("0.0.0.0", 8081);
    std::thread echo =
        serveOne(lfd2, [](int fd) { testing::sendAll(fd, testing::readExactly(fd, 4)); });
    int c = pods.a().connect("192.0.2.2", 8081);
    testing::sendAll(c, "ping");
    CHECK(testing::readExactly(c, 4) == "ping");
    close(c);
    echo.join();
    close(lfd2);
  }
  for (size_t i = 0; i < clients.size(); i += 3) close(clients[i]);
  for (int fd : accepted) close(fd);
  close(lfd);
  CHECK(testing::waitFor(
      [&] { return pods.a().proxyFds() == base_a && pods.b().proxyFds() == base_b; }, 20000));
  CHECK(pods.a().stat("listener.0.0.0.0_15001.downstream_cx_active") == 0);
  CHECK(pods.b().stat("listener.0.0.0.0_15006.downstream_cx_active") == 0);
  CHECK(pods.a().stat("cluster.PassthroughCluster.upstream_cx_active") == 0);
  CHECK(pods.a().stat(kOutCx) == kConns + 1);
  CHECK(httpRequest(pods.a().ns(), "127.0.0.1", 15000, "GET", "/ready").status == 200);
}

TEST_CASE("netns: at the drain deadline open connections are reset and the proxy exits 0",
          "[netns][root]") {
  TwoPods pods({.proxy_args = {"--drain-timeout", "1s"}});
  int lfd = pods.b().listen("0.0.0.0", 8080);
  int server_fd = -1;
  std::thread acceptor([&] { server_fd = testing::acceptTcp(lfd, 5000); });
  int c = pods.a().connect("192.0.2.2", 8080);
  REQUIRE(c >= 0);
  acceptor.join();
  REQUIRE(server_fd >= 0);
  auto start = std::chrono::steady_clock::now();
  pods.a().proxy().signal(SIGTERM);
  std::string got;
  CHECK(testing::readToEnd(c, &got, 5000) == ReadEnd::Reset);
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 900ms);
  CHECK(waited < 4s);
  int rc = pods.a().proxy().wait(5000);
  INFO(pods.a().proxy().log());
  CHECK(rc == 0);
  CHECK(pods.a().proxy().log().find("drain timeout") != std::string::npos);
  close(c);
  close(server_fd);
  close(lfd);
}

TEST_CASE("netns: POST /quitquitquit answers, then exits at once with 0", "[netns][root]") {
  TwoPods pods;
  CHECK(httpRequest(pods.a().ns(), "127.0.0.1", 15000, "GET", "/quitquitquit").status == 405);
  CHECK(pods.a().proxy().running());
  HttpResult r = httpRequest(pods.a().ns(), "127.0.0.1", 15000, "POST", "/quitquitquit");
  CHECK(r.status == 200);
  CHECK(r.body == "OK\n");
  int rc = pods.a().proxy().wait(5000);
  INFO(pods.a().proxy().log());
  CHECK(rc == 0);
  CHECK(pods.a().proxy().log().find("exited cleanly") != std::string::npos);
}

TEST_CASE("netns: a connection that sends nothing is closed by the idle timeout", "[netns][root]") {
  TwoPods pods({.proxy_args = {"--idle-timeout", "1s"}});
  int lfd = pods.b().listen("0.0.0.0", 8080);
  std::thread server = serveOne(lfd, [](int fd) {
    std::string got;
    testing::readToEnd(fd, &got, 10000);
  });
  int c = pods.a().connect("192.0.2.2", 8080);
  REQUIRE(c >= 0);
  std::string got;
  auto start = std::chrono::steady_clock::now();
  CHECK(testing::readToEnd(c, &got, 10000) == ReadEnd::Eof);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  server.join();
  close(c);
  close(lfd);
  CHECK(pods.a().stat("tcp.PassthroughCluster.idle_timeout") == 1);
}

TEST_CASE("netns: metrics are valid for promtool and a real Prometheus scrapes them",
          "[netns][root]") {
  TwoPods pods;
  int c = pods.a().connect("192.0.2.2", 9);  // moves a few counters
  if (c >= 0) close(c);
  HttpResult r = httpRequest(pods.a().ns(), "127.0.0.1", 15090, "GET", "/stats/prometheus");
  REQUIRE(r.status == 200);
  std::string metrics_file = Binaries::get().dir + "/metrics.txt";
  std::ofstream(metrics_file) << r.body;
  std::string out;
  int rc = runCommand({"sh", "-c", "promtool check metrics < " + metrics_file}, &out);
  // Exit 1 is a parse error; 3 is lint only. The only lint we accept is about "_total"
  // suffixes: Envoy's own names (counters without it, the membership_total gauge) are kept
  // for dashboard compatibility.
  CHECK(rc != 1);
  for (std::string_view line : split(out, '\n', true)) {
    INFO(line);
    CHECK(line.find("have \"_total\" suffix") != std::string_view::npos);
  }
  // The scrape port answers only /stats/prometheus.
  CHECK(httpRequest(pods.a().ns(), "127.0.0.1", 15090, "POST", "/quitquitquit").status == 404);

  std::string dir = Binaries::get().dir + "/prom-" + pods.a().ns().name();
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n"
         "scrape_configs:\n  - job_name: remora\n"
         "    metrics_path: /stats/prometheus\n"
         "    static_configs:\n      - targets: ['127.0.0.1:15090']\n";
  Process prom(pods.a().ns().exec({"prometheus", "--config.file=" + dir + "/prometheus.yml",
                                   "--storage.tsdb.path=" + dir + "/data",
                                   "--web.listen-address=127.0.0.1:9090"}),
               dir + "/prometheus.log");
  std::string query = "/api/v1/query?query=envoy_cluster_upstream_cx_connect_fail";
  bool scraped = testing::waitFor(
      [&] {
        HttpResult q = httpRequest(pods.a().ns(), "127.0.0.1", 9090, "GET", query);
        return q.status == 200 &&
               q.body.find("\"envoy_cluster_name\":\"PassthroughCluster\"") != std::string::npos;
      },
      30000);
  INFO(prom.log());
  CHECK(scraped);
  HttpResult up = httpRequest(pods.a().ns(), "127.0.0.1", 9090, "GET", "/api/v1/query?query=up");
  CHECK(up.body.find("\"value\":[") != std::string::npos);
  CHECK(up.body.find("\"1\"]") != std::string::npos);
}

TEST_CASE("netns: remora-init applies atomically, is idempotent and cleans up", "[netns][root]") {
  Netns ns(uniquePrefix() + "i");
  const std::string init = Binaries::get().remora_init;
  auto save = [&] {
    std::string out;
    runCommand(ns.exec({"iptables-save", "-t", "nat"}), &out);
    std::string rules;
    for (std::string_view line : split(out, '\n', true)) {
      if (!line.starts_with("#")) append(&rules, line, "\n");
    }
    return rules;
  };
  std::string before = save();
  REQUIRE(runCommand(ns.exec({init, "--exclude-inbound-ports", "22"})) == 0);
  std::string once = save();
  REQUIRE(runCommand(ns.exec({init, "--exclude-inbound-ports", "22"})) == 0);
  CHECK(save() == once);
  CHECK(once.find("-A PREROUTING -p tcp -j REMORA_INBOUND") != std::string::npos);
  CHECK(once.find("--dport 22 -j RETURN") != std::string::npos);
  // A changed configuration replaces the old rules (no stale port 22).
  REQUIRE(runCommand(ns.exec({init})) == 0);
  CHECK(save().find("--dport 22 -j RETURN") == std::string::npos);
  REQUIRE(runCommand(ns.exec({init, "--cleanup"})) == 0);
  CHECK(save() == before);
  std::string out;
  CHECK(runCommand(ns.exec({init, "--cleanup"}), &out) == 0);
  CHECK(out.find("nothing to remove") != std::string::npos);
  // A rule iptables rejects makes the whole apply fail and changes nothing.
  CHECK(runCommand(ns.exec({init, "--iptables-restore", "false"})) != 0);
  CHECK(save() == before);
}

}  // namespace
}  // namespace remora::integration
