// The TCP relay on loopback: a real worker loop, a real listener and real sockets on both
// sides, with a STATIC cluster instead of iptables.
#include "filters/network/tcp_proxy/tcp_proxy.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <future>
#include <thread>

#include "proxy/net/socket.h"
#include "proxy/server/listener.h"
#include "proxy/server/snapshot.h"
#include "proxy/server/worker.h"
#include "test/common/test_util.h"

namespace remora::filters {
namespace {

using namespace std::chrono_literals;

struct HarnessOptions {
  uint32_t buffer_limit = 1024 * 1024;
  config::Duration connect_timeout = 5s;
  config::Duration idle_timeout = 1h;
  uint16_t backend_port = 0;
};

class Harness {
 public:
  explicit Harness(HarnessOptions o) : worker_(0) {
    config::ClusterConfig cc;
    cc.name = "backend";
    cc.type = config::ClusterConfig::Type::Static;
    cc.endpoints.push_back({*net::Address::parse("127.0.0.1:" + std::to_string(o.backend_port))});
    cc.connect_timeout = o.connect_timeout;
    cluster_ = std::make_shared<upstream::Cluster>(cc, store_, 1);

    config::ListenerConfig lc;
    lc.name = "test";
    lc.address = *net::Address::parse("127.0.0.1:0");
    lc.per_connection_buffer_limit_bytes = o.buffer_limit;
    config::FilterChainConfig chain;
    chain.filters.push_back(
        {"envoy.filters.network.tcp_proxy", {"test", "backend", {}, o.idle_timeout}, {}});
    lc.filter_chains.push_back(chain);
    server::NetworkFilterRegistry registry{
        {"envoy.filters.network.tcp_proxy", &createTcpProxyFactory}};
    auto listener = server::Listener::create(lc, registry, store_, 1);
    REQUIRE(listener.ok());
    listener_ = *listener;
    auto snapshot = std::make_shared<server::Snapshot>();
    snapshot->clusters["backend"] = cluster_;
    snapshot->listeners["test"] = listener_;

    auto fd = net::bindTcpSocket(lc.address, false);
    REQUIRE(fd.ok());
    REQUIRE(::listen(*fd, 1024) == 0);
    port_ = net::localAddress(*fd)->port();
    server::SocketChanges changes;
    changes.open["test"] = *fd;
    worker_.loop().post([this, snapshot, changes] {
      worker_.applySnapshot(snapshot, changes, std::chrono::seconds(600));
    });
    worker_.start();
  }
  ~Harness() { stop(); }

  // Stops the worker (open sessions are reset); true when its loop closed with no handle open.
  bool stop() {
    if (!stopped_) {
      stopped_ = true;
      worker_.loop().post([this] { worker_.shutdown(); });
      clean_ = worker_.join();
    }
    return clean_;
  }

  template <typename T>
  T onWorker(std::function<T()> fn) {
    std::promise<T> p;
    worker_.loop().post([&] { p.set_value(fn()); });
    return p.get_future().get();
  }
  size_t sessions() {
    return onWorker<size_t>([this] { return worker_.activeSessions(); });
  }
  size_t blocksInFlight() {
    return onWorker<size_t>([this] { return worker_.loop().blocks().outstanding(); });
  }
  const TcpProxyStats& stats() {
    if (!tcp_stats_) tcp_stats_ = store_.shardedScope<TcpProxyStats>(1, "tcp.test.", "tcp", {});
    return tcp_stats_->shard(0);
  }
  const upstream::ClusterStats& clusterStats() const { return cluster_->stats(0); }
  const server::ListenerStats& listenerStats() const { return listener_->stats(0); }
  uint16_t port() const { return port_; }
  int connect() { return testing::connectTcp("127.0.0.1", port_); }

 private:
  stats::Store store_;
  std::shared_ptr<upstream::Cluster> cluster_;
  std::shared_ptr<stats::ShardedScope<TcpProxyStats>> tcp_stats_;
  std::shared_ptr<server::Listener> listener_;
  server::Worker worker_;
  uint16_t port_ = 0;
  bool stopped_ = false;
  bool clean_ = false;
};

struct Backend {
  Backend() : fd(testing::listenTcp("127.0.0.1", 0)), port(testing::boundPort(fd)) {}
  ~Backend() { close(fd); }
  int fd;
  uint16_t port;
};

TEST_CASE("bytes arrive intact both ways and half-close works in both directions", "[tcp_proxy]") {
  Backend backend;
  Harness h({.backend_port = backend.port});
  const std::string up = testing::randomBytes(8 << 20);
  const std::string down = testing::randomBytes(8 << 20);

  int client = h.connect();
  REQUIRE(client >= 0);
  int server = testing::acceptTcp(backend.fd);
  REQUIRE(server >= 0);

  // Client sends everything and half-closes; the backend reads to EOF, then answers and
  // closes. The client must still receive after its own FIN.
  std::thread sender([&] {
    testing::sendAll(client, up);
    shutdown(client, SHUT_WR);
  });
  std::string at_backend;
  CHECK(testing::readToEnd(server, &at_backend) == testing::ReadEnd::Eof);
  sender.join();
  CHECK(testing::sha256Hex(at_backend) == testing::sha256Hex(up));
  std::thread answer([&] {
    testing::sendAll(server, down);
    shutdown(server, SHUT_WR);
  });
  std::string at_client;
  CHECK(testing::readToEnd(client, &at_client) == testing::ReadEnd::Eof);
  answer.join();
  CHECK(testing::sha256Hex(at_client) == testing::sha256Hex(down));
  close(client);
  close(server);

  CHECK(testing::waitFor([&] { return h.sessions() == 0; }));
  CHECK(h.stats().downstream_cx_rx_bytes_total.value() == up.size());
  CHECK(h.stats().downstream_cx_tx_bytes_total.value() == down.size());
  CHECK(h.clusterStats().upstream_cx_tx_bytes_total.value() == up.size());
  CHECK(h.clusterStats().upstream_cx_total.value() == 1);
  CHECK(h.clusterStats().upstream_cx_active.value() == 0);
  CHECK(h.listenerStats().downstream_cx_total.value() == 1);
  CHECK(h.listenerStats().downstream_cx_active.value() == 0);
  CHECK(h.listenerStats().downstream_cx_destroy.value() == 1);
  CHECK(h.blocksInFlight() == 0);
  CHECK(h.stop());
}

TEST_CASE("a slow reader never makes the proxy buffer past its limit", "[tcp_proxy]") {
  Backend backend;
  const uint32_t limit = 64 * 1024;
  Harness h({.buffer_limit = limit, .backend_port = backend.port});
  int client = h.connect();
  int server = testing::acceptTcp(backend.fd);
  REQUIRE(server >= 0);
  // Far more than the kernel's socket buffers hold, so the proxy must push back.
  const std::string payload = testing::randomBytes(24 << 20);
  std::thread sender([&] {
    testing::sendAll(client, payload);
    shutdown(client, SHUT_WR);
  });
  // The backend is not reading: the upstream queue passes the high watermark and the proxy
  // stops reading the client.
  REQUIRE(testing::waitFor(
      [&] { return h.stats().downstream_flow_control_paused_reading_total.value() >= 1; }));
  size_t max_blocks = 0;
  for (int i = 0; i < 20; ++i) {
    max_blocks = std::max(max_blocks, h.blocksInFlight());
    std::this_thread::sleep_for(20ms);
  }
  const size_t bound = limit + 2 * event::Block::capacity();
  INFO("blocks in flight: " << max_blocks);
  CHECK(max_blocks * event::Block::capacity() <= bound);
  CHECK(h.stats().downstream_cx_rx_bytes_total.value() < payload.size());

  std::string got;
  CHECK(testing::readToEnd(server, &got) == testing::ReadEnd::Eof);
  sender.join();
  CHECK(got.size() == payload.size());
  CHECK(testing::sha256Hex(got) == testing::sha256Hex(payload));
  CHECK(h.stats().downstream_flow_control_resumed_reading_total.value() >= 1);
  close(client);
  close(server);
  CHECK(testing::waitFor([&] { return h.sessions() == 0; }));
  CHECK(h.blocksInFlight() == 0);
}

TEST_CASE("refused upstream: the client is reset at once and nothing leaks", "[tcp_proxy]") {
  // A port bound but not listening: connections to it are refused, and, unlike a port that
  // was listening and closed, nothing else (the harness's own listener) can be given it.
  int reserved = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(reserved, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  uint16_t dead_port = testing::boundPort(reserved);
  Harness h({.backend_port = dead_port});
  int client = h.connect();
  INFO("connect: " << strerror(errno));
  REQUIRE(client >= 0);
  std::string got;
  auto start = std::chrono::steady_clock::now();
  CHECK(testing::readToEnd(client, &got, 3000) == testing::ReadEnd::Reset);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(got.empty());
  close(client);
  CHECK(h.clusterStats().upstream_cx_connect_fail.value() == 1);
  CHECK(testing::waitFor([&] { return h.sessions() == 0; }));
  CHECK(h.clusterStats().upstream_cx_active.value() == 0);
  close(reserved);
}

TEST_CASE("connect timeout when the upstream never answers the SYN", "[tcp_proxy]") {
  // A listener with a full accept queue drops new SYNs: connects hang.
  int full = testing::listenTcp("127.0.0.1", 0, 0);
  uint16_t port = testing::boundPort(full);
  std::vector<int> fillers;
  for (int i = 0; i < 2; ++i) fillers.push_back(testing::connectTcp("127.0.0.1", port, 1000));
  Harness h({.connect_timeout = 200ms, .backend_port = port});
  int client = h.connect();
  std::string got;
  CHECK(testing::readToEnd(client, &got, 5000) == testing::ReadEnd::Reset);
  CHECK(h.clusterStats().upstream_cx_connect_timeout.value() == 1);
  CHECK(h.clusterStats().upstream_cx_connect_fail.value() == 1);
  close(client);
  for (int f : fillers) close(f);
  close(full);
  CHECK(testing::waitFor([&] { return h.sessions() == 0; }));
}

TEST_CASE("a reset on either side resets the other", "[tcp_proxy]") {
  Backend backend;
  Harness h({.backend_port = backend.port});
  SECTION("upstream resets") {
    int client = h.connect();
    int server = testing::acceptTcp(backend.fd);
    REQUIRE(server >= 0);
    testing::sendAll(client, "ping");
    CHECK(testing::readExactly(server, 4) == "ping");
    testing::resetClose(server);
    std::string got;
    CHECK(testing::readToEnd(client, &got, 3000) == testing::ReadEnd::Reset);
    close(client);
  }
  SECTION("client resets mid-stream") {
    int client = h.connect();
    int server = testing::acceptTcp(backend.fd);
    REQUIRE(server >= 0);
    testing::sendAll(client, testing::randomBytes(100000));
    testing::resetClose(client);
    std::string got;
    CHECK(testing::readToEnd(server, &got, 3000) == testing::ReadEnd::Reset);
    close(server);
  }
  CHECK(testing::waitFor([&] { return h.sessions() == 0; }));
  CHECK(h.stats().downstream_cx_reset.value() == 1);
  CHECK(h.blocksInFlight() == 0);
}

TEST_CASE("idle connections are closed after the idle timeout", "[tcp_proxy]") {
  Backend backend;
  Harness h({.idle_timeout = 300ms, .backend_port = backend.port});
  int client = h.connect();
  int server = testing::acceptTcp(backend.fd);
  REQUIRE(server >= 0);
  // Activity keeps it open past one timeout...
  for (int i = 0; i < 4; ++i) {
    testing::sendAll(client, "x");
    CHECK(testing::readExactly(server, 1, 1000) == "x");
    std::this_thread::sleep_for(100ms);
  }
  CHECK(h.stats().idle_timeout.value() == 0);
  // ...and silence ends it.
  std::string got;
  auto end = testing::readToEnd(client, &got, 3000);
  CHECK(end != testing::ReadEnd::Timeout);
  CHECK(h.stats().idle_timeout.value() == 1);
  close(client);
  close(server);
  CHECK(testing::waitFor([&] { return h.sessions() == 0; }));
}

TEST_CASE("stopping the worker resets open sessions and closes every handle", "[tcp_proxy]") {
  Backend backend;
  Harness h({.backend_port = backend.port});
  int client = h.connect();
  int server = testing::acceptTcp(backend.fd);
  REQUIRE(server >= 0);
  testing::sendAll(client, "hello");
  CHECK(testing::readExactly(server, 5) == "hello");
  CHECK(h.sessions() == 1);
  CHECK(h.stop());
  std::string got;
  CHECK(testing::readToEnd(client, &got, 3000) == testing::ReadEnd::Reset);
  close(client);
  close(server);
}

}  // namespace
}  // namespace remora::filters
