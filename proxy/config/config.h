// The proxy's configuration model: listeners, their network filters, and clusters. Issue #3's
// xDS translation produces the same model from Envoy's v3 resources; until then the command
// line builds it (see defaultConfig), mirroring what Istio sends for a sidecar.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proxy/net/address.h"

namespace remora::config {

using Duration = std::chrono::milliseconds;

struct ClusterConfig {
  enum class Type {
    Static,       // connect to one of `hosts`
    OriginalDst,  // connect to the connection's original destination
  };
  std::string name;
  Type type = Type::OriginalDst;
  std::vector<net::Address> hosts;
  // OriginalDst only: connect to this IP instead of the original one, keeping the original
  // port (the inbound passthrough forwards to 127.0.0.1:<port>).
  std::optional<net::Address> original_dst_ip_override;
  // Bind upstream connections to this source IP (Envoy's upstream_bind_config).
  std::optional<net::Address> source_address;
  Duration connect_timeout{std::chrono::seconds(5)};  // Envoy's default
};

struct TcpProxyConfig {
  std::string stat_prefix;
  std::string cluster;
  Duration idle_timeout{std::chrono::hours(1)};  // Envoy's default; 0 disables
};

struct NetworkFilterConfig {
  std::string name;  // "envoy.filters.network.tcp_proxy"
  TcpProxyConfig tcp_proxy;
};

struct ListenerConfig {
  std::string name;
  net::Address address;
  // Read SO_ORIGINAL_DST: the listener receives iptables-redirected connections.
  bool use_original_dst = true;
  // Envoy's per_connection_buffer_limit_bytes: each direction's high watermark.
  uint32_t per_connection_buffer_limit_bytes = 1024 * 1024;
  std::vector<NetworkFilterConfig> filters;
};

struct ProxyConfig {
  std::vector<ListenerConfig> listeners;
  std::vector<ClusterConfig> clusters;
};

}  // namespace remora::config
