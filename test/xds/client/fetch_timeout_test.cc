// initial_fetch_timeout as Envoy reads it: each ConfigSource's own (cds_config and lds_config in
// the bootstrap, eds_config in a cluster, rds.config_source in a connection manager, sds_config
// in a TLS context), 15 s when unset, 0 for "wait for ever"; a name several resources refer to
// gives up at the shortest of their timeouts that gives up at all.
#include <catch2/catch.hpp>

#include "envoy/config/bootstrap/v3/bootstrap.pb.h"
#include "proxy/common/strings.h"
#include "xds/client/config_state.h"
#include "xds/common/load.h"
#include "xds/translate/bootstrap.h"

namespace remora::xds {
namespace {

using namespace std::chrono_literals;
using google::protobuf::Any;
using google::protobuf::RepeatedPtrField;

absl::Status sotw(ConfigState& s, ResourceType type, std::initializer_list<std::string> yamls) {
  RepeatedPtrField<Any> list;
  for (const auto& y : yamls) {
    auto st = parseMessage(y, list.Add());
    INFO(st.ToString() << "\n" << y);
    REQUIRE(st.ok());
  }
  return s.applySotw(type, "v1", list, 1000, nullptr);
}

// `timeout` empty: the field unset.
std::string source(const std::string& timeout) {
  return timeout.empty()
             ? "{ads: {}, resource_api_version: V3}"
             : cat("{ads: {}, resource_api_version: V3, initial_fetch_timeout: ", timeout, "}");
}

std::string edsCluster(const std::string& name, const std::string& service,
                       const std::string& timeout) {
  return cat("'@type': type.googleapis.com/envoy.config.cluster.v3.Cluster\nname: ", name,
             "\ntype: EDS\neds_cluster_config: {service_name: ", service,
             ", eds_config: ", source(timeout), "}\n");
}

std::string rdsListener(const std::string& name, int port, const std::string& rds,
                        const std::string& timeout) {
  return cat("'@type': type.googleapis.com/envoy.config.listener.v3.Listener\nname: ", name,
             "\naddress: {socket_address: {address: 127.0.0.1, port_value: ", port, R"(}}
filter_chains:
- filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: s
      rds: {route_config_name: )",
             rds, ", config_source: ", source(timeout), R"(}
      http_filters: [{name: envoy.filters.http.router, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
)");
}

std::string tlsCluster(const std::string& name, const std::string& cert, const std::string& roots,
                       const std::string& timeout) {
  return cat("'@type': type.googleapis.com/envoy.config.cluster.v3.Cluster\nname: ", name,
             R"(
type: STATIC
load_assignment: {cluster_name: x, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 1}}}}]}]}
transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
    common_tls_context:
      tls_certificate_sds_secret_configs: [{name: )",
             cert, ", sds_config: ", source(timeout), R"(}]
      validation_context_sds_secret_config: {name: )",
             roots, ", sds_config: ", source(""), "}\n");
}

TEST_CASE("initial_fetch_timeout: endpoints, routes and secrets each by their own config source",
          "[xds][fetch-timeout]") {
  ConfigState s;
  REQUIRE(sotw(s, ResourceType::Cluster,
               {edsCluster("a", "svc-a", ""), edsCluster("b", "svc-b", "2.5s"),
                edsCluster("c", "svc-c", "0s"),
                // Two clusters sharing one assignment: the shorter timeout that gives up wins.
                edsCluster("d1", "shared", "0s"), edsCluster("d2", "shared", "7s"),
                edsCluster("d3", "shared", "9s"), tlsCluster("t", "cert", "roots", "4s"),
                tlsCluster("u", "cert", "roots2", "0s")})
              .ok());
  FetchTimeouts eds = s.edsFetchTimeouts();
  CHECK(eds == FetchTimeouts{{"svc-a", 15s}, {"svc-b", 2500ms}, {"svc-c", 0ms}, {"shared", 7s}});
  FetchTimeouts sds = s.sdsFetchTimeouts();
  CHECK(sds == FetchTimeouts{{"cert", 4s}, {"roots", 15s}, {"roots2", 15s}});
  CHECK(s.adsSecretNames() == std::set<std::string>{"cert", "roots", "roots2"});
  CHECK(s.edsNames() == std::set<std::string>{"svc-a", "svc-b", "svc-c", "shared"});

  REQUIRE(sotw(s, ResourceType::Listener,
               {rdsListener("l1", 8001, "r1", ""), rdsListener("l2", 8002, "r2", "0s"),
                rdsListener("l3", 8003, "r3", "1s"), rdsListener("l4", 8004, "r3", "0s")})
              .ok());
  CHECK(s.rdsFetchTimeouts() == FetchTimeouts{{"r1", 15s}, {"r2", 0ms}, {"r3", 1s}});
}

TEST_CASE("initial_fetch_timeout: a bad config source is refused by its path",
          "[xds][fetch-timeout]") {
  ConfigState s;
  auto st = sotw(s, ResourceType::Cluster,
                 {cat("'@type': type.googleapis.com/envoy.config.cluster.v3.Cluster\nname: x\n",
                      "type: EDS\neds_cluster_config: {eds_config: {ads: {}, "
                      "initial_fetch_timeout: -1s}}\n")});
  CHECK(st.message() ==
        "cluster 'x'.eds_cluster_config.eds_config.initial_fetch_timeout: out of range");
  // The SDS config source is checked field by field like the others.
  st = sotw(s, ResourceType::Cluster,
            {cat("'@type': type.googleapis.com/envoy.config.cluster.v3.Cluster\nname: y\n",
                 R"(type: STATIC
transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
    common_tls_context:
      tls_certificate_sds_secret_configs: [{name: c, sds_config: {ads: {}, resource_api_version: V3, authorities: [{name: elsewhere}]}}]
)")});
  CHECK(st.message().find("tls_certificate_sds_secret_configs[0].sds_config.authorities: not "
                          "supported") != std::string_view::npos);
}

TEST_CASE("initial_fetch_timeout: the bootstrap's cds_config and lds_config each keep their own",
          "[xds][fetch-timeout]") {
  envoy::config::bootstrap::v3::Bootstrap b;
  auto st = parseMessage(R"(
node: {id: n, cluster: c}
dynamic_resources:
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services: [{google_grpc: {target_uri: "127.0.0.1:15010", stat_prefix: ads}}]
  cds_config: {ads: {}, resource_api_version: V3, initial_fetch_timeout: 3s}
  lds_config: {ads: {}, resource_api_version: V3, initial_fetch_timeout: 0s}
)",
                         &b);
  REQUIRE(st.ok());
  TranslateNotes notes;
  auto bc = translateBootstrap(b, &notes);
  INFO(bc.status().ToString());
  REQUIRE(bc.ok());
  REQUIRE(bc->ads);
  CHECK(bc->ads->cds_fetch_timeout == 3s);
  CHECK(bc->ads->lds_fetch_timeout == 0ms);

  b.mutable_dynamic_resources()->clear_lds_config();
  b.mutable_dynamic_resources()->mutable_cds_config()->clear_initial_fetch_timeout();
  bc = translateBootstrap(b, &notes);
  REQUIRE(bc.ok());
  CHECK(bc->ads->cds_fetch_timeout == 15s);  // Envoy's default
}

}  // namespace
}  // namespace remora::xds
