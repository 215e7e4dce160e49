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
#include "proxy/net/address.h"

namespace remora::config {

using Duration = std::chrono::milliseconds;

struct Endpoint {
  net::Address address;
  uint32_t weight = 1;
  bool operator==(const Endpoint&) const = default;
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
  // OriginalDst only: connect to this IP instead of the original one, keeping the original
  // port (the built-in inbound passthrough forwards to 127.0.0.1:<port>).
  std::optional<net::Address> original_dst_ip_override;
  // Bind upstream connections to this source IP (Envoy's upstream_bind_config).
  std::optional<net::Address> source_address;
  Duration connect_timeout{std::chrono::seconds(5)};  // Envoy's default
  uint32_t per_connection_buffer_limit_bytes = 1024 * 1024;
  // The HTTP protocol to upstream hosts (Envoy's HttpProtocolOptions / http2_protocol_options).
  enum class Protocol { Http1, Http2, UseDownstream };
  Protocol protocol = Protocol::Http1;
  uint32_t h2_max_concurrent_streams = 2147483647;
  uint32_t h2_initial_stream_window_size = 268435456;
  uint32_t h2_initial_connection_window_size = 268435456;

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
};

}  // namespace remora::config
