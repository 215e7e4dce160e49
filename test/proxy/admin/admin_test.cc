// Admin handlers (through the router) and the admin HTTP server over a real socket.
#include "proxy/admin/admin.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <future>
#include <thread>

#include "proxy/admin/http_server.h"
#include "proxy/event/event_loop.h"
#include "test/common/test_util.h"

namespace remora::admin {
namespace {

#define FAKE_STATS(COUNTER, GAUGE) \
  COUNTER(downstream_cx_total, "Connections") GAUGE(downstream_cx_active, "Open")
REMORA_STATS_STRUCT(FakeStats, FAKE_STATS);

class FakeHooks : public AdminHooks {
 public:
  FakeHooks() {
    scope = std::make_shared<stats::ShardedScope<FakeStats>>(
        1, "listener.0.0.0.0_15001.", "listener",
        std::vector<std::pair<std::string, std::string>>{
            {"envoy_listener_address", "0.0.0.0_15001"}});
    store.add(scope);
  }
  ServerState state() const override { return s; }
  stats::Store& stats() override { return store; }
  void quit() override { ++quits; }
  void drainListeners() override { ++drains; }

  ServerState s = ServerState::Live;
  stats::Store store;
  std::shared_ptr<stats::ShardedScope<FakeStats>> scope;
  int quits = 0;
  int drains = 0;
};

Response call(Router& r, std::string method, std::string path, std::string query = "") {
  return r.handle(Request{std::move(method), std::move(path), std::move(query)});
}

TEST_CASE("/ready follows the server state", "[admin]") {
  FakeHooks hooks;
  auto router = adminRouter(hooks);
  auto r = call(*router, "GET", "/ready");
  CHECK(r.status == 200);
  CHECK(r.body == "LIVE\n");
  hooks.s = ServerState::Draining;
  r = call(*router, "GET", "/ready");
  CHECK(r.status == 503);
  CHECK(r.body == "DRAINING\n");
  auto health = healthRouter(hooks);
  CHECK(call(*health, "GET", "/healthz/ready").status == 503);
  hooks.s = ServerState::Live;
  CHECK(call(*health, "GET", "/healthz/ready").status == 200);
  CHECK(call(*health, "GET", "/stats").status == 404);
}

TEST_CASE("/stats lists counters - filter and prometheus format", "[admin]") {
  FakeHooks hooks;
  hooks.scope->shard(0).downstream_cx_total.inc(7);
  hooks.scope->shard(0).downstream_cx_active.add(2);
  auto router = adminRouter(hooks);
  auto r = call(*router, "GET", "/stats");
  CHECK(r.body ==
        "listener.0.0.0.0_15001.downstream_cx_active: 2\n"
        "listener.0.0.0.0_15001.downstream_cx_total: 7\n");
  r = call(*router, "GET", "/stats", "filter=cx_total$");
  CHECK(r.body == "listener.0.0.0.0_15001.downstream_cx_total: 7\n");
  CHECK(call(*router, "GET", "/stats", "filter=(").status == 400);
  r = call(*router, "GET", "/stats/prometheus");
  CHECK(r.content_type == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(r.body.find(
            "envoy_listener_downstream_cx_total{envoy_listener_address=\"0.0.0.0_15001\"} 7\n") !=
        std::string::npos);
  CHECK(call(*router, "GET", "/stats", "format=prometheus").body == r.body);
  auto prom = prometheusRouter(hooks);
  CHECK(call(*prom, "GET", "/stats/prometheus").body == r.body);
  CHECK(call(*prom, "POST", "/quitquitquit").status == 404);
}

TEST_CASE("mutating endpoints need POST - their action runs after the reply", "[admin]") {
  FakeHooks hooks;
  auto router = adminRouter(hooks);
  CHECK(call(*router, "GET", "/quitquitquit").status == 405);
  CHECK(hooks.quits == 0);
  auto r = call(*router, "POST", "/quitquitquit");
  CHECK(r.status == 200);
  CHECK(hooks.quits == 0);
  r.after();
  CHECK(hooks.quits == 1);
  r = call(*router, "POST", "/drain_listeners");
  r.after();
  CHECK(hooks.drains == 1);
  CHECK(call(*router, "GET", "/reopen_logs").status == 405);
  CHECK(call(*router, "POST", "/reopen_logs").status == 200);  // what it does: access_log_test
  CHECK(call(*router, "POST", "/stats").status == 405);
  auto nf = call(*router, "GET", "/nope");
  CHECK(nf.status == 404);
  CHECK(nf.body.find("/ready") != std::string::npos);
}

// Runs an HttpServer on its own loop thread for the socket-level tests.
class ServerThread {
 public:
  explicit ServerThread(AdminHooks& hooks) : loop_("admin_test") {
    std::promise<uint16_t> port;
    thread_ = std::thread([&] {
      server_ = std::make_unique<HttpServer>(loop_, "admin", adminRouter(hooks));
      auto st = server_->listen(*net::Address::parse("127.0.0.1:0"));
      port.set_value(st.ok() ? server_->address().port() : 0);
      loop_.run();
      closed_clean_ = loop_.close();
    });
    port_ = port.get_future().get();
  }
  ~ServerThread() { stop(); }
  bool stop() {
    if (thread_.joinable()) {
      loop_.post([this] {
        server_->close([] {});
        loop_.shutdown();
      });
      thread_.join();
    }
    return closed_clean_;
  }
  uint16_t port() const { return port_; }

 private:
  event::EventLoop loop_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  uint16_t port_ = 0;
  bool closed_clean_ = false;
};

TEST_CASE("admin server: keep-alive, pipelining, bad requests", "[admin][socket]") {
  FakeHooks hooks;
  ServerThread server(hooks);
  REQUIRE(server.port() != 0);

  SECTION("two pipelined requests on one connection get two answers in order") {
    int fd = testing::connectTcp("127.0.0.1", server.port());
    REQUIRE(fd >= 0);
    REQUIRE(testing::sendAll(fd,
                             "GET /ready HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    std::string got;
    CHECK(testing::readToEnd(fd, &got, 5000) == testing::ReadEnd::Eof);
    size_t first = got.find("HTTP/1.1 200 OK\r\n");
    size_t second = got.find("HTTP/1.1 404 Not Found\r\n");
    CHECK(first == 0);
    CHECK(second != std::string::npos);
    CHECK(got.find("LIVE\n") < second);
    close(fd);
  }
  SECTION("malformed request: 400 and the connection closes") {
    int fd = testing::connectTcp("127.0.0.1", server.port());
    REQUIRE(testing::sendAll(fd, "GET /ready HTTP/1.1\r\nHost x\r\n\r\n"));
    std::string got;
    CHECK(testing::readToEnd(fd, &got, 5000) == testing::ReadEnd::Eof);
    CHECK(got.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
    close(fd);
  }
  SECTION("oversized headers: 431 and the connection closes") {
    int fd = testing::connectTcp("127.0.0.1", server.port());
    std::string big = "GET /ready HTTP/1.1\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n";
    testing::sendAll(fd, big);
    std::string got;
    testing::readToEnd(fd, &got, 5000);
    CHECK(got.rfind("HTTP/1.1 431 ", 0) == 0);
    close(fd);
  }
  SECTION("HTTP/1.0 without keep-alive is closed after the answer") {
    int fd = testing::connectTcp("127.0.0.1", server.port());
    REQUIRE(testing::sendAll(fd, "GET /stats/prometheus HTTP/1.0\r\n\r\n"));
    std::string got;
    CHECK(testing::readToEnd(fd, &got, 5000) == testing::ReadEnd::Eof);
    CHECK(got.find("envoy_listener_downstream_cx_total") != std::string::npos);
    close(fd);
  }
  CHECK(server.stop());
}

}  // namespace
}  // namespace remora::admin
