// Translation of Envoy resources: what Istio, Consul and Kuma send is accepted, or NACKed
// with the exact field and reason.
#include "xds/translate/translate.h"

#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>

#include "proxy/common/strings.h"
#include "test/xds/translate/translate_test_util.h"
#include "xds/common/load.h"

namespace remora::xds {
namespace {

using envoy::config::cluster::v3::Cluster;
using envoy::config::endpoint::v3::ClusterLoadAssignment;
using envoy::config::listener::v3::Listener;

using testutil::errorOf;
using testutil::parse;

// Istio's outbound capture listener, minus its own extensions (istio.stats).
const char* kVirtualOutbound = R"(
name: virtualOutbound
address: {socket_address: {address: 0.0.0.0, port_value: 15001}}
use_original_dst: true
traffic_direction: OUTBOUND
filter_chains:
- name: virtualOutbound-catchall-tcp
  filters:
  - name: envoy.filters.network.tcp_proxy
    typed_config:
      '@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
      stat_prefix: PassthroughCluster
      cluster: PassthroughCluster
      access_log:
      - name: envoy.access_loggers.file
- name: virtualOutbound-blackhole
  filter_chain_match: {destination_port: 15001}
  filters:
  - name: envoy.filters.network.tcp_proxy
    typed_config:
      '@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
      stat_prefix: BlackHoleCluster
      cluster: BlackHoleCluster
)";

TEST_CASE("Istio's virtualOutbound listener is accepted - access_log is noted as ignored",
          "[xds][translate]") {
  TranslateNotes notes;
  auto l = translateListener(parse<Listener>(kVirtualOutbound), &notes);
  INFO(l.status().ToString());
  REQUIRE(l.ok());
  CHECK(l->use_original_dst);
  CHECK(l->bind_to_port);
  CHECK(l->address.toString() == "0.0.0.0:15001");
  REQUIRE(l->filter_chains.size() == 2);
  CHECK(l->filter_chains[0].filters[0].tcp_proxy.cluster == "PassthroughCluster");
  CHECK(l->filter_chains[1].match.destination_port == 15001);
  CHECK(notes.ignored ==
        std::vector<std::string>{
            "listener 'virtualOutbound'.traffic_direction",
            "listener 'virtualOutbound'.filter_chains[0].filters[0].typed_config.access_log"});
}

TEST_CASE("Istio's own network filters are NACKed by name and type", "[xds][translate]") {
  auto l = translateListener(parse<Listener>(R"(
name: 0.0.0.0_9000
address: {socket_address: {address: 0.0.0.0, port_value: 9000}}
bind_to_port: false
filter_chains:
- filters:
  - name: istio.stats
    typed_config:
      '@type': type.googleapis.com/udpa.type.v1.TypedStruct
      type_url: type.googleapis.com/stats.PluginConfig
      value: {}
  - name: envoy.filters.network.tcp_proxy
    typed_config:
      '@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
      stat_prefix: outbound|9000||echo.default.svc.cluster.local
      cluster: outbound|9000||echo.default.svc.cluster.local
)"),
                             nullptr);
  REQUIRE_FALSE(l.ok());
  CHECK(errorOf(l.status()) ==
        "listener '0.0.0.0_9000'.filter_chains[0].filters[0]: network filter 'istio.stats' "
        "(type.googleapis.com/udpa.type.v1.TypedStruct wrapping "
        "type.googleapis.com/stats.PluginConfig) "
        "is not one remora implements");
}

TEST_CASE("Istio's virtualInbound with the original_dst listener filter and per-port chains",
          "[xds][translate]") {
  auto l = translateListener(parse<Listener>(R"(
name: virtualInbound
address: {socket_address: {address: 0.0.0.0, port_value: 15006}}
listener_filters:
- name: envoy.filters.listener.original_dst
  typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst}
listener_filters_timeout: 0s
continue_on_listener_filters_timeout: true
filter_chains:
- name: virtualInbound-blackhole
  filter_chain_match: {destination_port: 15006}
  filters:
  - name: envoy.filters.network.tcp_proxy
    typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: BlackHoleCluster, cluster: BlackHoleCluster}
- name: 0.0.0.0_8080
  filter_chain_match: {destination_port: 8080, prefix_ranges: [{address_prefix: 0.0.0.0, prefix_len: 0}]}
  filters:
  - name: envoy.filters.network.tcp_proxy
    typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: inbound|8080||, cluster: inbound|8080||, idle_timeout: 3600s}
- name: virtualInbound-catchall
  filter_chain_match: {prefix_ranges: [{address_prefix: 0.0.0.0, prefix_len: 0}]}
  filters:
  - name: envoy.filters.network.tcp_proxy
    typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: InboundPassthroughCluster, cluster: InboundPassthroughCluster}
)"),
                             nullptr);
  INFO(l.status().ToString());
  REQUIRE(l.ok());
  CHECK(l->original_dst_filter);
  CHECK_FALSE(l->use_original_dst);
  REQUIRE(l->filter_chains.size() == 3);
  CHECK(l->filter_chains[1].match.prefix_ranges[0].toString() == "0.0.0.0/0");
  CHECK(l->filter_chains[1].filters[0].tcp_proxy.idle_timeout == std::chrono::hours(1));
}

TEST_CASE("tls_inspector translates, and other listener filters are NACKed by name",
          "[xds][translate]") {
  TranslateNotes notes;
  auto l = translateListener(parse<Listener>(R"(
name: virtualInbound
address: {socket_address: {address: 0.0.0.0, port_value: 15006}}
listener_filters:
- name: envoy.filters.listener.tls_inspector
  typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector, enable_ja3_fingerprinting: true}
filter_chains:
- filter_chain_match: {transport_protocol: tls, server_names: [a.example]}
  filters:
  - name: envoy.filters.network.tcp_proxy
    typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: x, cluster: x}
)"),
                             &notes);
  INFO(l.status().ToString());
  REQUIRE(l.ok());
  CHECK(l->tls_inspector);
  CHECK(l->filter_chains[0].match.transport_protocol == "tls");
  CHECK(notes.ignored.size() == 1);
  auto other = translateListener(parse<Listener>(R"(
name: virtualInbound
address: {socket_address: {address: 0.0.0.0, port_value: 15006}}
listener_filters:
- name: envoy.filters.listener.proxy_protocol
filter_chains:
- filters:
  - name: envoy.filters.network.tcp_proxy
    typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: x, cluster: x}
)"),
                                 nullptr);
  REQUIRE_FALSE(other.ok());
  CHECK(errorOf(other.status()) ==
        "listener 'virtualInbound'.listener_filters[0]: listener filter "
        "'envoy.filters.listener.proxy_protocol' (no typed_config) is not one remora implements "
        "(original_dst, http_inspector and tls_inspector are)");
}

TEST_CASE("http_inspector with its timeout translates, and with tls_inspector beside it",
          "[xds][translate]") {
  TranslateNotes notes;
  auto l = translateListener(parse<Listener>(R"(
name: virtualInbound
address: {socket_address: {address: 0.0.0.0, port_value: 15006}}
listener_filters:
- name: envoy.filters.listener.http_inspector
  typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector}
listener_filters_timeout: 0.1s
continue_on_listener_filters_timeout: true
filter_chains:
- filter_chain_match: {application_protocols: [http/1.1, h2c]}
  filters: [{name: envoy.filters.network.tcp_proxy, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: a, cluster: a}}]
)"),
                             &notes);
  INFO(l.status().ToString());
  REQUIRE(l.ok());
  CHECK(l->http_inspector);
  CHECK(l->listener_filters_timeout == std::chrono::milliseconds(100));
  CHECK(l->continue_on_listener_filters_timeout);
  auto tls = translateListener(parse<Listener>(R"(
name: tls
address: {socket_address: {address: 0.0.0.0, port_value: 15006}}
listener_filters:
- name: envoy.filters.listener.tls_inspector
  typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector}
- name: envoy.filters.listener.http_inspector
  typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector}
filter_chains:
- filters: [{name: envoy.filters.network.tcp_proxy, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: a, cluster: a}}]
)"),
                               &notes);
  REQUIRE(tls.ok());
  CHECK(tls->tls_inspector);
  CHECK(tls->http_inspector);
}

TEST_CASE("Istio's passthrough clusters: breakers accepted, protocol options translated or NACKed",
          "[xds][translate]") {
  TranslateNotes notes;
  auto ok = translateCluster(parse<Cluster>(R"(
name: PassthroughCluster
type: ORIGINAL_DST
connect_timeout: 10s
lb_policy: CLUSTER_PROVIDED
circuit_breakers:
  thresholds:
  - {max_connections: 4294967295, max_pending_requests: 4294967295, max_requests: 4294967295, max_retries: 4294967295, track_remaining: true}
)"),
                             &notes);
  INFO(ok.status().ToString());
  REQUIRE(ok.ok());
  CHECK(ok->type == config::ClusterConfig::Type::OriginalDst);
  CHECK(ok->connect_timeout == std::chrono::seconds(10));

  auto inbound = translateCluster(parse<Cluster>(R"(
name: InboundPassthroughCluster
type: ORIGINAL_DST
connect_timeout: 10s
lb_policy: CLUSTER_PROVIDED
upstream_bind_config: {source_address: {address: 127.0.0.6, port_value: 0}}
)"),
                                  nullptr);
  REQUIRE(inbound.ok());
  CHECK(inbound->source_address->ip() == "127.0.0.6");

  auto with_options = translateCluster(parse<Cluster>(R"(
name: PassthroughCluster
type: ORIGINAL_DST
lb_policy: CLUSTER_PROVIDED
typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    '@type': type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    use_downstream_protocol_config: {http_protocol_options: {}, http2_protocol_options: {}}
)"),
                                       nullptr);
  INFO(with_options.status().ToString());
  REQUIRE(with_options.ok());
  CHECK(with_options->protocol == config::ClusterConfig::Protocol::UseDownstream);

  auto h2 = translateCluster(parse<Cluster>(R"(
name: grpc
type: STATIC
typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    '@type': type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    explicit_http_config: {http2_protocol_options: {max_concurrent_streams: 50}}
)"),
                             nullptr);
  INFO(h2.status().ToString());
  REQUIRE(h2.ok());
  CHECK(h2->protocol == config::ClusterConfig::Protocol::Http2);
  CHECK(h2->h2_max_concurrent_streams == 50);

  // Upstream connection limits: idle_timeout (Envoy's 1 h by default) and
  // max_requests_per_connection.
  CHECK(h2->upstream_idle_timeout == std::chrono::hours(1));
  CHECK(h2->max_requests_per_connection == 0);
  auto idle = translateCluster(parse<Cluster>(R"(
name: idle
type: STATIC
typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    '@type': type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    common_http_protocol_options: {idle_timeout: 30s, max_requests_per_connection: 7}
    explicit_http_config: {http_protocol_options: {}}
)"),
                               nullptr);
  INFO(idle.status().ToString());
  REQUIRE(idle.ok());
  CHECK(idle->upstream_idle_timeout == std::chrono::seconds(30));
  CHECK(idle->max_requests_per_connection == 7);
  // What remora does not implement is still refused, naming the field.
  auto duration = translateCluster(parse<Cluster>(R"(
name: duration
type: STATIC
typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    '@type': type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    common_http_protocol_options: {idle_timeout: 30s, max_connection_duration: 60s}
    explicit_http_config: {http_protocol_options: {}}
)"),
                                   nullptr);
  REQUIRE_FALSE(duration.ok());
  CHECK(errorOf(duration.status())
            .find("typed_extension_protocol_options['envoy.extensions.upstreams."
                  "http.v3.HttpProtocolOptions'].common_http_protocol_options."
                  "max_connection_duration: not supported") != std::string::npos);
  auto alpn = translateCluster(parse<Cluster>(R"(
name: alpn
type: STATIC
typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    '@type': type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    auto_config: {}
)"),
                               nullptr);
  REQUIRE_FALSE(alpn.ok());
  CHECK(errorOf(alpn.status()).find("auto_config") != std::string::npos);

  auto limited = translateCluster(parse<Cluster>(R"(
name: reviews
type: EDS
eds_cluster_config: {eds_config: {ads: {}, resource_api_version: V3}}
circuit_breakers: {thresholds: [{max_connections: 100, max_pending_requests: 4294967295, max_requests: 4294967295, max_retries: 4294967295}]}
)"),
                                  nullptr);
  // Real limits are enforced now: translated as given.
  INFO(limited.status().ToString());
  REQUIRE(limited.ok());
  CHECK(limited->circuit_breakers.default_priority.max_connections == 100);
  CHECK(limited->circuit_breakers.default_priority.max_pending_requests == 4294967295u);
}

TEST_CASE("resilience and security fields are NACKed, naming the field", "[xds][translate]") {
  struct Case {
    const char* yaml;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"name: a\ntype: EDS\neds_cluster_config: {eds_config: {ads: {}}}\noutlier_detection: "
            "{consecutive_5xx: 5, monitors: [{name: m}]}",
            "cluster 'a'.outlier_detection.monitors: not supported by remora"},
           {"name: a\ntype: EDS\neds_cluster_config: {eds_config: {ads: {}}}\nlb_subset_config: "
            "{fallback_policy: ANY_ENDPOINT}",
            "cluster 'a'.lb_subset_config: not supported by remora"},
           {"name: a\ntype: STRICT_DNS\nload_assignment: {cluster_name: a}",
            "cluster 'a'.type: STRICT_DNS is not supported (STATIC, EDS and ORIGINAL_DST are)"},
           {"name: a\ntype: EDS\neds_cluster_config: {eds_config: {path: /etc/eds.yaml}}",
            "cluster 'a'.eds_cluster_config.eds_config.path: not supported by remora"},
           {"name: a\ntype: EDS\neds_cluster_config: {eds_config: {ads: {}}}\nhealth_checks: "
            "[{timeout: 1s, interval: 1s, unhealthy_threshold: 2, healthy_threshold: 1, "
            "grpc_health_check: {}}]",
            "cluster 'a'.health_checks[0].grpc_health_check: not supported by remora"},
           {"name: a\ntype: EDS\neds_cluster_config: {eds_config: {ads: {}}}\ntransport_socket: "
            "{name: envoy.transport_sockets.tls}",
            "cluster 'a'.transport_socket: 'envoy.transport_sockets.tls' is not supported "
            "(raw_buffer and tls are)"},
       }) {
    INFO(c.yaml);
    auto r = translateCluster(parse<Cluster>(c.yaml), nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(errorOf(r.status()) == c.error);
  }
}

TEST_CASE("Kuma-style camelCase JSON is accepted as well", "[xds][translate]") {
  auto c = translateCluster(parse<Cluster>(R"({
    "name": "demo-app_kuma-demo_svc_5000",
    "type": "EDS",
    "connectTimeout": "5s",
    "edsClusterConfig": {"edsConfig": {"ads": {}, "resourceApiVersion": "V3"}},
    "perConnectionBufferLimitBytes": 32768
  })"),
                            nullptr);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  CHECK(c->eds_service_name == "demo-app_kuma-demo_svc_5000");
  CHECK(c->per_connection_buffer_limit_bytes == 32768);
}

TEST_CASE("ClusterLoadAssignment: healthy endpoints with weights - unhealthy and draining left out",
          "[xds][translate]") {
  auto cla = parse<ClusterLoadAssignment>(R"(
cluster_name: reviews
endpoints:
- locality: {region: us-east1, zone: b}
  lb_endpoints:
  - endpoint: {address: {socket_address: {address: 192.0.2.10, port_value: 9080}}}
    load_balancing_weight: 3
  - endpoint: {address: {socket_address: {address: 192.0.2.11, port_value: 9080}}}
    health_status: UNHEALTHY
  - endpoint: {address: {socket_address: {address: 192.0.2.12, port_value: 9080}}}
    health_status: DRAINING
  - endpoint: {address: {socket_address: {address: 192.0.2.13, port_value: 9080}}}
    health_status: HEALTHY
    metadata: {filter_metadata: {istio: {workload: reviews-v1}}}
)");
  TranslateNotes notes;
  auto la = translateLoadAssignment(cla, "cla 'reviews'", &notes);
  INFO(la.status().ToString());
  REQUIRE(la.ok());
  const auto* eps = &la->endpoints;
  REQUIRE(eps->size() == 2);
  CHECK((*eps)[0].address.toString() == "192.0.2.10:9080");
  CHECK((*eps)[0].weight == 3);
  CHECK((*eps)[1].address.toString() == "192.0.2.13:9080");
  auto prio = parse<ClusterLoadAssignment>(
      "cluster_name: x\nendpoints: [{priority: 1, lb_endpoints: [{endpoint: {address: "
      "{socket_address: "
      "{address: 192.0.2.1, port_value: 1}}}}]}]");
  auto r = translateLoadAssignment(prio, "cla 'x'", nullptr);
  REQUIRE_FALSE(r.ok());
  CHECK(errorOf(r.status()) ==
        "cla 'x'.endpoints[0].priority: 1: priorities must run from 0 without gaps (0 is missing)");
  auto dns = parse<ClusterLoadAssignment>(
      "cluster_name: x\nendpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: "
      "{address: reviews.default.svc, port_value: 9080}}}}]}]");
  r = translateLoadAssignment(dns, "cla 'x'", nullptr);
  REQUIRE_FALSE(r.ok());
  CHECK(errorOf(r.status()).find("is not an IP address") != std::string::npos);
}

TEST_CASE("Consul-style TLS without a certificate on a public listener is NACKed precisely",
          "[xds][translate]") {
  auto l = translateListener(parse<Listener>(R"(
name: public_listener:0.0.0.0:21000
address: {socket_address: {address: 0.0.0.0, port_value: 21000}}
filter_chains:
- transport_socket:
    name: tls
    typed_config:
      '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
      require_client_certificate: true
  filters:
  - name: envoy.filters.network.tcp_proxy
    typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: public_listener, cluster: local_app}
)"),
                             nullptr);
  REQUIRE_FALSE(l.ok());
  CHECK(errorOf(l.status()) ==
        "listener 'public_listener:0.0.0.0:21000'.filter_chains[0].transport_socket.typed_config."
        "common_tls_context: a server needs a certificate (tls_certificates or "
        "tls_certificate_sds_secret_configs)");
}

TEST_CASE("weighted clusters and connect attempts", "[xds][translate]") {
  auto l = translateListener(parse<Listener>(R"(
name: split
address: {socket_address: {address: 0.0.0.0, port_value: 9000}}
filter_chains:
- filters:
  - name: envoy.filters.network.tcp_proxy
    typed_config:
      '@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
      stat_prefix: split
      weighted_clusters: {clusters: [{name: v1, weight: 90}, {name: v2, weight: 10}]}
      max_connect_attempts: 3
)"),
                             nullptr);
  REQUIRE(l.ok());
  const auto& t = l->filter_chains[0].filters[0].tcp_proxy;
  CHECK(t.weighted_clusters == std::vector<config::WeightedCluster>{{"v1", 90}, {"v2", 10}});
  CHECK(t.max_connect_attempts == 3);
  auto bad = translateListener(parse<Listener>(R"(
name: hashed
address: {socket_address: {address: 0.0.0.0, port_value: 9000}}
filter_chains:
- filters:
  - name: envoy.filters.network.tcp_proxy
    typed_config:
      '@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
      stat_prefix: hashed
      cluster: a
      hash_policy: [{source_ip: {}}]
)"),
                               nullptr);
  REQUIRE_FALSE(bad.ok());
  CHECK(errorOf(bad.status()) ==
        "listener 'hashed'.filter_chains[0].filters[0].typed_config.hash_policy: not supported by "
        "remora");
}

TEST_CASE("unknown fields and types in the text are errors", "[xds][translate]") {
  Cluster c;
  auto st = parseMessage("name: a\ntype: EDS\nno_such_field: 1\n", &c);
  REQUIRE_FALSE(st.ok());
  CHECK(errorOf(st).find("no_such_field") != std::string::npos);
  Listener l;
  st = parseMessage(R"(
name: x
filter_chains: [{filters: [{name: f, typed_config: {'@type': type.googleapis.com/not.a.Type}}]}]
)",
                    &l);
  REQUIRE_FALSE(st.ok());
}

}  // namespace
}  // namespace remora::xds

namespace remora::xds {
namespace {

TEST_CASE("a YAML alias bomb is refused instead of expanded", "[xds][translate]") {
  std::string yaml = "a: &a [x,x,x,x,x,x,x,x,x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c, ++prev) {
    yaml += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 9; ++i) yaml += std::string(i ? "," : "") + "*" + prev;
    yaml += "]\n";
  }
  auto docs = documentsAsJson(yaml);
  REQUIRE_FALSE(docs.ok());
  CHECK(std::string(docs.status().message()).find("expands past 16 MiB") != std::string::npos);
}

}  // namespace
}  // namespace remora::xds

namespace remora::xds {
namespace {

TEST_CASE("a stray ',' outside flow collections is refused (yaml-cpp would loop forever)",
          "[xds][translate]") {
  for (std::string bad :
       {std::string(","), std::string("[a],"), std::string("\"a\","), std::string("- a\n,"),
        std::string("x: [a, b], y: 1"), std::string("\0,%=", 4)}) {
    INFO(bad);
    auto docs = yamlDocumentsInProcess(bad);
    REQUIRE_FALSE(docs.ok());
    std::string msg(docs.status().message());
    CHECK((msg.find("',' outside [ ] or { }") != std::string::npos ||
           msg.find("control character 0x00") != std::string::npos));
  }
  // Commas inside flow collections, quotes, plain scalars and block scalars are fine.
  auto ok = documentsAsJson("a: [1, {b: \"x}, y\", c: 2}]\nd: |\n  , text\ne: b,c # , note\n");
  INFO(ok.status().ToString());
  REQUIRE(ok.ok());
  CHECK((*ok)[0] == R"({"a":[1,{"b":"x}, y","c":2}],"d":", text\n","e":"b,c"})");
}

}  // namespace
}  // namespace remora::xds

namespace remora::xds {
namespace {

TEST_CASE("yaml-cpp runs in a child with a time limit: a hanging input is an error, not a hang",
          "[xds][translate]") {
  // Fuzzer-found: yaml-cpp 0.7 spins on this (the product reads it as JSON; forced to YAML here).
  std::string input =
      "{-ic\"ypgUzl\":\"\xa2\xb7}\n - 1\"\"y t,peUrl\"congUzl\":\"\xa2\xb7}\n - 1\"\"y t,peUrl\"";
  input += std::string(200, '"');
  auto start = std::chrono::steady_clock::now();
  auto docs = yamlDocumentsIsolated(input, 1);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(took < std::chrono::seconds(5));
  if (!docs.ok()) {
    CHECK(std::string(docs.status().message()).starts_with("YAML"));
  }
  // And ordinary YAML comes back through the child intact.
  auto ok = yamlDocumentsIsolated("a: 1\n---\nb: [x, y]\n");
  REQUIRE(ok.ok());
  CHECK(*ok == std::vector<std::string>{R"({"a":1})", R"({"b":["x","y"]})"});
  // JSON documents never reach the YAML library.
  auto json = documentsAsJson("{\"a\": 1}\n---\n{\"b\": 2}\n");
  REQUIRE(json.ok());
  CHECK(json->size() == 2);
}

TEST_CASE("the long-lived YAML helper converts, and is replaced after a hang", "[xds][translate]") {
  useYamlHelper();
  auto ok = yamlDocumentsIsolated("a: 1\n---\nb: [x, y]\n");
  REQUIRE(ok.ok());
  CHECK(*ok == std::vector<std::string>{R"({"a":1})", R"({"b":["x","y"]})"});
  auto bad = yamlDocumentsIsolated("a: [1, 2\n");
  REQUIRE(!bad.ok());
  CHECK(std::string(bad.status().message()).starts_with("YAML"));
  // A helper that dies (the OOM killer, a crash) costs one conversion at most...
  auto helpers = [] {
    std::vector<int> children;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream in(task.path() / "children");
      for (int pid; in >> pid;) children.push_back(pid);
    }
    return children;
  };
  auto children = helpers();
  REQUIRE(children.size() == 1);
  REQUIRE(kill(children[0], SIGKILL) == 0);
  auto lost = yamlDocumentsIsolated("a: 1\n");
  if (!lost.ok())
    CHECK(std::string(lost.status().message()).starts_with("YAML: the parser gave up"));
  // ...and the next conversion gets a fresh one. Large input goes through the socket whole.
  std::string big;
  for (int i = 0; i < 20000; ++i) big += cat("k", i, ": v", i, "\n");
  auto again = yamlDocumentsIsolated(big);
  REQUIRE(again.ok());
  REQUIRE(again->size() == 1);
  CHECK((*again)[0].find("\"k19999\":\"v19999\"") != std::string::npos);
  auto now = helpers();
  REQUIRE(now.size() == 1);
  CHECK(now[0] != children[0]);
}

}  // namespace
}  // namespace remora::xds
