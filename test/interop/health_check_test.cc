// Active health checks end to end: real remora and two Python backends; a backend whose
// health path starts failing stops taking traffic and shows /failed_active_hc on /clusters,
// and takes traffic again when it recovers.
#include <catch2/catch.hpp>
#include <string>

#include "test/interop/proxy_under_test.h"
#include "test/interop/resilience_backend.h"

namespace remora::integration {
namespace {

TEST_CASE("an HTTP health check takes a failing backend out of rotation and back",
          "[health_check]") {
  Backend a("a"), b("b");
  uint16_t port = freePort();
  ProxyUnderTest proxy(bootstrap(port, {a.port(), b.port()}, "", R"(
    health_checks:
    - timeout: 1s
      interval: 0.2s
      unhealthy_threshold: 2
      healthy_threshold: 2
      http_health_check: {path: /health})"));
  std::string a_flags = cat("svc::127.0.0.1:", a.port(), "::health_flags::");
  std::string b_flags = cat("svc::127.0.0.1:", b.port(), "::health_flags::");
  auto clusters = [&] { return proxy.admin("/clusters").body; };
  // Both pass their first check and take traffic.
  REQUIRE(testing::waitFor([&] {
    std::string c = clusters();
    return c.find(a_flags + "healthy") != std::string::npos &&
           c.find(b_flags + "healthy") != std::string::npos;
  }));
  size_t a0 = a.requestsExcept("/health"), b0 = b.requestsExcept("/health");
  for (int i = 0; i < 20; ++i) REQUIRE(request(port, "/").status == 200);
  CHECK(a.requestsExcept("/health") > a0);
  CHECK(b.requestsExcept("/health") > b0);
  // Envoy's health check request.
  CHECK(a.requests() > a.requestsExcept("/health"));

  // b's health path fails (its other paths still answer 200): after two checks it is out.
  b.setMode("health503");
  bool failed = testing::waitFor(
      [&] { return clusters().find(b_flags + "/failed_active_hc") != std::string::npos; }, 10000);
  INFO(clusters() << proxy.admin("/stats?filter=health_check").body);
  REQUIRE(failed);
  a0 = a.requestsExcept("/health");
  b0 = b.requestsExcept("/health");
  for (int i = 0; i < 20; ++i) REQUIRE(request(port, "/").status == 200);
  CHECK(a.requestsExcept("/health") == a0 + 20);
  CHECK(b.requestsExcept("/health") == b0);
  CHECK(proxy.stat("cluster.svc.health_check.failure") >= 2);
  CHECK(proxy.stat("cluster.svc.health_check.healthy") == 1);

  // b recovers: after two passing checks it takes traffic again.
  b.setMode("ok");
  REQUIRE(testing::waitFor(
      [&] { return clusters().find(b_flags + "healthy") != std::string::npos; }, 10000));
  b0 = b.requestsExcept("/health");
  for (int i = 0; i < 20; ++i) REQUIRE(request(port, "/").status == 200);
  CHECK(b.requestsExcept("/health") > b0);
  CHECK(proxy.stat("cluster.svc.health_check.healthy") == 2);
  CHECK(proxy.stat("cluster.svc.health_check.attempt") >=
        proxy.stat("cluster.svc.health_check.success"));
}

}  // namespace
}  // namespace remora::integration
