// RDS over ADS end to end, with curl as the client: remora-control serving a listener whose
// http_connection_manager takes its routes from RDS (changes on disk take effect, a bad route
// configuration is NACKed naming the field), and a scripted control plane for warming (make
// before break), readiness and initial_fetch_timeout. Loopback only; no root needed.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "proxy/common/strings.h"
#include "test/common/fake_ads_server.h"
#include "test/common/test_util.h"
#include "test/integration/harness.h"
#include "test/interop/proxy_under_test.h"
#include "xds/common/load.h"

namespace remora::integration {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kRouteType = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

struct Reply {
  int status = 0;  // 0: no HTTP response (connection refused, reset)
  std::string body;
};

// GET through the proxy with curl.
Reply get(uint16_t port, const std::string& path) {
  std::string out;
  runCommand({"curl", "-s", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}",
              cat("http://127.0.0.1:", port, path)},
             &out);
  Reply r;
  size_t nl = out.rfind('\n');
  if (nl == std::string::npos) return r;
  int64_t code = 0;
  parseInt(std::string_view(out).substr(nl + 1), &code);
  r.status = static_cast<int>(code);
  r.body = out.substr(0, nl);
  return r;
}

// A listener whose http_connection_manager routes by RDS `route_config_name`.
// `fetch_timeout`: the RDS config source's initial_fetch_timeout (Envoy's 15 s by default).
std::string listenerYaml(const std::string& name, uint16_t port, const std::string& rds,
                         const std::string& fetch_timeout = "15s") {
  return cat("'@type': ", kListenerType, "\nname: ", name,
             "\naddress: {socket_address: {address: 127.0.0.1, port_value: ", port, R"(}}
filter_chains:
- filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: )",
             name, R"(
      rds: {route_config_name: )",
             rds, R"(, config_source: {ads: {}, resource_api_version: V3, initial_fetch_timeout: )",
             fetch_timeout, R"(}}
      http_filters:
      - name: envoy.filters.http.router
        typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
)");
}

// A RouteConfiguration with one catch-all virtual host and `routes` (YAML list items).
std::string routeYaml(const std::string& name, const std::string& routes) {
  return cat("'@type': ", kRouteType, "\nname: ", name, R"(
virtual_hosts:
- name: all
  domains: ['*']
  routes:
)",
             routes);
}

std::string directRoute(const std::string& prefix, const std::string& body) {
  return cat("  - match: {prefix: ", prefix,
             "}\n    direct_response: {status: 200, body: {inline_string: \"", body, "\"}}\n");
}

uint16_t startControl(const std::string& dir, std::unique_ptr<Process>* control) {
  *control = std::make_unique<Process>(
      std::vector<std::string>{testing::buildDir() + "/xds/remora-control", "--config-dir", dir,
                               "--listen", "127.0.0.1:0", "--port-file", dir + ".port",
                               "--admin-address", "127.0.0.1:0", "--log-level", "debug"},
      dir + ".log");
  int port = 0;
  REQUIRE(testing::waitFor([&] {
    std::ifstream in(dir + ".port");
    return static_cast<bool>(in >> port);
  }));
  return static_cast<uint16_t>(port);
}

TEST_CASE(
    "rds: remora-control serves a listener's routes - changes on disk take effect - a bad "
    "route configuration is NACKed naming the field",
    "[rds][xds]") {
  bool delta = GENERATE(false, true);
  INFO((delta ? "DELTA_GRPC" : "GRPC"));
  Upstream up;
  std::string dir = Binaries::get().dir + cat("/rds-cp-", delta ? "delta" : "sotw");
  fs::create_directories(dir);
  uint16_t lport = freePort();
  writeFile(dir + "/app.yaml", listenerYaml("app", lport, "r1") + "---\n" + clusterYaml("backend") +
                                   "---\n" + claYaml("backend", up.port()));
  writeFile(dir + "/routes.yaml", routeYaml("r1",
                                            "  - match: {prefix: /}\n"
                                            "    route: {cluster: backend}\n"));
  std::unique_ptr<Process> control;
  uint16_t cp_port = startControl(dir, &control);
  ProxyUnderTest proxy(bootstrapYaml(cp_port, delta));
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }, 15000));
  Reply r = get(lport, "/hello");
  CHECK(r.status == 200);
  CHECK(r.body == "hello GET /hello");

  // A new version of r1 on disk: a direct response and a prefix rewrite.
  writeFile(dir + "/routes.yaml", routeYaml("r1", directRoute("/direct", "from r1 v2") +
                                                      "  - match: {prefix: /api/}\n"
                                                      "    route: {cluster: backend, "
                                                      "prefix_rewrite: /v2/}\n"
                                                      "  - match: {prefix: /}\n"
                                                      "    route: {cluster: backend}\n"));
  CHECK(testing::waitFor([&] { return get(lport, "/direct").body == "from r1 v2"; }, 10000));
  r = get(lport, "/api/thing");
  CHECK(r.status == 200);
  CHECK(r.body == "hello GET /v2/thing");
  CHECK(proxy.stat("rds.update_success") >= 2);
  CHECK(proxy.stat("rds.update_rejected") == 0);
  std::string dump = proxy.admin("/config_dump").body;
  CHECK(dump.find("\"@type\": \"type.googleapis.com/envoy.admin.v3.RoutesConfigDump\"") !=
        std::string::npos);
  CHECK(dump.find("\"dynamic_route_configs\"") != std::string::npos);
  CHECK(dump.find("from r1 v2") != std::string::npos);

  // A route remora cannot run (hedging): NACKed with the field; the last good version stays.
  writeFile(dir + "/routes.yaml",
            routeYaml("r1", directRoute("/direct", "from r1 v3") +
                                "  - match: {prefix: /}\n"
                                "    route: {cluster: backend, hedge_policy: {initial_requests: "
                                "2}}\n"));
  REQUIRE(testing::waitFor([&] { return proxy.stat("rds.update_rejected") >= 1; }, 10000));
  const std::string field =
      "route_configuration 'r1'.virtual_hosts[0].routes[1].route.hedge_policy: not supported by "
      "remora";
  CHECK(proxy.admin("/config_dump").body.find(field) != std::string::npos);
  CHECK(testing::waitFor(
      [&] {
        std::ifstream in(dir + ".log");
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str().find(field) != std::string::npos;  // the control plane got the NACK
      },
      5000));
  CHECK(get(lport, "/direct").body == "from r1 v2");
  CHECK(get(lport, "/hello").body == "hello GET /hello");
  INFO(proxy.log());
  CHECK(proxy.ready());
}

// Responses from a scripted control plane, in either protocol.
class Script {
 public:
  explicit Script(bool delta) : delta_(delta) {}
  testing::FakeAdsServer& server() { return cp_; }
  int port() const { return cp_.port(); }

  // Sends `resources` (name -> YAML) of `type`; returns the nonce.
  std::string send(const std::string& type,
                   const std::vector<std::pair<std::string, std::string>>& resources) {
    std::string nonce = cat("n", ++n_);
    if (delta_) {
      envoy::service::discovery::v3::DeltaDiscoveryResponse r;
      r.set_type_url(type);
      r.set_nonce(nonce);
      for (const auto& [name, yaml] : resources) {
        auto* res = r.add_resources();
        res->set_name(name);
        res->set_version(nonce);
        *res->mutable_resource() = any(yaml);
      }
      cp_.sendDelta(r);
    } else {
      envoy::service::discovery::v3::DiscoveryResponse r;
      r.set_type_url(type);
      r.set_version_info(nonce);
      r.set_nonce(nonce);
      for (const auto& [name, yaml] : resources) *r.add_resources() = any(yaml);
      cp_.send(r);
    }
    return nonce;
  }

  // The proxy's subscription to `type` on the current stream is exactly `names`.
  bool waitSubscribed(const std::string& type, const std::set<std::string>& names,
                      int timeout_ms = 10000) {
    return testing::waitFor(
        [&] {
          std::set<std::string> now;
          bool seen = false;
          if (delta_) {
            for (const auto& r : cp_.deltaRequests()) {
              if (r.type_url() != type) continue;
              seen = true;
              for (const auto& n : r.resource_names_subscribe()) now.insert(n);
              for (const auto& n : r.resource_names_unsubscribe()) now.erase(n);
            }
          } else {
            for (const auto& r : cp_.requests()) {
              if (r.type_url() != type) continue;
              seen = true;
              now = std::set<std::string>(r.resource_names().begin(), r.resource_names().end());
            }
          }
          return seen && now == names;
        },
        timeout_ms);
  }

  bool waitType(const std::string& type) {
    if (delta_) {
      return cp_.waitDeltaRequest([&](const auto& r) { return r.type_url() == type; });
    }
    return cp_.waitRequest([&](const auto& r) { return r.type_url() == type; });
  }

  // ACKed (true) or NACKed (false, with the message); nullopt if neither in time.
  std::optional<std::string> waitAnswer(const std::string& nonce) {
    std::optional<std::string> out;
    auto check = [&](const auto& r) {
      if (r.response_nonce() != nonce) return false;
      out = r.has_error_detail() ? r.error_detail().message() : std::string();
      return true;
    };
    bool ok = delta_ ? cp_.waitDeltaRequest(check) : cp_.waitRequest(check);
    return ok ? out : std::nullopt;
  }

 private:
  bool delta_;
  testing::FakeAdsServer cp_;
  int n_ = 0;
};

TEST_CASE(
    "rds: listeners warm on their routes (make before break) - one whose route "
    "configuration never arrives is ready after initial_fetch_timeout and answers 404",
    "[rds][xds]") {
  bool delta = GENERATE(false, true);
  INFO((delta ? "DELTA_GRPC" : "GRPC"));
  constexpr auto kFetchTimeout = 3s;
  Script cp(delta);
  ProxyUnderTest proxy(bootstrapYaml(cp.port(), delta));
  REQUIRE(cp.waitType(kClusterType));
  REQUIRE(cp.waitAnswer(cp.send(kClusterType, {})) == std::string());
  REQUIRE(cp.waitType(kListenerType));
  uint16_t app = freePort(), ghost = freePort();
  auto lds_sent = std::chrono::steady_clock::now();
  std::string lds =
      cp.send(kListenerType, {{"app", listenerYaml("app", app, "r1")},
                              {"ghost", listenerYaml("ghost", ghost, "nowhere", "3s")}});
  REQUIRE(cp.waitAnswer(lds) == std::string());
  // Make before break: RDS is asked for after the listeners arrived, for the names they use.
  REQUIRE(cp.waitSubscribed(kRouteType, {"r1", "nowhere"}));
  REQUIRE(cp.waitAnswer(cp.send(kRouteType, {{"r1", routeYaml("r1", directRoute("/", "one"))}})) ==
          std::string());
  REQUIRE(testing::waitFor([&] { return get(app, "/").body == "one"; }));
  {
    // Checked only while the timeout cannot have fired yet (the deadline was set after
    // `lds_sent`), so that a slow machine skips the checks instead of failing them.
    bool ready = proxy.ready();
    int ghost_status = get(ghost, "/").status;
    std::string dump = proxy.admin("/config_dump").body;
    if (std::chrono::steady_clock::now() - lds_sent < kFetchTimeout) {
      CHECK_FALSE(ready);        // "ghost" still warms
      CHECK(ghost_status == 0);  // and is not in service
      CHECK(dump.find("\"warming_state\"") != std::string::npos);
    } else {
      WARN("the machine was too slow to observe warming before initial_fetch_timeout");
    }
  }
  // The timeout: "nowhere" counts as absent; the listener serves, every request 404 (NR).
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }, 15000));
  CHECK(std::chrono::steady_clock::now() - lds_sent >= kFetchTimeout - 100ms);
  Reply r = get(ghost, "/anything");
  CHECK(r.status == 404);
  CHECK(r.body.empty());
  CHECK(proxy.log().find("route configuration 'nowhere' did not arrive") != std::string::npos);
  CHECK(get(app, "/").body == "one");

  // "app" moves to r2, which is not there yet: the old version keeps serving with r1.
  lds = cp.send(kListenerType, {{"app", listenerYaml("app", app, "r2")},
                                {"ghost", listenerYaml("ghost", ghost, "nowhere", "3s")}});
  REQUIRE(cp.waitAnswer(lds) == std::string());
  REQUIRE(cp.waitSubscribed(kRouteType, {"r1", "r2", "nowhere"}));
  CHECK(get(app, "/").body == "one");
  CHECK(proxy.admin("/config_dump").body.find("\"warming_state\"") != std::string::npos);
  // r2 arrives (SotW: with r1, which is still asked for): the new version takes over, and r1,
  // used by nothing now, is unsubscribed.
  std::vector<std::pair<std::string, std::string>> routes{
      {"r2", routeYaml("r2", directRoute("/", "two"))}};
  if (!delta) routes.push_back({"r1", routeYaml("r1", directRoute("/", "one"))});
  REQUIRE(cp.waitAnswer(cp.send(kRouteType, routes)) == std::string());
  CHECK(testing::waitFor([&] { return get(app, "/").body == "two"; }));
  CHECK(cp.waitSubscribed(kRouteType, {"r2", "nowhere"}));
  // It arrives late after all: the ghost listener routes by it.
  routes = {{"nowhere", routeYaml("nowhere", directRoute("/", "late"))}};
  if (!delta) routes.push_back({"r2", routeYaml("r2", directRoute("/", "two"))});
  REQUIRE(cp.waitAnswer(cp.send(kRouteType, routes)) == std::string());
  CHECK(testing::waitFor([&] { return get(ghost, "/").body == "late"; }));

  // A bad route configuration: NACKed naming the field; the last good one stays.
  routes = {{"r2", routeYaml("r2",
                             "  - match: {prefix: /}\n    route: {cluster: x, "
                             "hedge_policy: {initial_requests: 2}}\n")}};
  if (!delta) routes.push_back({"nowhere", routeYaml("nowhere", directRoute("/", "late"))});
  auto nack = cp.waitAnswer(cp.send(kRouteType, routes));
  REQUIRE(nack);
  CHECK(*nack ==
        "route_configuration 'r2'.virtual_hosts[0].routes[0].route.hedge_policy: not supported by "
        "remora");
  CHECK(get(app, "/").body == "two");
  CHECK(proxy.stat("rds.update_rejected") == 1);
  CHECK(proxy.stat("rds.update_success") >= 3);
  INFO(proxy.log());
  CHECK(proxy.process().running());
}

TEST_CASE("rds: Delta resumes routes with initial_resource_versions after a reconnect",
          "[rds][xds]") {
  Script cp(true);
  ProxyUnderTest proxy(bootstrapYaml(cp.port(), true));
  REQUIRE(cp.waitType(kClusterType));
  REQUIRE(cp.waitAnswer(cp.send(kClusterType, {})) == std::string());
  REQUIRE(cp.waitType(kListenerType));
  uint16_t app = freePort();
  REQUIRE(cp.waitAnswer(cp.send(kListenerType, {{"app", listenerYaml("app", app, "r1")}})) ==
          std::string());
  REQUIRE(cp.waitSubscribed(kRouteType, {"r1"}));
  std::string v = cp.send(kRouteType, {{"r1", routeYaml("r1", directRoute("/", "one"))}});
  REQUIRE(cp.waitAnswer(v) == std::string());
  REQUIRE(testing::waitFor([&] { return get(app, "/").body == "one"; }));
  cp.server().dropStream();
  // The new stream subscribes r1 again and says which version it has.
  REQUIRE(cp.server().waitDeltaRequest(
      [&](const auto& r) {
        auto it = r.initial_resource_versions().find("r1");
        return r.type_url() == kRouteType && it != r.initial_resource_versions().end() &&
               it->second == v && r.resource_names_subscribe_size() == 1;
      },
      20000));
  CHECK(get(app, "/").body == "one");
}

}  // namespace
}  // namespace remora::integration
