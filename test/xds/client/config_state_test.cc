// The ADS client's resource state for RDS: listeners warm on their route configurations
// (make before break), a configuration that never arrives counts as absent, configurations
// nothing refers to are dropped, and /config_dump shows it all in Envoy's layout.
#include "xds/client/config_state.h"

#include <catch2/catch.hpp>

#include "proxy/common/strings.h"
#include "xds/client/config_dump.h"
#include "xds/common/load.h"

namespace remora::xds {
namespace {

using google::protobuf::Any;
using google::protobuf::RepeatedPtrField;

Any any(const std::string& yaml) {
  Any a;
  auto st = parseMessage(yaml, &a);
  INFO(st.ToString());
  REQUIRE(st.ok());
  return a;
}

// A listener on `port` whose http_connection_manager takes its routes from RDS `rds`.
std::string rdsListener(const std::string& name, int port, const std::string& rds) {
  return cat(R"('@type': type.googleapis.com/envoy.config.listener.v3.Listener
name: )",
             name, R"(
address: {socket_address: {address: 127.0.0.1, port_value: )",
             port, R"(}}
filter_chains:
- filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: )",
             name, R"(
      rds: {route_config_name: )",
             rds, R"(, config_source: {ads: {}, resource_api_version: V3}}
      http_filters:
      - name: envoy.filters.http.router
        typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
)");
}

std::string routeConfig(const std::string& name, const std::string& cluster,
                        const std::string& extra = "") {
  return cat(R"('@type': type.googleapis.com/envoy.config.route.v3.RouteConfiguration
name: )",
             name, R"(
virtual_hosts:
- name: all
  domains: ['*']
  routes:
  - match: {prefix: /}
    route: {cluster: )",
             cluster, extra, "}\n");
}

RepeatedPtrField<Any> list(std::initializer_list<std::string> yamls) {
  RepeatedPtrField<Any> out;
  for (const auto& y : yamls) *out.Add() = any(y);
  return out;
}

absl::Status sotw(ConfigState& s, ResourceType type, const std::string& version,
                  std::initializer_list<std::string> yamls) {
  return s.applySotw(type, version, list(yamls), 1000, nullptr);
}

// Assembles, "applies" and commits, as the client does after the server accepted it.
config::ProxyConfig applyAndCommit(ConfigState& s) {
  config::ProxyConfig cfg = s.assemble();
  s.commitActive(cfg);
  s.pruneRoutes();
  return cfg;
}

std::vector<std::string> listenerNames(const config::ProxyConfig& c) {
  std::vector<std::string> out;
  for (const auto& l : c.listeners) out.push_back(l.name);
  return out;
}

std::vector<std::string> routeNames(const config::ProxyConfig& c) {
  std::vector<std::string> out;
  for (const auto& r : c.routes) out.push_back(r.name);
  return out;
}

std::string firstCluster(const config::RouteTableConfig& r) {
  return r.virtual_hosts.at(0).routes.at(0).route.cluster;
}

const std::string& rdsOf(const config::ListenerConfig& l) {
  return l.filter_chains.at(0).filters.at(0).http->rds_name;
}

TEST_CASE("RDS: a new listener warms until its route configuration arrives", "[xds][rds]") {
  ConfigState s;
  REQUIRE(sotw(s, ResourceType::Listener, "l1", {rdsListener("app", 8080, "r1")}).ok());
  CHECK(s.rdsNames() == std::set<std::string>{"r1"});
  CHECK(s.pendingRoutes() == std::set<std::string>{"r1"});
  CHECK(s.warmingListeners() == std::vector<std::string>{"app"});
  config::ProxyConfig cfg = applyAndCommit(s);
  CHECK(cfg.listeners.empty());  // not in service yet
  CHECK(cfg.routes.empty());

  REQUIRE(sotw(s, ResourceType::RouteConfiguration, "v1", {routeConfig("r1", "backend")}).ok());
  CHECK(s.pendingRoutes().empty());
  CHECK(s.warmingListeners().empty());
  cfg = applyAndCommit(s);
  CHECK(listenerNames(cfg) == std::vector<std::string>{"app"});
  REQUIRE(routeNames(cfg) == std::vector<std::string>{"r1"});
  CHECK(firstCluster(cfg.routes[0]) == "backend");
  CHECK(s.resources(ResourceType::RouteConfiguration).at("r1")->version == "v1");
  CHECK(s.versions(ResourceType::RouteConfiguration) ==
        std::map<std::string, std::string>{{"r1", "v1"}});

  // A new version of the route configuration replaces the old at once (no warming).
  REQUIRE(sotw(s, ResourceType::RouteConfiguration, "v2", {routeConfig("r1", "other")}).ok());
  cfg = applyAndCommit(s);
  REQUIRE(routeNames(cfg) == std::vector<std::string>{"r1"});
  CHECK(firstCluster(cfg.routes[0]) == "other");
}

TEST_CASE("RDS: a changed listener keeps serving its old version (and routes) while it warms",
          "[xds][rds]") {
  ConfigState s;
  REQUIRE(sotw(s, ResourceType::Listener, "l1", {rdsListener("app", 8080, "r1")}).ok());
  REQUIRE(sotw(s, ResourceType::RouteConfiguration, "v1", {routeConfig("r1", "one")}).ok());
  applyAndCommit(s);

  // The listener now wants r2, which has not arrived.
  REQUIRE(sotw(s, ResourceType::Listener, "l2", {rdsListener("app", 8080, "r2")}).ok());
  CHECK(s.rdsNames() == std::set<std::string>{"r1", "r2"});  // r1: the version in force
  CHECK(s.pendingRoutes() == std::set<std::string>{"r2"});
  CHECK(s.warmingListeners() == std::vector<std::string>{"app"});
  config::ProxyConfig cfg = applyAndCommit(s);
  REQUIRE(cfg.listeners.size() == 1);
  CHECK(rdsOf(cfg.listeners[0]) == "r1");  // make before break
  CHECK(routeNames(cfg) == std::vector<std::string>{"r1"});
  CHECK(s.resources(ResourceType::RouteConfiguration).count("r1") == 1);  // still needed
  auto active = s.activeListenerResources();
  REQUIRE(active.count("app") == 1);
  CHECK(active.at("app")->version == "l1");

  REQUIRE(sotw(s, ResourceType::RouteConfiguration, "v2", {routeConfig("r2", "two")}).ok());
  cfg = applyAndCommit(s);
  REQUIRE(cfg.listeners.size() == 1);
  CHECK(rdsOf(cfg.listeners[0]) == "r2");
  REQUIRE(routeNames(cfg) == std::vector<std::string>{"r2"});
  CHECK(firstCluster(cfg.routes[0]) == "two");
  // r1 is referenced by nothing now: dropped (RDS is not a wildcard type).
  CHECK(s.rdsNames() == std::set<std::string>{"r2"});
  CHECK(s.resources(ResourceType::RouteConfiguration).count("r1") == 0);
  CHECK(s.activeListenerResources().at("app")->version == "l2");

  // A listener removed by LDS takes its route configuration with it.
  REQUIRE(sotw(s, ResourceType::Listener, "l3", {}).ok());
  cfg = applyAndCommit(s);
  CHECK(cfg.listeners.empty());
  CHECK(cfg.routes.empty());
  CHECK(s.resources(ResourceType::RouteConfiguration).empty());
  CHECK(s.rdsNames().empty());
}

TEST_CASE("RDS: a route configuration that never arrives counts as absent after the timeout",
          "[xds][rds]") {
  ConfigState s;
  REQUIRE(sotw(s, ResourceType::Listener, "l1", {rdsListener("app", 8080, "ghost")}).ok());
  CHECK(applyAndCommit(s).listeners.empty());
  s.markRouteAbsent("ghost");
  CHECK(s.pendingRoutes().empty());
  CHECK(s.warmingListeners().empty());
  // In service without a route table: every request gets 404 (NR), as in Envoy.
  config::ProxyConfig cfg = applyAndCommit(s);
  CHECK(listenerNames(cfg) == std::vector<std::string>{"app"});
  CHECK(cfg.routes.empty());
  // It arrives late: used from then on.
  REQUIRE(sotw(s, ResourceType::RouteConfiguration, "v1", {routeConfig("ghost", "late")}).ok());
  cfg = applyAndCommit(s);
  CHECK(routeNames(cfg) == std::vector<std::string>{"ghost"});
  // A timeout after arrival changes nothing.
  s.markRouteAbsent("ghost");
  CHECK(routeNames(s.assemble()) == std::vector<std::string>{"ghost"});
}

TEST_CASE("RDS over Delta: removal means absent - the listener stays in service without routes",
          "[xds][rds]") {
  ConfigState s;
  REQUIRE(sotw(s, ResourceType::Listener, "l1", {rdsListener("app", 8080, "r1")}).ok());
  RepeatedPtrField<envoy::service::discovery::v3::Resource> res;
  auto* r = res.Add();
  r->set_name("r1");
  r->set_version("7");
  *r->mutable_resource() = any(routeConfig("r1", "backend"));
  RepeatedPtrField<std::string> none;
  REQUIRE(s.applyDelta(ResourceType::RouteConfiguration, res, none, 1000, nullptr).ok());
  config::ProxyConfig cfg = applyAndCommit(s);
  CHECK(routeNames(cfg) == std::vector<std::string>{"r1"});
  CHECK(s.versions(ResourceType::RouteConfiguration) ==
        std::map<std::string, std::string>{{"r1", "7"}});

  RepeatedPtrField<envoy::service::discovery::v3::Resource> empty;
  RepeatedPtrField<std::string> removed;
  *removed.Add() = "r1";
  REQUIRE(s.applyDelta(ResourceType::RouteConfiguration, empty, removed, 2000, nullptr).ok());
  CHECK(s.pendingRoutes().empty());
  cfg = applyAndCommit(s);
  CHECK(listenerNames(cfg) == std::vector<std::string>{"app"});
  CHECK(cfg.routes.empty());

  // A Resource named in the response but without a body also says "does not exist".
  RepeatedPtrField<envoy::service::discovery::v3::Resource> gone;
  gone.Add()->set_name("r1");
  REQUIRE(s.applyDelta(ResourceType::RouteConfiguration, gone, none, 3000, nullptr).ok());
  CHECK(s.pendingRoutes().empty());
}

TEST_CASE("RDS: a route configuration remora cannot run is rejected naming the field",
          "[xds][rds]") {
  ConfigState s;
  REQUIRE(sotw(s, ResourceType::Listener, "l1", {rdsListener("app", 8080, "r1")}).ok());
  REQUIRE(sotw(s, ResourceType::RouteConfiguration, "v1", {routeConfig("r1", "backend")}).ok());
  applyAndCommit(s);
  ConfigState next = s;  // the client stages on a copy
  auto st = sotw(next, ResourceType::RouteConfiguration, "v2",
                 {routeConfig("r1", "backend", ", hedge_policy: {initial_requests: 2}")});
  REQUIRE_FALSE(st.ok());
  CHECK(std::string(st.message()) ==
        "route_configuration 'r1'.virtual_hosts[0].routes[0].route.hedge_policy: not supported by "
        "remora");
  CHECK(s.resources(ResourceType::RouteConfiguration).at("r1")->version == "v1");

  // A resource of another type in the response, and a duplicate.
  auto wrong = sotw(next, ResourceType::RouteConfiguration, "v3", {rdsListener("x", 1, "r")});
  REQUIRE_FALSE(wrong.ok());
  CHECK(std::string(wrong.message()) ==
        "resource of type type.googleapis.com/envoy.config.listener.v3.Listener in a "
        "type.googleapis.com/envoy.config.route.v3.RouteConfiguration response");
  auto twice = sotw(next, ResourceType::RouteConfiguration, "v4",
                    {routeConfig("r1", "a"), routeConfig("r1", "b")});
  REQUIRE_FALSE(twice.ok());
  CHECK(std::string(twice.message()) == "route_configuration 'r1' appears twice in one response");
}

TEST_CASE("RDS: static listeners name route configurations too, and serve from the start",
          "[xds][rds]") {
  ConfigState probe;
  REQUIRE(sotw(probe, ResourceType::Listener, "x", {rdsListener("static", 8081, "rs")}).ok());
  config::ProxyConfig static_config = probe.assemble();  // (warming: empty)
  // Build the static listener from the LDS translation once it is warm.
  probe.markRouteAbsent("rs");
  static_config = probe.assemble();
  REQUIRE(static_config.listeners.size() == 1);

  ConfigState s(static_config);
  CHECK(s.rdsNames() == std::set<std::string>{"rs"});
  CHECK(s.pendingRoutes() == std::set<std::string>{"rs"});
  CHECK(s.warmingListeners().empty());  // static: never held back
  config::ProxyConfig cfg = s.assemble();
  CHECK(listenerNames(cfg) == std::vector<std::string>{"static"});
  CHECK(cfg.routes.empty());
  REQUIRE(sotw(s, ResourceType::RouteConfiguration, "v1", {routeConfig("rs", "backend")}).ok());
  cfg = applyAndCommit(s);
  CHECK(routeNames(cfg) == std::vector<std::string>{"rs"});
  CHECK(s.resources(ResourceType::RouteConfiguration).count("rs") == 1);  // not pruned
}

TEST_CASE("/config_dump: RoutesConfigDump with dynamic route configs - warming listeners",
          "[xds][rds]") {
  ConfigState s;
  REQUIRE(sotw(s, ResourceType::Listener, "l1", {rdsListener("app", 8080, "r1")}).ok());
  REQUIRE(sotw(s, ResourceType::RouteConfiguration, "v1", {routeConfig("r1", "backend")}).ok());
  applyAndCommit(s);
  REQUIRE(sotw(s, ResourceType::Listener, "l2", {rdsListener("app", 8080, "r2")}).ok());
  applyAndCommit(s);

  XdsClient::Dump d;
  for (auto t : {ResourceType::Listener, ResourceType::RouteConfiguration})
    d.resources[t] = s.resources(t);
  d.warming_listeners = s.warmingListeners();
  d.active_listeners = s.activeListenerResources();
  d.last_error[ResourceType::RouteConfiguration] = "route_configuration 'r9': bad";
  envoy::config::bootstrap::v3::Bootstrap b;
  std::string json = configDumpJson(b, 0, &d);
  INFO(json);
  CHECK(json.find("\"@type\": \"type.googleapis.com/envoy.admin.v3.RoutesConfigDump\"") !=
        std::string::npos);
  CHECK(json.find("\"dynamic_route_configs\"") != std::string::npos);
  CHECK(json.find("\"@type\": \"type.googleapis.com/envoy.config.route.v3.RouteConfiguration\"") !=
        std::string::npos);
  CHECK(json.find("\"warming_state\"") != std::string::npos);
  CHECK(json.find("\"active_state\"") != std::string::npos);
  CHECK(json.find("\"version_info\": \"l1\"") != std::string::npos);  // the version in force
  CHECK(json.find("\"version_info\": \"l2\"") != std::string::npos);  // the one warming
  CHECK(json.find("route_configuration 'r9': bad") != std::string::npos);
}

TEST_CASE("/config_dump: a route table inline in a manager is a static route config",
          "[xds][rds]") {
  envoy::config::bootstrap::v3::Bootstrap b;
  auto st = parseMessage(R"(
static_resources:
  listeners:
  - name: http
    address: {socket_address: {address: 127.0.0.1, port_value: 8080}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: s
          route_config: {name: local_route, virtual_hosts: [{name: a, domains: ['*']}]}
          http_filters: [{name: envoy.filters.http.router, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
)",
                         &b);
  INFO(st.ToString());
  REQUIRE(st.ok());
  std::string json = configDumpJson(b, 0, nullptr);
  INFO(json);
  CHECK(json.find("\"static_route_configs\"") != std::string::npos);
  CHECK(json.find("\"name\": \"local_route\"") != std::string::npos);
}

TEST_CASE(
    "EDS: the assignment's overprovisioning factor, priorities and degraded hosts reach "
    "the cluster",
    "[xds][eds]") {
  ConfigState s;
  REQUIRE(
      sotw(s, ResourceType::Cluster, "c1",
           {"'@type': type.googleapis.com/envoy.config.cluster.v3.Cluster\nname: backend\ntype: "
            "EDS\neds_cluster_config: {eds_config: {ads: {}}, service_name: backend-eds}\n"})
          .ok());
  const std::string cla =
      "'@type': type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment\n"
      "cluster_name: backend-eds\n";
  const std::string endpoints =
      "endpoints:\n"
      "- lb_endpoints:\n"
      "  - {endpoint: {address: {socket_address: {address: 192.0.2.1, port_value: 80}}}, "
      "health_status: DEGRADED}\n"
      "- priority: 1\n"
      "  lb_endpoints:\n"
      "  - {endpoint: {address: {socket_address: {address: 192.0.2.2, port_value: 80}}}}\n";
  REQUIRE(sotw(s, ResourceType::ClusterLoadAssignment, "e1",
               {cla + "policy: {overprovisioning_factor: 100}\n" + endpoints})
              .ok());
  config::ProxyConfig cfg = applyAndCommit(s);
  REQUIRE(cfg.clusters.size() == 1);
  CHECK(cfg.clusters[0].overprovisioning_factor == 100);
  REQUIRE(cfg.clusters[0].endpoints.size() == 2);
  CHECK(cfg.clusters[0].endpoints[0].degraded);
  CHECK(cfg.clusters[0].endpoints[0].priority == 0);
  CHECK(cfg.clusters[0].endpoints[1].priority == 1);
  // A new assignment without a policy: Envoy's default again.
  REQUIRE(sotw(s, ResourceType::ClusterLoadAssignment, "e2", {cla + endpoints}).ok());
  cfg = applyAndCommit(s);
  REQUIRE(cfg.clusters.size() == 1);
  CHECK(cfg.clusters[0].overprovisioning_factor == 140);
}

}  // namespace
}  // namespace remora::xds
