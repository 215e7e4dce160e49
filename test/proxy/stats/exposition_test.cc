// Stats shards and their text and Prometheus renderings.
#include "proxy/stats/exposition.h"

#include <catch2/catch.hpp>
#include <map>
#include <thread>

#include "proxy/stats/stats.h"

namespace remora::stats {
namespace {

#define TEST_STATS(COUNTER, GAUGE)            \
  COUNTER(requests_total, "Requests handled") \
  COUNTER(connect_fail, "Connect failures")   \
  GAUGE(active, "Open things")

REMORA_STATS_STRUCT(TestStats, TEST_STATS);

TEST_CASE("shards written by separate threads sum correctly", "[stats]") {
  ShardedScope<TestStats> scope(4, "test.", "test", {});
  std::vector<std::thread> threads;
  for (size_t w = 0; w < 4; ++w) {
    threads.emplace_back([&scope, w] {
      for (int i = 0; i < 100000; ++i) scope.shard(w).requests_total.inc();
      scope.shard(w).active.add(3);
      scope.shard(w).active.sub(1);
    });
  }
  for (auto& t : threads) t.join();
  std::map<std::string, int64_t> seen;
  scope.visit([&](const StatValue& v) { seen[std::string(v.name)] = v.value; });
  CHECK(seen["requests_total"] == 400000);
  CHECK(seen["connect_fail"] == 0);
  CHECK(seen["active"] == 8);
}

TEST_CASE("text and Prometheus renderings use Envoy's names", "[stats]") {
  Store store;
  auto a = std::make_shared<ShardedScope<TestStats>>(
      2, "cluster.outbound|80||a.b.svc.", "cluster",
      std::vector<std::pair<std::string, std::string>>{
          {"envoy_cluster_name", "outbound|80||a.b.svc"}});
  auto b = std::make_shared<ShardedScope<TestStats>>(
      1, "cluster.q\"uote.", "cluster",
      std::vector<std::pair<std::string, std::string>>{{"envoy_cluster_name", "q\"uo\\te\n"}});
  store.add(a);
  store.add(b);
  a->shard(0).requests_total.inc(2);
  a->shard(1).requests_total.inc(3);
  a->shard(1).active.add(1);
  b->shard(0).connect_fail.inc();

  std::string text = renderText(store);
  CHECK(text.find("cluster.outbound|80||a.b.svc.requests_total: 5\n") != std::string::npos);
  CHECK(text.find("cluster.outbound|80||a.b.svc.active: 1\n") != std::string::npos);

  std::string prom = renderPrometheus(store);
  CHECK(prom.find("# HELP envoy_cluster_requests_total Requests handled\n"
                  "# TYPE envoy_cluster_requests_total counter\n") != std::string::npos);
  CHECK(
      prom.find("envoy_cluster_requests_total{envoy_cluster_name=\"outbound|80||a.b.svc\"} 5\n") !=
      std::string::npos);
  CHECK(prom.find("# TYPE envoy_cluster_active gauge\n") != std::string::npos);
  CHECK(prom.find("envoy_cluster_connect_fail{envoy_cluster_name=\"q\\\"uo\\\\te\\n\"} 1\n") !=
        std::string::npos);
  // One HELP/TYPE per family even with two scopes.
  size_t first = prom.find("# TYPE envoy_cluster_requests_total");
  CHECK(prom.find("# TYPE envoy_cluster_requests_total", first + 1) == std::string::npos);
}

TEST_CASE("expired scopes disappear from the store", "[stats]") {
  Store store;
  auto a = std::make_shared<ShardedScope<TestStats>>(
      1, "gone.", "gone", std::vector<std::pair<std::string, std::string>>{});
  store.add(a);
  CHECK(renderText(store).find("gone.active") != std::string::npos);
  a.reset();
  CHECK(renderText(store).empty());
}

#define OTHER_STATS(COUNTER, GAUGE) COUNTER(other_total, "Other things")
REMORA_STATS_STRUCT(OtherStats, OTHER_STATS);

TEST_CASE("scopes of two types may share a prefix and each is found again", "[stats]") {
  Store store;
  auto a = store.shardedScope<TestStats>(1, "http.x.rbac.", "http_rbac", {});
  auto b = store.shardedScope<OtherStats>(1, "http.x.rbac.", "http_rbac", {});
  a->shard(0).requests_total.inc();
  b->shard(0).other_total.inc(2);
  // A configuration update asks again: the same objects, counters intact.
  CHECK(store.shardedScope<TestStats>(1, "http.x.rbac.", "http_rbac", {}) == a);
  CHECK(store.shardedScope<OtherStats>(1, "http.x.rbac.", "http_rbac", {}) == b);
  std::string text = renderText(store);
  CHECK(text.find("http.x.rbac.requests_total: 1\n") != std::string::npos);
  CHECK(text.find("http.x.rbac.other_total: 2\n") != std::string::npos);
}

TEST_CASE("metric names are sanitized", "[stats]") {
  CHECK(sanitizeMetricName("envoy_tcp.my-prefix:x") == "envoy_tcp_my_prefix:x");
  CHECK(sanitizeMetricName("9lives") == "_9lives");
  CHECK(escapeLabelValue("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace remora::stats
