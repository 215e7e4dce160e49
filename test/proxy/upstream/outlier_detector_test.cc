// Outlier detection on a real event loop: consecutive failures, success rate, failure
// percentage, max_ejection_percent, ejection times and unejection.
#include "proxy/upstream/outlier_detector.h"

#include <catch2/catch.hpp>

#include "proxy/upstream/cluster.h"

namespace remora::upstream {
namespace {

struct Fixture {
  Fixture(size_t n, config::OutlierDetectionConfig c) : config(c) {
    for (size_t i = 0; i < n; ++i) {
      hosts.push_back(std::make_shared<Host>(
          *net::Address::parseIp("192.0.2.1", static_cast<uint16_t>(8000 + i)), 1, 0, false));
    }
    detector = std::make_shared<OutlierDetector>(loop, store, "od_test", state);
    detector->update(config, hosts);
  }
  ~Fixture() {
    detector->stop();
    loop.shutdown();
    uv_run(loop.uv(), UV_RUN_NOWAIT);
    loop.close();
  }
  // Runs the loop (posted checks, interval timers) until `done` or 5 s of loop time.
  template <typename Done>
  void runUntil(Done done) {
    uint64_t start = loop.now();
    while (!done() && loop.now() - start < 5000) uv_run(loop.uv(), UV_RUN_ONCE);
  }
  void runFor(uint64_t ms) {
    uint64_t start = loop.now();
    runUntil([&] { return loop.now() - start >= ms; });
  }
  bool ejected(size_t i) const { return (hosts[i]->flags() & Host::kFailedOutlierCheck) != 0; }
  int64_t stat(const std::string& name) {
    int64_t v = -1;
    store.forEach([&](const stats::Scope& s) {
      s.visit([&](const stats::StatValue& st) {
        if (s.prefix() + std::string(st.name) == "cluster.od_test.outlier_detection." + name)
          v = st.value;
      });
    });
    return v;
  }

  event::EventLoop loop{"od"};
  stats::Store store;
  std::shared_ptr<ClusterState> state = std::make_shared<ClusterState>();
  config::OutlierDetectionConfig config;
  HostVector hosts;
  std::shared_ptr<OutlierDetector> detector;
};

config::OutlierDetectionConfig fast() {
  config::OutlierDetectionConfig c;
  c.interval = std::chrono::milliseconds(20);
  c.base_ejection_time = std::chrono::milliseconds(100);
  c.max_ejection_percent = 100;
  return c;
}

TEST_CASE("consecutive 5xx eject a host, and it returns after the ejection time", "[outlier]") {
  auto c = fast();
  c.consecutive_5xx = 3;
  Fixture f(3, c);
  uint64_t gen = f.state->health_generation.load();
  f.detector->report(*f.hosts[0], 503);
  f.detector->report(*f.hosts[0], 500);
  f.runFor(5);
  CHECK_FALSE(f.ejected(0));
  f.detector->report(*f.hosts[0], 502);
  f.runUntil([&] { return f.ejected(0); });
  CHECK(f.ejected(0));
  CHECK_FALSE(f.ejected(1));
  CHECK(f.state->health_generation.load() > gen);
  CHECK(f.stat("ejections_active") == 1);
  CHECK(f.stat("ejections_enforced_consecutive_5xx") == 1);
  uint64_t at = f.loop.now();
  f.runUntil([&] { return !f.ejected(0); });
  CHECK_FALSE(f.ejected(0));
  CHECK(f.loop.now() - at >= 100);
  CHECK(f.stat("ejections_active") == 0);
}

TEST_CASE("a passing active health check unejects a host at once", "[outlier]") {
  auto c = fast();
  c.consecutive_5xx = 1;
  c.base_ejection_time = std::chrono::seconds(30);
  Fixture f(2, c);
  f.detector->report(*f.hosts[0], 503);
  f.runUntil([&] { return f.ejected(0); });
  REQUIRE(f.ejected(0));
  uint64_t gen = f.state->health_generation.load();
  f.detector->uneject(f.hosts[1].get());  // not ejected: nothing happens
  CHECK(f.state->health_generation.load() == gen);
  f.detector->uneject(f.hosts[0].get());
  CHECK_FALSE(f.ejected(0));
  CHECK(f.stat("ejections_active") == 0);
  CHECK(f.state->health_generation.load() > gen);
}

TEST_CASE("a success in between starts the count again", "[outlier]") {
  auto c = fast();
  c.consecutive_5xx = 3;
  Fixture f(2, c);
  for (int round = 0; round < 5; ++round) {
    f.detector->report(*f.hosts[0], 503);
    f.detector->report(*f.hosts[0], 503);
    f.detector->report(*f.hosts[0], 200);
  }
  f.runFor(50);
  CHECK_FALSE(f.ejected(0));
  CHECK(f.stat("ejections_detected_consecutive_5xx") == 0);
}

TEST_CASE("consecutive gateway failures are detected but only enforced when asked", "[outlier]") {
  auto c = fast();
  c.consecutive_5xx = 100;
  c.consecutive_gateway_failure = 2;
  Fixture f(2, c);  // enforcing_consecutive_gateway_failure defaults to 0
  f.detector->report(*f.hosts[0], 503);
  f.detector->report(*f.hosts[0], 504);
  f.runUntil([&] { return f.stat("ejections_detected_consecutive_gateway_failure") == 1; });
  CHECK(f.stat("ejections_detected_consecutive_gateway_failure") == 1);
  CHECK_FALSE(f.ejected(0));
  c.enforcing_consecutive_gateway_failure = 100;
  f.detector->update(c, f.hosts);
  f.detector->report(*f.hosts[0], 503);
  f.detector->report(*f.hosts[0], 502);
  f.runUntil([&] { return f.ejected(0); });
  CHECK(f.ejected(0));
  CHECK(f.stat("ejections_enforced_consecutive_gateway_failure") == 1);
}

TEST_CASE("max_ejection_percent: one host always, more only within the percentage", "[outlier]") {
  auto c = fast();
  c.consecutive_5xx = 1;
  c.max_ejection_percent = 25;
  c.base_ejection_time = std::chrono::seconds(60);
  Fixture f(4, c);
  f.detector->report(*f.hosts[0], 503);
  f.runUntil([&] { return f.ejected(0); });
  f.detector->report(*f.hosts[1], 503);
  f.runUntil([&] { return f.stat("ejections_overflow") == 1; });
  CHECK(f.ejected(0));
  CHECK_FALSE(f.ejected(1));  // 2 of 4 would be 50% > 25%
  CHECK(f.stat("ejections_active") == 1);
}

TEST_CASE("failure percentage ejects the host failing more than the threshold", "[outlier]") {
  auto c = fast();
  c.consecutive_5xx = 1000;
  c.failure_percentage_threshold = 40;
  c.enforcing_failure_percentage = 100;
  c.failure_percentage_minimum_hosts = 3;
  c.failure_percentage_request_volume = 10;
  c.interval = std::chrono::milliseconds(200);
  Fixture f(3, c);
  for (int i = 0; i < 20; ++i) {
    f.detector->report(*f.hosts[0], i % 2 ? 503 : 200);
    f.detector->report(*f.hosts[1], 200);
    f.detector->report(*f.hosts[2], 200);
  }
  f.runUntil([&] { return f.ejected(0); });
  CHECK(f.ejected(0));
  CHECK_FALSE(f.ejected(1));
  CHECK_FALSE(f.ejected(2));
  CHECK(f.stat("ejections_enforced_failure_percentage") == 1);
}

TEST_CASE("success rate ejects the host below mean minus the stdev factor", "[outlier]") {
  auto c = fast();
  c.consecutive_5xx = 1000;
  c.success_rate_request_volume = 10;
  c.interval = std::chrono::milliseconds(200);
  Fixture f(5, c);  // success_rate_minimum_hosts 5
  for (int i = 0; i < 20; ++i) {
    f.detector->report(*f.hosts[0], 500);
    for (size_t h = 1; h < 5; ++h) f.detector->report(*f.hosts[h], 200);
  }
  f.runUntil([&] { return f.ejected(0); });
  CHECK(f.ejected(0));
  for (size_t h = 1; h < 5; ++h) CHECK_FALSE(f.ejected(h));
  CHECK(f.stat("ejections_enforced_success_rate") == 1);
  // mean 80, stdev 40: threshold 80 - 1.9 x 40 = 4
  CHECK(f.detector->successRateAverage() == Approx(80.0));
  CHECK(f.detector->successRateThreshold() == Approx(4.0));
}

TEST_CASE("split local-origin errors count on their own", "[outlier]") {
  auto c = fast();
  c.split_external_local_origin_errors = true;
  c.consecutive_local_origin_failure = 2;
  c.consecutive_5xx = 2;
  Fixture f(2, c);
  f.detector->report(*f.hosts[0], 0);
  f.detector->report(*f.hosts[0], 503);  // a response: the connection worked, the streak ends
  f.detector->report(*f.hosts[0], 0);
  f.detector->report(*f.hosts[1], 503);
  f.detector->report(*f.hosts[1], 0);  // local: does not add to the 5xx streak
  f.runFor(10);
  CHECK_FALSE(f.ejected(0));
  CHECK_FALSE(f.ejected(1));
  f.detector->report(*f.hosts[0], 0);
  f.runUntil([&] { return f.ejected(0); });
  CHECK(f.stat("ejections_enforced_consecutive_local_origin_failure") == 1);
}

TEST_CASE("the ejection time grows with each ejection", "[outlier]") {
  auto c = fast();
  c.consecutive_5xx = 1;
  c.base_ejection_time = std::chrono::milliseconds(60);
  c.interval = std::chrono::milliseconds(10);
  Fixture f(2, c);
  uint64_t durations[2];
  for (auto& d : durations) {
    f.detector->report(*f.hosts[0], 503);
    f.runUntil([&] { return f.ejected(0); });
    uint64_t at = f.loop.now();
    f.runUntil([&] { return !f.ejected(0); });
    d = f.loop.now() - at;
  }
  CHECK(durations[0] >= 60);
  CHECK(durations[1] >= 120);  // base x 2 (the multiplier decays one step per healthy interval)
}

}  // namespace
}  // namespace remora::upstream
