// Envoy v3 -> remora configuration.
#include "xds/translate/translate.h"

#include <google/protobuf/util/time_util.h>

#include <limits>

#include "envoy/config/cluster/v3/circuit_breaker.pb.h"
#include "envoy/extensions/filters/listener/http_inspector/v3/http_inspector.pb.h"
#include "envoy/extensions/filters/listener/original_dst/v3/original_dst.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "proxy/common/strings.h"
#include "udpa/type/v1/typed_struct.pb.h"
#include "xds/translate/http.h"
#include "xds/type/v3/typed_struct.pb.h"

namespace remora::xds {
namespace {

using envoy::config::cluster::v3::Cluster;
using envoy::config::core::v3::HealthStatus;
using envoy::config::listener::v3::Filter;
using envoy::config::listener::v3::FilterChain;
using envoy::config::listener::v3::FilterChainMatch;
using envoy::config::listener::v3::Listener;
using TcpProxyProto = envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy;
using HttpInspectorProto = envoy::extensions::filters::listener::http_inspector::v3::HttpInspector;
using OriginalDstProto = envoy::extensions::filters::listener::original_dst::v3::OriginalDst;

using HcmProto =
    envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;

constexpr std::string_view kTcpProxy = "envoy.filters.network.tcp_proxy";
constexpr std::string_view kHttpConnectionManager = "envoy.filters.network.http_connection_manager";

// Plain TCP, spelled out (by name, or by an empty RawBuffer typed_config).
bool isRawBuffer(const envoy::config::core::v3::TransportSocket& ts) {
  if (ts.has_typed_config()) {
    envoy::extensions::transport_sockets::raw_buffer::v3::RawBuffer rb;
    return ts.typed_config().Is<decltype(rb)>() && ts.typed_config().UnpackTo(&rb);
  }
  return ts.name() == "envoy.transport_sockets.raw_buffer";
}

absl::Status error(std::string_view path, std::string_view what) {
  return absl::InvalidArgumentError(cat(path, ": ", what));
}

absl::StatusOr<config::Duration> duration(const google::protobuf::Duration& d,
                                          const std::string& path) {
  if (d.seconds() < 0 || d.nanos() < 0) return error(path, "must not be negative");
  if (d.seconds() > 315'576'000'000LL) return error(path, "out of range");
  return config::Duration(d.seconds() * 1000 + d.nanos() / 1'000'000);
}

// The type name inside an Any's type URL, and for TypedStruct wrappers the wrapped one.
std::string describeAny(const google::protobuf::Any& any) {
  std::string url = any.type_url();
  std::string out = url;
  if (any.Is<udpa::type::v1::TypedStruct>()) {
    udpa::type::v1::TypedStruct ts;
    if (any.UnpackTo(&ts)) out = cat(url, " wrapping ", ts.type_url());
  } else if (any.Is<::xds::type::v3::TypedStruct>()) {
    ::xds::type::v3::TypedStruct ts;
    if (any.UnpackTo(&ts)) out = cat(url, " wrapping ", ts.type_url());
  }
  return out;
}

absl::StatusOr<net::Cidr> translateCidr(const envoy::config::core::v3::CidrRange& r,
                                        const std::string& path, TranslateNotes* notes) {
  if (auto s = checkFields(r, path, {"address_prefix", "prefix_len"}, {}, notes); !s.ok()) return s;
  uint32_t len = r.has_prefix_len() ? r.prefix_len().value() : 0;
  auto c = net::Cidr::parse(cat(r.address_prefix(), "/", len));
  if (!c.ok()) return error(path, sv(c.status().message()));
  return *c;
}

absl::StatusOr<std::vector<net::Cidr>> translateCidrs(
    const google::protobuf::RepeatedPtrField<envoy::config::core::v3::CidrRange>& ranges,
    const std::string& path, std::string_view field, TranslateNotes* notes) {
  std::vector<net::Cidr> out;
  for (int i = 0; i < ranges.size(); ++i) {
    auto c = translateCidr(ranges[i], indexPath(path, field, static_cast<size_t>(i)), notes);
    if (!c.ok()) return c.status();
    out.push_back(*c);
  }
  return out;
}

absl::StatusOr<config::FilterChainMatch> translateMatch(const FilterChainMatch& m,
                                                        const std::string& path,
                                                        TranslateNotes* notes) {
  if (auto s =
          checkFields(m, path,
                      {"destination_port", "prefix_ranges", "server_names", "transport_protocol",
                       "application_protocols", "direct_source_prefix_ranges", "source_type",
                       "source_prefix_ranges", "source_ports"},
                      {}, notes);
      !s.ok()) {
    return s;
  }
  config::FilterChainMatch out;
  if (m.has_destination_port()) {
    uint32_t p = m.destination_port().value();
    if (p == 0 || p > 65535) return error(fieldPath(path, "destination_port"), "not a port");
    out.destination_port = static_cast<uint16_t>(p);
  }
  auto pr = translateCidrs(m.prefix_ranges(), path, "prefix_ranges", notes);
  if (!pr.ok()) return pr.status();
  out.prefix_ranges = *pr;
  auto dsr =
      translateCidrs(m.direct_source_prefix_ranges(), path, "direct_source_prefix_ranges", notes);
  if (!dsr.ok()) return dsr.status();
  out.direct_source_prefix_ranges = *dsr;
  auto spr = translateCidrs(m.source_prefix_ranges(), path, "source_prefix_ranges", notes);
  if (!spr.ok()) return spr.status();
  out.source_prefix_ranges = *spr;
  for (const auto& n : m.server_names()) out.server_names.push_back(n);
  out.transport_protocol = m.transport_protocol();
  for (const auto& a : m.application_protocols()) out.application_protocols.push_back(a);
  switch (m.source_type()) {
    case FilterChainMatch::ANY:
      out.source_type = config::FilterChainMatch::SourceType::Any;
      break;
    case FilterChainMatch::SAME_IP_OR_LOOPBACK:
      out.source_type = config::FilterChainMatch::SourceType::Local;
      break;
    case FilterChainMatch::EXTERNAL:
      out.source_type = config::FilterChainMatch::SourceType::External;
      break;
    default:
      return error(fieldPath(path, "source_type"), "unknown value");
  }
  for (uint32_t p : m.source_ports()) {
    if (p == 0 || p > 65535) return error(fieldPath(path, "source_ports"), "not a port");
    out.source_ports.push_back(static_cast<uint16_t>(p));
  }
  return out;
}

absl::StatusOr<config::TcpProxyConfig> translateTcpProxy(const TcpProxyProto& t,
                                                         const std::string& path,
                                                         TranslateNotes* notes) {
  if (auto s = checkFields(
          t, path,
          {"stat_prefix", "cluster", "weighted_clusters", "idle_timeout", "max_connect_attempts"},
          {"access_log", "access_log_flush_interval", "flush_access_log_on_connected",
           "access_log_options"},
          notes);
      !s.ok()) {
    return s;
  }
  config::TcpProxyConfig out;
  out.stat_prefix = t.stat_prefix();
  if (out.stat_prefix.empty()) return error(fieldPath(path, "stat_prefix"), "must not be empty");
  if (t.has_weighted_clusters()) {
    std::string wpath = fieldPath(path, "weighted_clusters");
    if (auto s = checkFields(t.weighted_clusters(), wpath, {"clusters"}, {}, notes); !s.ok())
      return s;
    for (int i = 0; i < t.weighted_clusters().clusters_size(); ++i) {
      const auto& c = t.weighted_clusters().clusters(i);
      std::string cpath = indexPath(wpath, "clusters", static_cast<size_t>(i));
      if (auto s = checkFields(c, cpath, {"name", "weight"}, {}, notes); !s.ok()) return s;
      if (c.name().empty()) return error(fieldPath(cpath, "name"), "must not be empty");
      if (c.weight() == 0) return error(fieldPath(cpath, "weight"), "must be at least 1");
      out.weighted_clusters.push_back({c.name(), c.weight()});
    }
    if (out.weighted_clusters.empty()) return error(wpath, "needs at least one cluster");
  } else if (t.cluster_specifier_case() == TcpProxyProto::kCluster) {
    if (t.cluster().empty()) return error(fieldPath(path, "cluster"), "must not be empty");
    out.cluster = t.cluster();
  } else {
    return error(path, "needs cluster or weighted_clusters");
  }
  if (t.has_idle_timeout()) {
    auto d = duration(t.idle_timeout(), fieldPath(path, "idle_timeout"));
    if (!d.ok()) return d.status();
    out.idle_timeout = *d;
  }
  if (t.has_max_connect_attempts()) {
    if (t.max_connect_attempts().value() < 1) {
      return error(fieldPath(path, "max_connect_attempts"), "must be at least 1");
    }
    out.max_connect_attempts = t.max_connect_attempts().value();
  }
  return out;
}

absl::StatusOr<config::NetworkFilterConfig> translateNetworkFilter(const Filter& f,
                                                                   const std::string& path,
                                                                   TranslateNotes* notes) {
  if (auto s = checkFields(f, path, {"name", "typed_config"}, {}, notes); !s.ok()) return s;
  if (!f.has_typed_config()) {
    return error(path, cat("filter '", f.name(), "' has no typed_config"));
  }
  const auto& any = f.typed_config();
  std::string tpath = fieldPath(path, "typed_config");
  if (any.Is<TcpProxyProto>()) {
    TcpProxyProto t;
    if (!any.UnpackTo(&t)) return error(tpath, "cannot decode TcpProxy");
    auto tcp = translateTcpProxy(t, tpath, notes);
    if (!tcp.ok()) return tcp.status();
    return config::NetworkFilterConfig{std::string(kTcpProxy), *tcp, std::nullopt};
  }
  if (any.Is<HcmProto>()) {
    HcmProto h;
    if (!any.UnpackTo(&h)) return error(tpath, "cannot decode HttpConnectionManager");
    auto hcm = translateHttpConnectionManager(h, tpath, notes);
    if (!hcm.ok()) return hcm.status();
    return config::NetworkFilterConfig{std::string(kHttpConnectionManager), {}, std::move(*hcm)};
  }
  return error(path, cat("network filter '", f.name(), "' (", describeAny(any),
                         ") is not one remora implements"));
}

absl::StatusOr<config::FilterChainConfig> translateFilterChain(const FilterChain& fc,
                                                               const std::string& path,
                                                               TranslateNotes* notes) {
  if (auto s = checkFields(fc, path, {"filter_chain_match", "filters", "name", "transport_socket"},
                           {"metadata"}, notes);
      !s.ok()) {
    return s;
  }
  if (fc.has_transport_socket()) {
    const auto& ts = fc.transport_socket();
    // Plain TCP spelled out is fine; TLS comes with the identity work.
    if (!isRawBuffer(ts)) {
      return error(fieldPath(path, "transport_socket"),
                   cat("'", ts.name(), "' is not supported (only raw_buffer)"));
    }
  }
  config::FilterChainConfig out;
  out.name = fc.name();
  if (fc.has_filter_chain_match()) {
    auto m = translateMatch(fc.filter_chain_match(), fieldPath(path, "filter_chain_match"), notes);
    if (!m.ok()) return m.status();
    out.match = *m;
  }
  if (fc.filters_size() == 0)
    return error(fieldPath(path, "filters"), "at least one filter is needed");
  for (int i = 0; i < fc.filters_size(); ++i) {
    auto f = translateNetworkFilter(fc.filters(i),
                                    indexPath(path, "filters", static_cast<size_t>(i)), notes);
    if (!f.ok()) return f.status();
    out.filters.push_back(*f);
  }
  if (out.filters.size() > 1) {
    return error(fieldPath(path, "filters"),
                 cat(out.filters.size(), " filters; only a single terminal filter is supported"));
  }
  return out;
}

absl::StatusOr<uint32_t> bufferLimit(const google::protobuf::UInt32Value& v,
                                     const std::string& path) {
  if (v.value() < 1024) return error(path, "must be at least 1024");
  return v.value();
}

// Thresholds so large that no sidecar reaches them: the breaker never trips, which is
// exactly what remora does without one. Istio sends these by default.
constexpr uint32_t kUnlimited = 1u << 30;

absl::Status checkCircuitBreakers(const envoy::config::cluster::v3::CircuitBreakers& cb,
                                  const std::string& path, TranslateNotes* notes) {
  if (auto s = checkFields(cb, path, {"thresholds"}, {}, notes); !s.ok()) return s;
  for (int i = 0; i < cb.thresholds_size(); ++i) {
    const auto& t = cb.thresholds(i);
    std::string tpath = indexPath(path, "thresholds", static_cast<size_t>(i));
    if (auto s = checkFields(
            t, tpath,
            {"priority", "max_connections", "max_pending_requests", "max_requests", "max_retries"},
            {"track_remaining"}, notes);
        !s.ok()) {
      return s;
    }
    for (const auto& [name, v, set] :
         {std::tuple{"max_connections", t.max_connections().value(), t.has_max_connections()},
          std::tuple{"max_pending_requests", t.max_pending_requests().value(),
                     t.has_max_pending_requests()},
          std::tuple{"max_requests", t.max_requests().value(), t.has_max_requests()},
          std::tuple{"max_retries", t.max_retries().value(), t.has_max_retries()}}) {
      // Unset means Envoy's default (1024, or 3 retries): a real limit remora cannot enforce yet.
      if (!set || v < kUnlimited) {
        return error(fieldPath(tpath, name),
                     set ? cat(v,
                               ": circuit breaking is not implemented yet (only effectively "
                               "unlimited thresholds, >= 2^30, are accepted)")
                         : std::string("unset means Envoy's default limit, which remora cannot "
                                       "enforce yet; set it to an effectively unlimited value"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string resourceLabel(std::string_view kind, std::string_view name) {
  return cat(kind, " '", name, "'");
}

absl::StatusOr<net::Address> translateAddress(const envoy::config::core::v3::Address& address,
                                              const std::string& path, TranslateNotes* notes) {
  if (auto s = checkFields(address, path, {"socket_address"}, {}, notes); !s.ok()) return s;
  if (!address.has_socket_address()) return error(path, "a socket_address is required");
  const auto& sa = address.socket_address();
  std::string spath = fieldPath(path, "socket_address");
  if (auto s =
          checkFields(sa, spath, {"protocol", "address", "port_value", "ipv4_compat"}, {}, notes);
      !s.ok()) {
    return s;
  }
  if (sa.protocol() != envoy::config::core::v3::SocketAddress::TCP) {
    return error(fieldPath(spath, "protocol"), "only TCP is supported");
  }
  if (sa.port_value() > 65535) return error(fieldPath(spath, "port_value"), "not a port");
  auto a = net::Address::parseIp(sa.address(), static_cast<uint16_t>(sa.port_value()));
  if (!a.ok()) {
    return error(fieldPath(spath, "address"),
                 cat("'", sa.address(),
                     "' is not an IP address (DNS names need a DNS cluster type, "
                     "which remora does not implement yet)"));
  }
  return *a;
}

absl::StatusOr<std::vector<config::Endpoint>> translateLoadAssignment(
    const envoy::config::endpoint::v3::ClusterLoadAssignment& cla, const std::string& path,
    TranslateNotes* notes) {
  if (auto s = checkFields(cla, path, {"cluster_name", "endpoints", "policy"}, {}, notes);
      !s.ok()) {
    return s;
  }
  if (cla.has_policy()) {
    // The overprovisioning factor only matters across priorities and weighted localities,
    // neither of which remora accepts: it changes nothing here.
    if (auto s = checkFields(cla.policy(), fieldPath(path, "policy"), {"overprovisioning_factor"},
                             {}, notes);
        !s.ok()) {
      return s;
    }
  }
  std::vector<config::Endpoint> healthy, degraded;
  for (int i = 0; i < cla.endpoints_size(); ++i) {
    const auto& loc = cla.endpoints(i);
    std::string lpath = indexPath(path, "endpoints", static_cast<size_t>(i));
    // Locality and its weight matter only to locality-weighted balancing, which is not
    // enabled on any cluster remora accepts.
    if (auto s = checkFields(loc, lpath,
                             {"lb_endpoints", "locality", "load_balancing_weight", "priority"},
                             {"metadata"}, notes);
        !s.ok()) {
      return s;
    }
    if (loc.priority() != 0) {
      return error(fieldPath(lpath, "priority"),
                   cat(loc.priority(), ": priorities other than 0 are not implemented yet"));
    }
    for (int j = 0; j < loc.lb_endpoints_size(); ++j) {
      const auto& lb = loc.lb_endpoints(j);
      std::string epath = indexPath(lpath, "lb_endpoints", static_cast<size_t>(j));
      if (auto s = checkFields(lb, epath, {"endpoint", "health_status", "load_balancing_weight"},
                               {"metadata"}, notes);
          !s.ok()) {
        return s;
      }
      if (!lb.has_endpoint()) return error(epath, "an endpoint is required");
      const auto& ep = lb.endpoint();
      std::string eppath = fieldPath(epath, "endpoint");
      // health_check_config only matters to active health checks, which no accepted cluster has.
      if (auto s = checkFields(ep, eppath, {"address", "health_check_config"}, {"hostname"}, notes);
          !s.ok()) {
        return s;
      }
      auto addr = translateAddress(ep.address(), fieldPath(eppath, "address"), notes);
      if (!addr.ok()) return addr.status();
      if (addr->port() == 0) return error(fieldPath(eppath, "address"), "port 0");
      config::Endpoint e{*addr,
                         lb.has_load_balancing_weight() ? lb.load_balancing_weight().value() : 1};
      if (e.weight == 0)
        return error(fieldPath(epath, "load_balancing_weight"), "must be at least 1");
      switch (lb.health_status()) {
        case HealthStatus::UNKNOWN:
        case HealthStatus::HEALTHY:
          healthy.push_back(e);
          break;
        case HealthStatus::DEGRADED:
          degraded.push_back(e);
          break;
        default:
          break;  // UNHEALTHY, DRAINING, TIMEOUT take no new connections
      }
    }
  }
  return healthy.empty() ? degraded : healthy;
}

// HTTP/2 settings of an upstream (Http2ProtocolOptions): windows and stream counts with
// Envoy's bounds; anything else that changes behaviour is refused.
absl::Status translateH2Options(const envoy::config::core::v3::Http2ProtocolOptions& o,
                                const std::string& path, config::ClusterConfig* out,
                                TranslateNotes* notes) {
  if (auto s = checkFields(o, path,
                           {"max_concurrent_streams", "initial_stream_window_size",
                            "initial_connection_window_size"},
                           {}, notes);
      !s.ok()) {
    return s;
  }
  if (o.has_max_concurrent_streams()) {
    uint32_t v = o.max_concurrent_streams().value();
    if (v < 1) return error(fieldPath(path, "max_concurrent_streams"), "must be at least 1");
    out->h2_max_concurrent_streams = v;
  }
  if (o.has_initial_stream_window_size()) {
    uint32_t v = o.initial_stream_window_size().value();
    if (v < 65535 || v > 2147483647)
      return error(fieldPath(path, "initial_stream_window_size"), "must be in 65535..2147483647");
    out->h2_initial_stream_window_size = v;
  }
  if (o.has_initial_connection_window_size()) {
    uint32_t v = o.initial_connection_window_size().value();
    if (v < 65535 || v > 2147483647)
      return error(fieldPath(path, "initial_connection_window_size"),
                   "must be in 65535..2147483647");
    out->h2_initial_connection_window_size = v;
  }
  return absl::OkStatus();
}

// Reads the deprecated Cluster.http2_protocol_options / http_protocol_options on purpose.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
absl::Status translateUpstreamProtocol(const Cluster& c, const std::string& path,
                                       config::ClusterConfig* out, TranslateNotes* notes) {
  if (c.has_http2_protocol_options()) {  // deprecated spelling, still what many planes send
    out->protocol = config::ClusterConfig::Protocol::Http2;
    if (auto s = translateH2Options(c.http2_protocol_options(),
                                    fieldPath(path, "http2_protocol_options"), out, notes);
        !s.ok()) {
      return s;
    }
  }
  if (c.has_http_protocol_options()) {
    std::string hpath = fieldPath(path, "http_protocol_options");
    if (auto s = checkFields(c.http_protocol_options(), hpath, {}, {}, notes); !s.ok()) return s;
  }
  constexpr std::string_view kKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
  for (const auto& [key, any] : c.typed_extension_protocol_options()) {
    std::string kpath = cat(path, ".typed_extension_protocol_options['", key, "']");
    if (key != kKey) return error(kpath, "not supported by remora");
    envoy::extensions::upstreams::http::v3::HttpProtocolOptions o;
    if (!any.UnpackTo(&o)) return error(kpath, "cannot decode HttpProtocolOptions");
    if (auto s = checkFields(o, kpath, {"explicit_http_config", "use_downstream_protocol_config"},
                             {}, notes);
        !s.ok()) {
      return s;
    }
    if (o.has_explicit_http_config()) {
      const auto& e = o.explicit_http_config();
      std::string epath = fieldPath(kpath, "explicit_http_config");
      if (e.has_http2_protocol_options()) {
        out->protocol = config::ClusterConfig::Protocol::Http2;
        if (auto s = translateH2Options(e.http2_protocol_options(),
                                        fieldPath(epath, "http2_protocol_options"), out, notes);
            !s.ok()) {
          return s;
        }
      } else if (e.has_http_protocol_options()) {
        if (auto s = checkFields(e.http_protocol_options(),
                                 fieldPath(epath, "http_protocol_options"), {}, {}, notes);
            !s.ok()) {
          return s;
        }
        out->protocol = config::ClusterConfig::Protocol::Http1;
      } else {
        return error(epath, "only http_protocol_options and http2_protocol_options");
      }
    } else if (o.has_use_downstream_protocol_config()) {
      const auto& d = o.use_downstream_protocol_config();
      std::string dpath = fieldPath(kpath, "use_downstream_protocol_config");
      if (auto s =
              checkFields(d, dpath, {"http_protocol_options", "http2_protocol_options"}, {}, notes);
          !s.ok()) {
        return s;
      }
      if (d.has_http2_protocol_options()) {
        if (auto s = translateH2Options(d.http2_protocol_options(),
                                        fieldPath(dpath, "http2_protocol_options"), out, notes);
            !s.ok()) {
          return s;
        }
      }
      out->protocol = config::ClusterConfig::Protocol::UseDownstream;
    } else {
      return error(kpath, "auto_config (ALPN) is not supported by remora");
    }
  }
  return absl::OkStatus();
}
#pragma GCC diagnostic pop

absl::StatusOr<config::ClusterConfig> translateCluster(const Cluster& c, TranslateNotes* notes) {
  std::string path = resourceLabel("cluster", c.name());
  if (auto s = checkFields(
          c, path,
          {"name", "type", "connect_timeout", "load_assignment", "eds_cluster_config", "lb_policy",
           "upstream_bind_config", "per_connection_buffer_limit_bytes", "cleanup_interval",
           "dns_lookup_family", "dns_refresh_rate", "respect_dns_ttl", "circuit_breakers",
           "common_lb_config", "transport_socket", "http2_protocol_options",
           "typed_extension_protocol_options", "http_protocol_options"},
          {"alt_stat_name", "metadata", "track_timeout_budgets", "track_cluster_stats"}, notes);
      !s.ok()) {
    return s;
  }
  config::ClusterConfig out;
  out.name = c.name();
  if (out.name.empty()) return error(path, "name must not be empty");
  if (c.cluster_discovery_type_case() == Cluster::kClusterType) {
    return error(fieldPath(path, "cluster_type"), "custom cluster types are not supported");
  }
  switch (c.type()) {
    case Cluster::STATIC:
      out.type = config::ClusterConfig::Type::Static;
      break;
    case Cluster::EDS:
      out.type = config::ClusterConfig::Type::Eds;
      break;
    case Cluster::ORIGINAL_DST:
      out.type = config::ClusterConfig::Type::OriginalDst;
      break;
    default:
      return error(fieldPath(path, "type"),
                   cat(Cluster::DiscoveryType_Name(c.type()),
                       " is not supported (STATIC, EDS and ORIGINAL_DST are)"));
  }
  // Envoy's lb_policy: ROUND_ROBIN is the default; ORIGINAL_DST clusters use CLUSTER_PROVIDED.
  bool lb_ok = c.lb_policy() == Cluster::ROUND_ROBIN ||
               (out.type == config::ClusterConfig::Type::OriginalDst &&
                c.lb_policy() == Cluster::CLUSTER_PROVIDED);
  if (!lb_ok) {
    return error(fieldPath(path, "lb_policy"),
                 cat(Cluster::LbPolicy_Name(c.lb_policy()), " is not implemented yet"));
  }
  if (c.has_connect_timeout()) {
    auto d = duration(c.connect_timeout(), fieldPath(path, "connect_timeout"));
    if (!d.ok()) return d.status();
    if (d->count() == 0) return error(fieldPath(path, "connect_timeout"), "must be positive");
    out.connect_timeout = *d;
  }
  if (c.has_per_connection_buffer_limit_bytes()) {
    auto b = bufferLimit(c.per_connection_buffer_limit_bytes(),
                         fieldPath(path, "per_connection_buffer_limit_bytes"));
    if (!b.ok()) return b.status();
    out.per_connection_buffer_limit_bytes = *b;
  }
  if (c.has_upstream_bind_config()) {
    std::string bpath = fieldPath(path, "upstream_bind_config");
    if (auto s = checkFields(c.upstream_bind_config(), bpath, {"source_address"}, {}, notes);
        !s.ok())
      return s;
    const auto& sa = c.upstream_bind_config().source_address();
    std::string spath = fieldPath(bpath, "source_address");
    if (auto s = checkFields(sa, spath, {"protocol", "address", "port_value"}, {}, notes); !s.ok())
      return s;
    if (sa.port_value() != 0)
      return error(fieldPath(spath, "port_value"), "a fixed source port is not supported");
    auto a = net::Address::parseIp(sa.address(), 0);
    if (!a.ok()) return error(fieldPath(spath, "address"), sv(a.status().message()));
    out.source_address = *a;
  }
  if (c.has_circuit_breakers()) {
    if (auto s =
            checkCircuitBreakers(c.circuit_breakers(), fieldPath(path, "circuit_breakers"), notes);
        !s.ok()) {
      return s;
    }
  }
  if (c.has_common_lb_config()) {
    // Present but empty (as some control planes send it) changes nothing.
    if (auto s =
            checkFields(c.common_lb_config(), fieldPath(path, "common_lb_config"), {}, {}, notes);
        !s.ok()) {
      return s;
    }
  }
  if (c.has_transport_socket()) {
    const auto& ts = c.transport_socket();
    if (!isRawBuffer(ts)) {
      return error(fieldPath(path, "transport_socket"),
                   cat("'", ts.name(), "' is not supported (only raw_buffer)"));
    }
  }
  if (auto st = translateUpstreamProtocol(c, path, &out, notes); !st.ok()) return st;
  // dns_lookup_family, dns_refresh_rate and respect_dns_ttl are accepted because no DNS
  // cluster type is: for STATIC, EDS and ORIGINAL_DST they change nothing.
  if (c.has_cleanup_interval() && out.type != config::ClusterConfig::Type::OriginalDst) {
    return error(fieldPath(path, "cleanup_interval"), "only meaningful for ORIGINAL_DST clusters");
  }
  switch (out.type) {
    case config::ClusterConfig::Type::Static: {
      if (c.has_eds_cluster_config())
        return error(fieldPath(path, "eds_cluster_config"), "only for EDS clusters");
      auto eps =
          translateLoadAssignment(c.load_assignment(), fieldPath(path, "load_assignment"), notes);
      if (!eps.ok()) return eps.status();
      out.endpoints = *eps;
      break;
    }
    case config::ClusterConfig::Type::Eds: {
      if (c.has_load_assignment())
        return error(fieldPath(path, "load_assignment"), "EDS clusters get endpoints from EDS");
      std::string epath = fieldPath(path, "eds_cluster_config");
      if (auto s =
              checkFields(c.eds_cluster_config(), epath, {"eds_config", "service_name"}, {}, notes);
          !s.ok()) {
        return s;
      }
      const auto& src = c.eds_cluster_config().eds_config();
      std::string spath = fieldPath(epath, "eds_config");
      if (auto s = checkFields(src, spath, {"ads", "resource_api_version", "initial_fetch_timeout"},
                               {}, notes);
          !s.ok()) {
        return s;
      }
      if (!src.has_ads()) return error(spath, "only ads is supported as the source of endpoints");
      out.eds_service_name = c.eds_cluster_config().service_name().empty()
                                 ? c.name()
                                 : c.eds_cluster_config().service_name();
      break;
    }
    case config::ClusterConfig::Type::OriginalDst:
      if (c.has_load_assignment() && c.load_assignment().endpoints_size() > 0) {
        return error(fieldPath(path, "load_assignment"), "ORIGINAL_DST clusters take no endpoints");
      }
      if (c.has_eds_cluster_config())
        return error(fieldPath(path, "eds_cluster_config"), "only for EDS clusters");
      break;
  }
  return out;
}

absl::StatusOr<config::ListenerConfig> translateListener(const Listener& l, TranslateNotes* notes) {
  std::string path = resourceLabel("listener", l.name());
  if (auto s = checkFields(
          l, path,
          {"name", "address", "filter_chains", "default_filter_chain", "use_original_dst",
           "bind_to_port", "per_connection_buffer_limit_bytes", "listener_filters",
           "listener_filters_timeout", "continue_on_listener_filters_timeout", "drain_type"},
          {"stat_prefix", "access_log", "traffic_direction", "metadata"}, notes);
      !s.ok()) {
    return s;
  }
  config::ListenerConfig out;
  out.name = l.name();
  if (out.name.empty()) return error(path, "name must not be empty");
  auto addr = translateAddress(l.address(), fieldPath(path, "address"), notes);
  if (!addr.ok()) return addr.status();
  out.address = *addr;
  if (l.drain_type() != Listener::DEFAULT) {
    return error(fieldPath(path, "drain_type"), "only DEFAULT is supported");
  }
  out.bind_to_port = !l.has_bind_to_port() || l.bind_to_port().value();
  out.use_original_dst = l.has_use_original_dst() && l.use_original_dst().value();
  if (l.has_per_connection_buffer_limit_bytes()) {
    auto b = bufferLimit(l.per_connection_buffer_limit_bytes(),
                         fieldPath(path, "per_connection_buffer_limit_bytes"));
    if (!b.ok()) return b.status();
    out.per_connection_buffer_limit_bytes = *b;
  }
  if (l.has_listener_filters_timeout()) {
    auto d = duration(l.listener_filters_timeout(), fieldPath(path, "listener_filters_timeout"));
    if (!d.ok()) return d.status();
    out.listener_filters_timeout = *d;  // 0: no timeout
  }
  out.continue_on_listener_filters_timeout = l.continue_on_listener_filters_timeout();
  for (int i = 0; i < l.listener_filters_size(); ++i) {
    const auto& lf = l.listener_filters(i);
    std::string fpath = indexPath(path, "listener_filters", static_cast<size_t>(i));
    if (auto s = checkFields(lf, fpath, {"name", "typed_config"}, {}, notes); !s.ok()) return s;
    if (lf.has_typed_config() && lf.typed_config().Is<OriginalDstProto>()) {
      OriginalDstProto od;
      lf.typed_config().UnpackTo(&od);
      // traffic_direction only names the direction for logs; SO_ORIGINAL_DST is read either way.
      if (auto s =
              checkFields(od, fieldPath(fpath, "typed_config"), {}, {"traffic_direction"}, notes);
          !s.ok()) {
        return s;
      }
      out.original_dst_filter = true;
      continue;
    }
    if (lf.has_typed_config() && lf.typed_config().Is<HttpInspectorProto>()) {
      HttpInspectorProto hi;
      lf.typed_config().UnpackTo(&hi);
      if (auto s = checkFields(hi, fieldPath(fpath, "typed_config"), {}, {}, notes); !s.ok()) {
        return s;
      }
      out.http_inspector = true;
      continue;
    }
    std::string what =
        lf.has_typed_config() ? describeAny(lf.typed_config()) : std::string("no typed_config");
    return error(
        fpath, cat("listener filter '", lf.name(), "' (", what,
                   ") is not one remora implements yet (original_dst and http_inspector are); TLS "
                   "inspection arrives with TLS support"));
  }
  for (int i = 0; i < l.filter_chains_size(); ++i) {
    auto fc = translateFilterChain(l.filter_chains(i),
                                   indexPath(path, "filter_chains", static_cast<size_t>(i)), notes);
    if (!fc.ok()) return fc.status();
    out.filter_chains.push_back(*fc);
  }
  if (l.has_default_filter_chain()) {
    auto fc = translateFilterChain(l.default_filter_chain(),
                                   fieldPath(path, "default_filter_chain"), notes);
    if (!fc.ok()) return fc.status();
    out.default_filter_chain = *fc;
  }
  if (out.filter_chains.empty() && !out.default_filter_chain) {
    return error(path, "no filter_chains and no default_filter_chain");
  }
  return out;
}

}  // namespace remora::xds
