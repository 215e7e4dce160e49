// The proxy's configuration model: listeners with filter chains, their network filters, and
// clusters with endpoints. xds/translate produces it from Envoy's v3 resources (validated,
// with anything remora does not implement rejected); without xDS, defaultConfig builds the
// sidecar's two capture listeners from the command line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proxy/config/http_config.h"
#include "proxy/config/tls_config.h"
#include "proxy/net/address.h"

namespace remora::config {

using Duration = std::chrono::milliseconds;

struct Endpoint {
  net::Address address;
  uint32_t weight = 1;    // load_balancing_weight (>= 1)
  uint32_t priority = 0;  // the locality's priority; 0 is the highest
  // EDS health_status: UNKNOWN and HEALTHY are healthy; DEGRADED is used only when too few
  // healthy hosts are left. UNHEALTHY, DRAINING and TIMEOUT are not in the list at all.
  bool degraded = false;
  bool operator==(const Endpoint&) const = default;
};

// --- Resilience (issue 5): Envoy's fields on Cluster, with Envoy's defaults ---

enum class LbPolicy {
  RoundRobin,       // ROUND_ROBIN: weighted (earliest deadline first) when weights differ
  LeastRequest,     // LEAST_REQUEST: power of `choice_count` choices / weighted by active rq
  Random,           // RANDOM
  RingHash,         // RING_HASH: consistent hashing on the route's hash policy
  Maglev,           // MAGLEV
  PeakEwma,         // remora's own: Linkerd's peak-EWMA latency balancer (TypedStruct)
  ClusterProvided,  // ORIGINAL_DST: the connection's original destination
};

struct LeastRequestConfig {
  uint32_t choice_count = 2;         // >= 2
  double active_request_bias = 1.0;  // weights differ: weight / (active + 1)^bias
  bool operator==(const LeastRequestConfig&) const = default;
};

struct RingHashConfig {
  uint64_t minimum_ring_size = 1024;
  uint64_t maximum_ring_size = 8 * 1024 * 1024;
  bool operator==(const RingHashConfig&) const = default;
};

struct MaglevConfig {
  uint64_t table_size = 65537;  // a prime
  bool operator==(const MaglevConfig&) const = default;
};

struct PeakEwmaConfig {
  Duration decay_time{std::chrono::seconds(10)};        // how fast a latency peak is forgotten
  Duration default_rtt{std::chrono::milliseconds(30)};  // a host without samples yet
  bool operator==(const PeakEwmaConfig&) const = default;
};

struct CircuitBreakerThresholds {
  uint32_t max_connections = 1024;
  uint32_t max_pending_requests = 1024;
  uint32_t max_requests = 1024;
  uint32_t max_retries = 3;
  // retry_budget: when set, it replaces max_retries: active retries may be up to
  // budget_percent of (active + pending requests), and never fewer than min_retry_concurrency.
  std::optional<double> retry_budget_percent;  // 20.0 when retry_budget is set without it
  uint32_t min_retry_concurrency = 3;
  bool track_remaining = false;
  bool operator==(const CircuitBreakerThresholds&) const = default;
};

struct CircuitBreakersConfig {
  CircuitBreakerThresholds default_priority;  // RoutingPriority DEFAULT
  CircuitBreakerThresholds high_priority;     // RoutingPriority HIGH
  bool operator==(const CircuitBreakersConfig&) const = default;
};

struct OutlierDetectionConfig {
  uint32_t consecutive_5xx = 5;
  Duration interval{std::chrono::seconds(10)};
  Duration base_ejection_time{std::chrono::seconds(30)};
  Duration max_ejection_time{std::chrono::seconds(300)};
  Duration max_ejection_time_jitter{0};
  uint32_t max_ejection_percent = 10;
  uint32_t enforcing_consecutive_5xx = 100;
  uint32_t enforcing_success_rate = 100;
  uint32_t success_rate_minimum_hosts = 5;
  uint32_t success_rate_request_volume = 100;
  uint32_t success_rate_stdev_factor = 1900;  // divided by 1000
  uint32_t consecutive_gateway_failure = 5;
  uint32_t enforcing_consecutive_gateway_failure = 0;
  bool split_external_local_origin_errors = false;
  uint32_t consecutive_local_origin_failure = 5;
  uint32_t enforcing_consecutive_local_origin_failure = 100;
  uint32_t enforcing_local_origin_success_rate = 100;
  uint32_t failure_percentage_threshold = 85;
  uint32_t enforcing_failure_percentage = 0;
  uint32_t enforcing_failure_percentage_local_origin = 0;
  uint32_t failure_percentage_minimum_hosts = 5;
  uint32_t failure_percentage_request_volume = 50;
  bool successful_active_health_check_uneject_host = true;
  bool operator==(const OutlierDetectionConfig&) const = default;
};

struct HealthCheckConfig {
  enum class Kind { Http, Tcp };
  Kind kind = Kind::Http;
  Duration timeout{std::chrono::seconds(1)};
  Duration interval{std::chrono::seconds(10)};
  Duration initial_jitter{0};
  Duration interval_jitter{0};
  uint32_t interval_jitter_percent = 0;
  uint32_t unhealthy_threshold = 1;
  uint32_t healthy_threshold = 1;
  std::optional<Duration> unhealthy_interval;       // default: interval
  std::optional<Duration> unhealthy_edge_interval;  // default: unhealthy_interval
  std::optional<Duration> healthy_edge_interval;    // default: interval
  Duration no_traffic_interval{std::chrono::seconds(60)};
  bool always_log_health_check_failures = false;
  // Http
  std::string host;  // empty: the cluster's name
  std::string path;
  std::vector<std::pair<uint32_t, uint32_t>> expected_statuses;  // [start, end); empty: 200
  std::vector<std::pair<std::string, std::string>> request_headers_to_add;
  std::vector<std::string> request_headers_to_remove;
  // Tcp: bytes to send (empty: connect only) and byte strings expected in the reply.
  std::string send;
  std::vector<std::string> receive;
  bool operator==(const HealthCheckConfig&) const = default;
};

struct ClusterConfig {
  enum class Type {
    Static,       // endpoints from the cluster's own load_assignment
    Eds,          // endpoints from a ClusterLoadAssignment (xDS)
    OriginalDst,  // the connection's original destination
  };
  std::string name;
  Type type = Type::OriginalDst;
  std::vector<Endpoint> endpoints;  // healthy, load-balanced endpoints
  std::string eds_service_name;     // Eds: the ClusterLoadAssignment's name
  // Eds: eds_config.initial_fetch_timeout (0: the cluster warms until its endpoints arrive).
  Duration eds_fetch_timeout{std::chrono::seconds(15)};
  // OriginalDst only: connect to this IP instead of the original one, keeping the original
  // port (the built-in inbound passthrough forwards to 127.0.0.1:<port>).
  std::optional<net::Address> original_dst_ip_override;
  // Bind upstream connections to this source IP (Envoy's upstream_bind_config).
  std::optional<net::Address> source_address;
  Duration connect_timeout{std::chrono::seconds(5)};  // Envoy's default
  // HttpProtocolOptions.common_http_protocol_options: a pooled upstream connection unused this
  // long is closed (Envoy's default 1 h; 0: never), and one that carried this many requests
  // takes no more (0: no limit).
  Duration upstream_idle_timeout{std::chrono::hours(1)};
  uint32_t max_requests_per_connection = 0;
  uint32_t per_connection_buffer_limit_bytes = 1024 * 1024;
  // The HTTP protocol to upstream hosts (Envoy's HttpProtocolOptions / http2_protocol_options).
  enum class Protocol { Http1, Http2, UseDownstream };
  Protocol protocol = Protocol::Http1;
  uint32_t h2_max_concurrent_streams = 2147483647;
  uint32_t h2_initial_stream_window_size = 268435456;
  uint32_t h2_initial_connection_window_size = 268435456;

  // Resilience.
  LbPolicy lb_policy = LbPolicy::RoundRobin;
  LeastRequestConfig least_request;
  RingHashConfig ring_hash;
  MaglevConfig maglev;
  PeakEwmaConfig peak_ewma;
  uint32_t healthy_panic_threshold = 50;   // percent; 0 disables panic mode
  uint32_t overprovisioning_factor = 140;  // percent (ClusterLoadAssignment.policy)
  CircuitBreakersConfig circuit_breakers;
  std::optional<OutlierDetectionConfig> outlier_detection;
  std::vector<HealthCheckConfig> health_checks;

  // transport_socket envoy.transport_sockets.tls: TLS (mTLS with a certificate) to the hosts.
  std::optional<UpstreamTlsConfig> tls;

  bool operator==(const ClusterConfig&) const = default;
};

struct WeightedCluster {
  std::string name;
  uint32_t weight = 1;
  bool operator==(const WeightedCluster&) const = default;
};

struct TcpProxyConfig {
  std::string stat_prefix;
  std::string cluster;                             // or:
  std::vector<WeightedCluster> weighted_clusters;  // picked per connection by weight
  Duration idle_timeout{std::chrono::hours(1)};    // Envoy's default; 0 disables
  uint32_t max_connect_attempts = 1;
  bool operator==(const TcpProxyConfig&) const = default;
};

struct NetworkFilterConfig {
  std::string name;  // "envoy.filters.network.tcp_proxy", "...http_connection_manager"
  TcpProxyConfig tcp_proxy;
  std::optional<HttpConnectionManagerConfig> http;
  std::optional<RbacFilterConfig> rbac = std::nullopt;  // envoy.filters.network.rbac
  bool operator==(const NetworkFilterConfig&) const = default;
};

// Envoy's FilterChainMatch. Without TLS or HTTP inspection a connection has no SNI and no
// ALPN and its transport protocol is "raw_buffer", so chains that require them do not match.
struct FilterChainMatch {
  enum class SourceType { Any, Local, External };
  std::optional<uint16_t> destination_port;
  std::vector<net::Cidr> prefix_ranges;
  std::vector<std::string> server_names;
  std::string transport_protocol;
  std::vector<std::string> application_protocols;
  std::vector<net::Cidr> direct_source_prefix_ranges;
  SourceType source_type = SourceType::Any;
  std::vector<net::Cidr> source_prefix_ranges;
  std::vector<uint16_t> source_ports;
  bool operator==(const FilterChainMatch&) const = default;
};

struct FilterChainConfig {
  std::string name;
  FilterChainMatch match;
  std::vector<NetworkFilterConfig> filters;
  // transport_socket envoy.transport_sockets.tls: the listener terminates TLS (the handshake
  // completes, and the peer is verified, before the filters see the connection).
  std::optional<DownstreamTlsConfig> tls;
  bool operator==(const FilterChainConfig&) const = default;
};

struct ListenerConfig {
  std::string name;
  net::Address address;
  // false: not bound; reached only by hand-off from a use_original_dst listener.
  bool bind_to_port = true;
  // Hand each connection to the listener of its original destination, if there is one.
  bool use_original_dst = false;
  // The original_dst listener filter: the connection's local address becomes its original
  // destination (SO_ORIGINAL_DST) for filter chain matching and ORIGINAL_DST clusters.
  bool original_dst_filter = false;
  // The http_inspector listener filter: the first bytes tell HTTP/1.x ("http/1.1",
  // "http/1.0") and HTTP/2 with prior knowledge ("h2c") apart from anything else, for
  // filter_chain_match.application_protocols. Bounded by listener_filters_timeout; at the
  // timeout the connection goes on without a protocol if continue_on_listener_filters_timeout,
  // else it is closed (Envoy's semantics).
  bool http_inspector = false;
  // The tls_inspector listener filter: a TLS ClientHello gives the connection transport
  // protocol "tls", its SNI and its ALPN list for filter chain matching; anything else is
  // "raw_buffer". Detection only peeks: the bytes go on unchanged.
  bool tls_inspector = false;
  Duration listener_filters_timeout{std::chrono::seconds(15)};
  bool continue_on_listener_filters_timeout = false;
  // Envoy's per_connection_buffer_limit_bytes: each direction's high watermark.
  uint32_t per_connection_buffer_limit_bytes = 1024 * 1024;
  std::vector<FilterChainConfig> filter_chains;
  std::optional<FilterChainConfig> default_filter_chain;
  bool operator==(const ListenerConfig&) const = default;
};

struct ProxyConfig {
  std::vector<ListenerConfig> listeners;
  std::vector<ClusterConfig> clusters;
  std::vector<RouteTableConfig> routes;  // from RDS, by name
  // Secrets (SDS) by name, for reference: contexts already carry their content.
  std::vector<SecretConfig> secrets;
};

}  // namespace remora::config
