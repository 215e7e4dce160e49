// Envoy v3 -> remora configuration.
#include "xds/translate/translate.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include "envoy/config/cluster/v3/circuit_breaker.pb.h"
#include "envoy/config/cluster/v3/outlier_detection.pb.h"
#include "envoy/config/core/v3/health_check.pb.h"
#include "envoy/extensions/filters/listener/http_inspector/v3/http_inspector.pb.h"
#include "envoy/extensions/filters/listener/original_dst/v3/original_dst.pb.h"
#include "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "envoy/extensions/load_balancing_policies/least_request/v3/least_request.pb.h"
#include "envoy/extensions/load_balancing_policies/maglev/v3/maglev.pb.h"
#include "envoy/extensions/load_balancing_policies/random/v3/random.pb.h"
#include "envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.pb.h"
#include "envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.pb.h"
#include "envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "proxy/common/strings.h"
#include "udpa/type/v1/typed_struct.pb.h"
#include "xds/translate/http.h"
#include "xds/translate/rbac.h"
#include "xds/translate/tls.h"
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
using TlsInspectorProto = envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector;

using HcmProto =
    envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;

constexpr std::string_view kTcpProxy = "envoy.filters.network.tcp_proxy";
constexpr std::string_view kHttpConnectionManager = "envoy.filters.network.http_connection_manager";
constexpr std::string_view kNetworkRbac = "envoy.filters.network.rbac";
using NetworkRbacProto = envoy::extensions::filters::network::rbac::v3::RBAC;

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
  if (any.Is<NetworkRbacProto>()) {
    NetworkRbacProto r;
    if (!any.UnpackTo(&r)) return error(tpath, "cannot decode RBAC");
    auto rbac = translateNetworkRbac(r, tpath, notes);
    if (!rbac.ok()) return rbac.status();
    return config::NetworkFilterConfig{
        std::string(kNetworkRbac), {}, std::nullopt, std::move(*rbac)};
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
  config::FilterChainConfig out;
  if (fc.has_transport_socket()) {
    const auto& ts = fc.transport_socket();
    if (isTlsTransportSocket(ts)) {
      auto tls = translateDownstreamTls(ts, fieldPath(path, "transport_socket"), notes);
      if (!tls.ok()) return tls.status();
      out.tls = std::move(*tls);
    } else if (!isRawBuffer(ts)) {
      return error(fieldPath(path, "transport_socket"),
                   cat("'", ts.name(), "' is not supported (raw_buffer and tls are)"));
    }
  }
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
  // Their order (admission filters such as RBAC, then one terminal filter) is checked where
  // the chain is built (proxy/server/listener.cc).
  return out;
}

absl::StatusOr<uint32_t> bufferLimit(const google::protobuf::UInt32Value& v,
                                     const std::string& path) {
  if (v.value() < 1024) return error(path, "must be at least 1024");
  return v.value();
}

// --- Resilience: load balancing, circuit breakers, outlier detection, health checks ---

using RoundRobinProto = envoy::extensions::load_balancing_policies::round_robin::v3::RoundRobin;
using LeastRequestProto =
    envoy::extensions::load_balancing_policies::least_request::v3::LeastRequest;
using RandomProto = envoy::extensions::load_balancing_policies::random::v3::Random;
using RingHashProto = envoy::extensions::load_balancing_policies::ring_hash::v3::RingHash;
using MaglevProto = envoy::extensions::load_balancing_policies::maglev::v3::Maglev;
using envoy::config::core::v3::HealthCheck;

// Envoy's limits: both ring sizes are capped at 8M entries, a Maglev table at 5000011.
constexpr uint64_t kMaxRingSize = 8 * 1024 * 1024;
constexpr uint64_t kMaxMaglevTableSize = 5000011;
// remora's own balancer, configured as a TypedStruct with this type (Any's rules: the name
// after the last '/' of the type URL).
constexpr std::string_view kPeakEwmaType = "remora.load_balancing_policies.peak_ewma";

bool isPrime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

// A duration Envoy requires to be above zero; below a millisecond it counts as one (remora's
// timers count milliseconds, and zero would mean "never" or "always").
absl::StatusOr<config::Duration> positiveDuration(const google::protobuf::Duration& d,
                                                  const std::string& path) {
  auto r = duration(d, path);
  if (!r.ok()) return r.status();
  if (d.seconds() == 0 && d.nanos() == 0) return error(path, "must be positive");
  return std::max(*r, config::Duration(1));
}

// envoy.type.v3.Percent: a double in [0, 100].
absl::StatusOr<double> percent(const envoy::type::v3::Percent& p, const std::string& path,
                               TranslateNotes* notes) {
  if (auto s = checkFields(p, path, {"value"}, {}, notes); !s.ok()) return s;
  if (!(p.value() >= 0 && p.value() <= 100)) {
    return error(fieldPath(path, "value"), cat(p.value(), " is not a percentage in [0, 100]"));
  }
  return p.value();
}

// The oneof member a message has set, by name ("" when none).
std::string oneofField(const google::protobuf::Message& m, std::string_view oneof) {
  const auto* o = m.GetDescriptor()->FindOneofByName(std::string(oneof));
  const auto* f = o == nullptr ? nullptr : m.GetReflection()->GetOneofFieldDescriptor(m, o);
  return f == nullptr ? std::string() : std::string(f->name());
}

// choice_count and active_request_bias, the same in the Cluster's LeastRequestLbConfig and the
// LeastRequest extension.
template <typename Msg>
absl::Status translateLeastRequestCommon(const Msg& m, const std::string& path,
                                         config::LeastRequestConfig* out, TranslateNotes* notes) {
  if (m.has_choice_count()) {
    uint32_t v = m.choice_count().value();
    if (v < 2) return error(fieldPath(path, "choice_count"), cat(v, ": must be at least 2"));
    out->choice_count = v;
  }
  if (m.has_active_request_bias()) {
    const auto& b = m.active_request_bias();
    std::string bpath = fieldPath(path, "active_request_bias");
    // remora has no runtime, so the key is never set and default_value applies, as in an
    // Envoy whose runtime does not have the key.
    if (auto s = checkFields(b, bpath, {"default_value"}, {"runtime_key"}, notes); !s.ok())
      return s;
    if (!std::isfinite(b.default_value()) || b.default_value() < 0) {
      return error(fieldPath(bpath, "default_value"),
                   cat(b.default_value(), ": must be a finite value of 0 or more"));
    }
    out->active_request_bias = b.default_value();
  }
  return absl::OkStatus();
}

// minimum_ring_size and maximum_ring_size (Cluster.RingHashLbConfig and the RingHash extension;
// the extension also requires a minimum of at least 1).
template <typename Msg>
absl::Status translateRingSizes(const Msg& m, const std::string& path, uint64_t min_floor,
                                config::RingHashConfig* out) {
  if (m.has_minimum_ring_size()) {
    uint64_t v = m.minimum_ring_size().value();
    if (v < min_floor || v > kMaxRingSize) {
      return error(fieldPath(path, "minimum_ring_size"),
                   cat(v, " is not in [", min_floor, ", ", kMaxRingSize, "]"));
    }
    out->minimum_ring_size = v;
  }
  if (m.has_maximum_ring_size()) {
    uint64_t v = m.maximum_ring_size().value();
    if (v > kMaxRingSize) {
      return error(fieldPath(path, "maximum_ring_size"), cat(v, " exceeds ", kMaxRingSize));
    }
    out->maximum_ring_size = v;
  }
  if (out->minimum_ring_size > out->maximum_ring_size) {
    return error(path, cat("minimum_ring_size (", out->minimum_ring_size, ") > maximum_ring_size (",
                           out->maximum_ring_size, ")"));
  }
  return absl::OkStatus();
}

absl::Status translateMaglevTableSize(const google::protobuf::UInt64Value& v,
                                      const std::string& path, config::MaglevConfig* out) {
  if (v.value() > kMaxMaglevTableSize)
    return error(path, cat(v.value(), " exceeds ", kMaxMaglevTableSize));
  if (!isPrime(v.value())) return error(path, cat(v.value(), " is not a prime number"));
  out->table_size = v.value();
  return absl::OkStatus();
}

// Bounded loads and hashing by hostname are not implemented; an empty message changes nothing.
absl::Status checkConsistentHashing(const google::protobuf::Message& m, const std::string& path,
                                    TranslateNotes* notes) {
  return checkFields(m, path, {}, {}, notes);
}

// "10s", "30ms", "1.5m", "0.25h": a decimal number and a unit (ms, s, m or h).
std::optional<config::Duration> parseDurationText(std::string_view text) {
  size_t unit = text.find_first_not_of("0123456789.");
  if (unit == 0 || unit == std::string_view::npos) return std::nullopt;
  std::string_view suffix = text.substr(unit);
  double scale = suffix == "ms"  ? 1.0
                 : suffix == "s" ? 1e3
                 : suffix == "m" ? 60e3
                 : suffix == "h" ? 3600e3
                                 : 0.0;
  double v = 0;
  if (scale == 0 || !parseDouble(text.substr(0, unit), &v)) return std::nullopt;
  double ms = v * scale;
  if (!std::isfinite(ms) || ms > 315'576'000'000'000.0) return std::nullopt;
  return config::Duration(static_cast<int64_t>(ms));
}

// remora's peak EWMA balancer: TypedStruct value {decay_time, default_rtt}, both optional.
absl::Status translatePeakEwma(const google::protobuf::Struct& value, const std::string& path,
                               config::PeakEwmaConfig* out) {
  // Map order is unspecified: check the keys sorted, so that a message is stable.
  std::map<std::string, const google::protobuf::Value*> fields;
  for (const auto& [k, v] : value.fields()) fields[k] = &v;
  for (const auto& [key, v] : fields) {
    std::string fpath = fieldPath(path, key);
    config::Duration* dst = key == "decay_time"    ? &out->decay_time
                            : key == "default_rtt" ? &out->default_rtt
                                                   : nullptr;
    if (dst == nullptr) {
      return error(fpath,
                   "not a field of remora's peak EWMA balancer (decay_time and "
                   "default_rtt are)");
    }
    std::optional<config::Duration> d;
    if (v->kind_case() == google::protobuf::Value::kStringValue)
      d = parseDurationText(v->string_value());
    if (!d) {
      return error(fpath, "must be a duration string with a unit, such as \"10s\" or \"30ms\"");
    }
    if (d->count() <= 0) return error(fpath, "must be at least 1ms");
    *dst = *d;
  }
  return absl::OkStatus();
}

// One entry of load_balancing_policy.policies: true when remora implements it (and `out` has
// it), false when it is one remora does not know (Envoy goes on to the next).
absl::StatusOr<bool> translatePolicyExtension(const google::protobuf::Any& any,
                                              const std::string& path, config::ClusterConfig* out,
                                              TranslateNotes* notes) {
  if (any.Is<RoundRobinProto>()) {
    RoundRobinProto m;
    if (!any.UnpackTo(&m)) return error(path, "cannot decode RoundRobin");
    // Slow start and locality-aware balancing are not implemented.
    if (auto s = checkFields(m, path, {}, {}, notes); !s.ok()) return s;
    out->lb_policy = config::LbPolicy::RoundRobin;
    return true;
  }
  if (any.Is<LeastRequestProto>()) {
    LeastRequestProto m;
    if (!any.UnpackTo(&m)) return error(path, "cannot decode LeastRequest");
    if (auto s = checkFields(m, path, {"choice_count", "active_request_bias", "selection_method"},
                             {}, notes);
        !s.ok()) {
      return s;
    }
    if (m.selection_method() != LeastRequestProto::N_CHOICES) {
      return error(fieldPath(path, "selection_method"),
                   cat(LeastRequestProto::SelectionMethod_Name(m.selection_method()),
                       " is not supported by remora (N_CHOICES is)"));
    }
    if (auto s = translateLeastRequestCommon(m, path, &out->least_request, notes); !s.ok())
      return s;
    out->lb_policy = config::LbPolicy::LeastRequest;
    return true;
  }
  if (any.Is<RandomProto>()) {
    RandomProto m;
    if (!any.UnpackTo(&m)) return error(path, "cannot decode Random");
    if (auto s = checkFields(m, path, {}, {}, notes); !s.ok()) return s;
    out->lb_policy = config::LbPolicy::Random;
    return true;
  }
  if (any.Is<RingHashProto>()) {
    RingHashProto m;
    if (!any.UnpackTo(&m)) return error(path, "cannot decode RingHash");
    if (auto s = checkFields(m, path,
                             {"hash_function", "minimum_ring_size", "maximum_ring_size",
                              "consistent_hashing_lb_config"},
                             {}, notes);
        !s.ok()) {
      return s;
    }
    if (m.hash_function() != RingHashProto::DEFAULT_HASH &&
        m.hash_function() != RingHashProto::XX_HASH) {
      return error(fieldPath(path, "hash_function"),
                   cat(RingHashProto::HashFunction_Name(m.hash_function()),
                       " is not supported by remora (XX_HASH is)"));
    }
    if (auto s = checkConsistentHashing(m.consistent_hashing_lb_config(),
                                        fieldPath(path, "consistent_hashing_lb_config"), notes);
        !s.ok()) {
      return s;
    }
    if (auto s = translateRingSizes(m, path, 1, &out->ring_hash); !s.ok()) return s;
    out->lb_policy = config::LbPolicy::RingHash;
    return true;
  }
  if (any.Is<MaglevProto>()) {
    MaglevProto m;
    if (!any.UnpackTo(&m)) return error(path, "cannot decode Maglev");
    if (auto s = checkFields(m, path, {"table_size", "consistent_hashing_lb_config"}, {}, notes);
        !s.ok()) {
      return s;
    }
    if (auto s = checkConsistentHashing(m.consistent_hashing_lb_config(),
                                        fieldPath(path, "consistent_hashing_lb_config"), notes);
        !s.ok()) {
      return s;
    }
    if (m.has_table_size()) {
      if (auto s =
              translateMaglevTableSize(m.table_size(), fieldPath(path, "table_size"), &out->maglev);
          !s.ok()) {
        return s;
      }
    }
    out->lb_policy = config::LbPolicy::Maglev;
    return true;
  }
  // remora's own: a TypedStruct (xds.type.v3, or its udpa.type.v1 predecessor).
  std::string type_url;
  const google::protobuf::Struct* value = nullptr;
  ::xds::type::v3::TypedStruct xts;
  udpa::type::v1::TypedStruct uts;
  if (any.Is<::xds::type::v3::TypedStruct>()) {
    if (!any.UnpackTo(&xts)) return error(path, "cannot decode TypedStruct");
    type_url = xts.type_url();
    value = &xts.value();
  } else if (any.Is<udpa::type::v1::TypedStruct>()) {
    if (!any.UnpackTo(&uts)) return error(path, "cannot decode TypedStruct");
    type_url = uts.type_url();
    value = &uts.value();
  }
  if (value != nullptr &&
      std::string_view(type_url).substr(type_url.rfind('/') + 1) == kPeakEwmaType) {
    if (auto s = translatePeakEwma(*value, fieldPath(path, "value"), &out->peak_ewma); !s.ok())
      return s;
    out->lb_policy = config::LbPolicy::PeakEwma;
    return true;
  }
  return false;
}

// Cluster.load_balancing_policy: the first policy remora implements is used (Envoy's rule: a
// client takes the first one it supports).
absl::Status translateLoadBalancingPolicy(const envoy::config::cluster::v3::LoadBalancingPolicy& p,
                                          const std::string& path, config::ClusterConfig* out,
                                          TranslateNotes* notes) {
  if (auto s = checkFields(p, path, {"policies"}, {}, notes); !s.ok()) return s;
  std::vector<std::string> skipped;
  for (int i = 0; i < p.policies_size(); ++i) {
    const auto& pol = p.policies(i);
    std::string ipath = indexPath(path, "policies", static_cast<size_t>(i));
    if (auto s = checkFields(pol, ipath, {"typed_extension_config"}, {}, notes); !s.ok()) return s;
    const auto& tec = pol.typed_extension_config();
    std::string tpath = fieldPath(ipath, "typed_extension_config");
    if (auto s = checkFields(tec, tpath, {"name", "typed_config"}, {}, notes); !s.ok()) return s;
    auto known =
        translatePolicyExtension(tec.typed_config(), fieldPath(tpath, "typed_config"), out, notes);
    if (!known.ok()) return known.status();
    if (*known) {
      // The ones before it were skipped: say so.
      if (notes != nullptr) {
        for (auto& sk : skipped) notes->ignored.push_back(std::move(sk));
      }
      return absl::OkStatus();
    }
    skipped.push_back(ipath);
  }
  std::string types;
  for (const auto& pol : p.policies()) {
    append(&types, types.empty() ? "" : ", ",
           describeAny(pol.typed_extension_config().typed_config()));
  }
  return error(fieldPath(path, "policies"),
               cat("none is a policy remora implements (", types.empty() ? "empty" : types,
                   "); round_robin, least_request, random, ring_hash, maglev and "
                   "remora.load_balancing_policies.peak_ewma are"));
}

// lb_policy, the lb_config oneof and load_balancing_policy.
absl::Status translateLoadBalancing(const Cluster& c, const std::string& path,
                                    config::ClusterConfig* out, TranslateNotes* notes) {
  std::string ppath = fieldPath(path, "lb_policy");
  std::string lb_config = oneofField(c, "lb_config");
  std::string cpath = fieldPath(path, lb_config);
  if (out->type == config::ClusterConfig::Type::OriginalDst) {
    // The connection's original destination is the host: no balancing policy applies.
    // ROUND_ROBIN (the default, unset) is accepted as Envoy accepts it.
    if (c.lb_policy() != Cluster::ROUND_ROBIN && c.lb_policy() != Cluster::CLUSTER_PROVIDED) {
      return error(ppath, cat(Cluster::LbPolicy_Name(c.lb_policy()),
                              " is not valid for an ORIGINAL_DST cluster (CLUSTER_PROVIDED is)"));
    }
    if (c.has_load_balancing_policy()) {
      return error(fieldPath(path, "load_balancing_policy"),
                   "not valid for an ORIGINAL_DST cluster");
    }
    if (c.has_original_dst_lb_config()) {
      // use_http_header, http_header_name, upstream_port_override, metadata_key: not
      // implemented.
      if (auto s = checkFields(c.original_dst_lb_config(), cpath, {}, {}, notes); !s.ok()) return s;
    } else if (!lb_config.empty() && notes != nullptr) {
      notes->ignored.push_back(cpath);  // another policy's config: Envoy does not read it
    }
    out->lb_policy = config::LbPolicy::ClusterProvided;
    return absl::OkStatus();
  }
  if (c.has_load_balancing_policy()) {
    // Envoy: it supersedes lb_policy, and with it the lb_config of the legacy policies.
    if (notes != nullptr) {
      if (c.lb_policy() != Cluster::ROUND_ROBIN &&
          c.lb_policy() != Cluster::LOAD_BALANCING_POLICY_CONFIG) {
        notes->ignored.push_back(ppath);
      }
      if (!lb_config.empty()) notes->ignored.push_back(cpath);
    }
    return translateLoadBalancingPolicy(c.load_balancing_policy(),
                                        fieldPath(path, "load_balancing_policy"), out, notes);
  }
  std::string_view matching;  // the lb_config member this policy reads
  switch (c.lb_policy()) {
    case Cluster::ROUND_ROBIN:
      out->lb_policy = config::LbPolicy::RoundRobin;
      matching = "round_robin_lb_config";
      break;
    case Cluster::LEAST_REQUEST:
      out->lb_policy = config::LbPolicy::LeastRequest;
      matching = "least_request_lb_config";
      break;
    case Cluster::RANDOM:
      out->lb_policy = config::LbPolicy::Random;
      break;
    case Cluster::RING_HASH:
      out->lb_policy = config::LbPolicy::RingHash;
      matching = "ring_hash_lb_config";
      break;
    case Cluster::MAGLEV:
      out->lb_policy = config::LbPolicy::Maglev;
      matching = "maglev_lb_config";
      break;
    case Cluster::CLUSTER_PROVIDED:
      return error(ppath, "CLUSTER_PROVIDED is only valid for ORIGINAL_DST clusters");
    case Cluster::LOAD_BALANCING_POLICY_CONFIG:
      return error(ppath, "LOAD_BALANCING_POLICY_CONFIG needs load_balancing_policy");
    default:
      return error(ppath,
                   cat(Cluster::LbPolicy_Name(c.lb_policy()), " is not supported by remora"));
  }
  if (lb_config.empty()) return absl::OkStatus();
  if (lb_config != matching) {
    // Envoy reads only the config of the policy in force; another one changes nothing.
    if (notes != nullptr) notes->ignored.push_back(cpath);
    return absl::OkStatus();
  }
  switch (c.lb_config_case()) {
    case Cluster::kRoundRobinLbConfig:
      return checkFields(c.round_robin_lb_config(), cpath, {}, {}, notes);  // slow start: no
    case Cluster::kLeastRequestLbConfig: {
      const auto& m = c.least_request_lb_config();
      if (auto s = checkFields(m, cpath, {"choice_count", "active_request_bias"}, {}, notes);
          !s.ok()) {
        return s;
      }
      return translateLeastRequestCommon(m, cpath, &out->least_request, notes);
    }
    case Cluster::kRingHashLbConfig: {
      const auto& m = c.ring_hash_lb_config();
      if (auto s = checkFields(
              m, cpath, {"minimum_ring_size", "hash_function", "maximum_ring_size"}, {}, notes);
          !s.ok()) {
        return s;
      }
      if (m.hash_function() != Cluster::RingHashLbConfig::XX_HASH) {
        return error(fieldPath(cpath, "hash_function"),
                     cat(Cluster::RingHashLbConfig::HashFunction_Name(m.hash_function()),
                         " is not supported by remora (XX_HASH is)"));
      }
      return translateRingSizes(m, cpath, 0, &out->ring_hash);
    }
    case Cluster::kMaglevLbConfig: {
      const auto& m = c.maglev_lb_config();
      if (auto s = checkFields(m, cpath, {"table_size"}, {}, notes); !s.ok()) return s;
      if (!m.has_table_size()) return absl::OkStatus();
      return translateMaglevTableSize(m.table_size(), fieldPath(cpath, "table_size"), &out->maglev);
    }
    default:
      return error(cpath, "not supported by remora");
  }
}

absl::Status translateCommonLbConfig(const Cluster::CommonLbConfig& cl, const std::string& path,
                                     config::ClusterConfig* out, TranslateNotes* notes) {
  // update_merge_window only batches host updates (remora applies each as it arrives); zone
  // aware and locality weighted balancing, ignore_new_hosts_until_first_hc,
  // close_connections_on_host_set_change and override_host_status are not implemented.
  if (auto s = checkFields(cl, path, {"healthy_panic_threshold", "consistent_hashing_lb_config"},
                           {"update_merge_window"}, notes);
      !s.ok()) {
    return s;
  }
  if (cl.has_healthy_panic_threshold()) {
    auto p =
        percent(cl.healthy_panic_threshold(), fieldPath(path, "healthy_panic_threshold"), notes);
    if (!p.ok()) return p.status();
    out->healthy_panic_threshold = static_cast<uint32_t>(std::lround(*p));  // Envoy rounds too
  }
  if (cl.has_consistent_hashing_lb_config()) {
    if (auto s = checkConsistentHashing(cl.consistent_hashing_lb_config(),
                                        fieldPath(path, "consistent_hashing_lb_config"), notes);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<config::CircuitBreakersConfig> translateCircuitBreakers(
    const envoy::config::cluster::v3::CircuitBreakers& cb, const std::string& path,
    TranslateNotes* notes) {
  // per_host_thresholds is not implemented.
  if (auto s = checkFields(cb, path, {"thresholds"}, {}, notes); !s.ok()) return s;
  config::CircuitBreakersConfig out;
  bool seen[2] = {false, false};
  for (int i = 0; i < cb.thresholds_size(); ++i) {
    const auto& t = cb.thresholds(i);
    std::string tpath = indexPath(path, "thresholds", static_cast<size_t>(i));
    // max_connection_pools is not implemented.
    if (auto s = checkFields(t, tpath,
                             {"priority", "max_connections", "max_pending_requests", "max_requests",
                              "max_retries", "retry_budget", "track_remaining"},
                             {}, notes);
        !s.ok()) {
      return s;
    }
    config::CircuitBreakerThresholds* th = nullptr;
    switch (t.priority()) {
      case envoy::config::core::v3::DEFAULT:
        th = &out.default_priority;
        break;
      case envoy::config::core::v3::HIGH:
        th = &out.high_priority;
        break;
      default:
        return error(fieldPath(tpath, "priority"), "unknown value");
    }
    bool& dup = seen[t.priority() == envoy::config::core::v3::HIGH ? 1 : 0];
    if (dup) {
      return error(fieldPath(tpath, "priority"),
                   cat(envoy::config::core::v3::RoutingPriority_Name(t.priority()),
                       " has thresholds already"));
    }
    dup = true;
    if (t.has_max_connections()) th->max_connections = t.max_connections().value();
    if (t.has_max_pending_requests()) th->max_pending_requests = t.max_pending_requests().value();
    if (t.has_max_requests()) th->max_requests = t.max_requests().value();
    if (t.has_max_retries()) th->max_retries = t.max_retries().value();
    if (t.has_retry_budget()) {
      const auto& rb = t.retry_budget();
      std::string bpath = fieldPath(tpath, "retry_budget");
      if (auto s = checkFields(rb, bpath, {"budget_percent", "min_retry_concurrency"}, {}, notes);
          !s.ok()) {
        return s;
      }
      th->retry_budget_percent = 20.0;  // Envoy's default once retry_budget is there
      if (rb.has_budget_percent()) {
        auto p = percent(rb.budget_percent(), fieldPath(bpath, "budget_percent"), notes);
        if (!p.ok()) return p.status();
        th->retry_budget_percent = *p;
      }
      if (rb.has_min_retry_concurrency())
        th->min_retry_concurrency = rb.min_retry_concurrency().value();
    }
    th->track_remaining = t.track_remaining();
  }
  return out;
}

absl::StatusOr<config::OutlierDetectionConfig> translateOutlierDetection(
    const envoy::config::cluster::v3::OutlierDetection& o, const std::string& path,
    TranslateNotes* notes) {
  // monitors is not implemented, nor always_eject_one_host (checked below).
  if (auto s = checkFields(o, path,
                           {"consecutive_5xx",
                            "interval",
                            "base_ejection_time",
                            "max_ejection_percent",
                            "enforcing_consecutive_5xx",
                            "enforcing_success_rate",
                            "success_rate_minimum_hosts",
                            "success_rate_request_volume",
                            "success_rate_stdev_factor",
                            "consecutive_gateway_failure",
                            "enforcing_consecutive_gateway_failure",
                            "split_external_local_origin_errors",
                            "consecutive_local_origin_failure",
                            "enforcing_consecutive_local_origin_failure",
                            "enforcing_local_origin_success_rate",
                            "failure_percentage_threshold",
                            "enforcing_failure_percentage",
                            "enforcing_failure_percentage_local_origin",
                            "failure_percentage_minimum_hosts",
                            "failure_percentage_request_volume",
                            "max_ejection_time",
                            "max_ejection_time_jitter",
                            "successful_active_health_check_uneject_host",
                            "always_eject_one_host"},
                           {}, notes);
      !s.ok()) {
    return s;
  }
  if (o.has_always_eject_one_host() && o.always_eject_one_host().value()) {
    return error(fieldPath(path, "always_eject_one_host"), "true is not supported by remora");
  }
  config::OutlierDetectionConfig out;
  struct Count {
    std::string_view field;
    const google::protobuf::UInt32Value& value;
    bool set;
    uint32_t* dst;
    bool percent;  // at most 100
  };
  for (const Count& f : std::initializer_list<Count>{
           {"consecutive_5xx", o.consecutive_5xx(), o.has_consecutive_5xx(), &out.consecutive_5xx,
            false},
           {"max_ejection_percent", o.max_ejection_percent(), o.has_max_ejection_percent(),
            &out.max_ejection_percent, true},
           {"enforcing_consecutive_5xx", o.enforcing_consecutive_5xx(),
            o.has_enforcing_consecutive_5xx(), &out.enforcing_consecutive_5xx, true},
           {"enforcing_success_rate", o.enforcing_success_rate(), o.has_enforcing_success_rate(),
            &out.enforcing_success_rate, true},
           {"success_rate_minimum_hosts", o.success_rate_minimum_hosts(),
            o.has_success_rate_minimum_hosts(), &out.success_rate_minimum_hosts, false},
           {"success_rate_request_volume", o.success_rate_request_volume(),
            o.has_success_rate_request_volume(), &out.success_rate_request_volume, false},
           {"success_rate_stdev_factor", o.success_rate_stdev_factor(),
            o.has_success_rate_stdev_factor(), &out.success_rate_stdev_factor, false},
           {"consecutive_gateway_failure", o.consecutive_gateway_failure(),
            o.has_consecutive_gateway_failure(), &out.consecutive_gateway_failure, false},
           {"enforcing_consecutive_gateway_failure", o.enforcing_consecutive_gateway_failure(),
            o.has_enforcing_consecutive_gateway_failure(),
            &out.enforcing_consecutive_gateway_failure, true},
           {"consecutive_local_origin_failure", o.consecutive_local_origin_failure(),
            o.has_consecutive_local_origin_failure(), &out.consecutive_local_origin_failure, false},
           {"enforcing_consecutive_local_origin_failure",
            o.enforcing_consecutive_local_origin_failure(),
            o.has_enforcing_consecutive_local_origin_failure(),
            &out.enforcing_consecutive_local_origin_failure, true},
           {"enforcing_local_origin_success_rate", o.enforcing_local_origin_success_rate(),
            o.has_enforcing_local_origin_success_rate(), &out.enforcing_local_origin_success_rate,
            true},
           {"failure_percentage_threshold", o.failure_percentage_threshold(),
            o.has_failure_percentage_threshold(), &out.failure_percentage_threshold, true},
           {"enforcing_failure_percentage", o.enforcing_failure_percentage(),
            o.has_enforcing_failure_percentage(), &out.enforcing_failure_percentage, true},
           {"enforcing_failure_percentage_local_origin",
            o.enforcing_failure_percentage_local_origin(),
            o.has_enforcing_failure_percentage_local_origin(),
            &out.enforcing_failure_percentage_local_origin, true},
           {"failure_percentage_minimum_hosts", o.failure_percentage_minimum_hosts(),
            o.has_failure_percentage_minimum_hosts(), &out.failure_percentage_minimum_hosts, false},
           {"failure_percentage_request_volume", o.failure_percentage_request_volume(),
            o.has_failure_percentage_request_volume(), &out.failure_percentage_request_volume,
            false},
       }) {
    if (!f.set) continue;
    if (f.percent && f.value.value() > 100) {
      return error(fieldPath(path, f.field), cat(f.value.value(), " exceeds 100"));
    }
    *f.dst = f.value.value();
  }
  if (o.has_interval()) {
    auto d = positiveDuration(o.interval(), fieldPath(path, "interval"));
    if (!d.ok()) return d.status();
    out.interval = *d;
  }
  if (o.has_base_ejection_time()) {
    auto d = positiveDuration(o.base_ejection_time(), fieldPath(path, "base_ejection_time"));
    if (!d.ok()) return d.status();
    out.base_ejection_time = *d;
  }
  if (o.has_max_ejection_time()) {
    auto d = positiveDuration(o.max_ejection_time(), fieldPath(path, "max_ejection_time"));
    if (!d.ok()) return d.status();
    out.max_ejection_time = *d;
    if (out.max_ejection_time < out.base_ejection_time) {
      return error(
          fieldPath(path, "max_ejection_time"),
          cat(out.max_ejection_time.count(), "ms cannot be smaller than base_ejection_time (",
              out.base_ejection_time.count(), "ms)"));
    }
  } else {
    // Envoy: 300 s, or base_ejection_time when that is larger.
    out.max_ejection_time = std::max(out.max_ejection_time, out.base_ejection_time);
  }
  if (o.has_max_ejection_time_jitter()) {
    auto d = duration(o.max_ejection_time_jitter(), fieldPath(path, "max_ejection_time_jitter"));
    if (!d.ok()) return d.status();
    out.max_ejection_time_jitter = *d;
  }
  out.split_external_local_origin_errors = o.split_external_local_origin_errors();
  if (o.has_successful_active_health_check_uneject_host()) {
    out.successful_active_health_check_uneject_host =
        o.successful_active_health_check_uneject_host().value();
  }
  return out;
}

// Envoy's HTTP_HEADER_VALUE rule (no NUL, CR or LF).
absl::Status checkHeaderText(std::string_view v, const std::string& path) {
  if (v.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos)
    return error(path, "contains NUL, CR or LF");
  return absl::OkStatus();
}

// A TCP health check payload: `text` is hex (Envoy's rule), `binary` the bytes themselves.
absl::StatusOr<std::string> translatePayload(const HealthCheck::Payload& p, const std::string& path,
                                             TranslateNotes* notes) {
  if (auto s = checkFields(p, path, {"text", "binary"}, {}, notes); !s.ok()) return s;
  switch (p.payload_case()) {
    case HealthCheck::Payload::kText: {
      const std::string& t = p.text();
      std::string tpath = fieldPath(path, "text");
      if (t.empty()) return error(tpath, "must not be empty");
      auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      std::string out;
      for (size_t i = 0; i + 1 < t.size(); i += 2) {
        int hi = nibble(t[i]), lo = nibble(t[i + 1]);
        if (hi < 0 || lo < 0) break;
        out.push_back(static_cast<char>(hi * 16 + lo));
      }
      if (t.size() % 2 != 0 || out.size() != t.size() / 2) {
        return error(tpath, cat("'", t, "' is not hex (Envoy reads text payloads as hex bytes)"));
      }
      return out;
    }
    case HealthCheck::Payload::kBinary:
      return p.binary();
    default:
      return error(path, "needs text or binary");
  }
}

absl::Status translateHttpHealthCheck(const HealthCheck::HttpHealthCheck& h,
                                      const std::string& path, config::HealthCheckConfig* out,
                                      TranslateNotes* notes) {
  // send/receive (HTTP bodies), response_buffer_size, retriable_statuses and
  // service_name_matcher are not implemented.
  if (auto s = checkFields(h, path,
                           {"host", "path", "request_headers_to_add", "request_headers_to_remove",
                            "expected_statuses", "codec_client_type", "method"},
                           {}, notes);
      !s.ok()) {
    return s;
  }
  if (auto s = checkHeaderText(h.host(), fieldPath(path, "host")); !s.ok()) return s;
  out->host = h.host();
  std::string ppath = fieldPath(path, "path");
  if (h.path().empty()) return error(ppath, "is required");
  if (auto s = checkHeaderText(h.path(), ppath); !s.ok()) return s;
  out->path = h.path();
  for (int i = 0; i < h.expected_statuses_size(); ++i) {
    const auto& r = h.expected_statuses(i);
    std::string rpath = indexPath(path, "expected_statuses", static_cast<size_t>(i));
    if (auto s = checkFields(r, rpath, {"start", "end"}, {}, notes); !s.ok()) return s;
    if (r.start() < 100 || r.end() > 600 || r.start() >= r.end()) {
      return error(rpath, cat("[", r.start(), ", ", r.end(),
                              ") is not a non-empty range of statuses within [100, 600)"));
    }
    out->expected_statuses.emplace_back(static_cast<uint32_t>(r.start()),
                                        static_cast<uint32_t>(r.end()));
  }
  if (h.codec_client_type() != envoy::type::v3::HTTP1) {
    return error(fieldPath(path, "codec_client_type"),
                 cat(envoy::type::v3::CodecClientType_Name(h.codec_client_type()),
                     " is not supported by remora (HTTP1 is)"));
  }
  if (h.method() != envoy::config::core::v3::METHOD_UNSPECIFIED &&
      h.method() != envoy::config::core::v3::GET) {
    return error(fieldPath(path, "method"),
                 cat(envoy::config::core::v3::RequestMethod_Name(h.method()),
                     " is not supported by remora (GET is)"));
  }
  std::vector<config::HeaderToAdd> adds;
  if (auto s = translateHeadersToAdd(h.request_headers_to_add(), path, "request_headers_to_add",
                                     &adds, notes);
      !s.ok()) {
    return s;
  }
  for (size_t i = 0; i < adds.size(); ++i) {
    if (adds[i].action != config::HeaderToAdd::Action::AppendIfExistsOrAdd) {
      // With the default append_action, the deprecated `append: false` asked for it.
      bool by_append = h.request_headers_to_add(static_cast<int>(i)).append_action() ==
                       envoy::config::core::v3::HeaderValueOption::APPEND_IF_EXISTS_OR_ADD;
      return error(fieldPath(indexPath(path, "request_headers_to_add", i),
                             by_append ? "append" : "append_action"),
                   "only APPEND_IF_EXISTS_OR_ADD is supported by remora in health checks");
    }
    // Envoy leaves out a header whose value is empty unless keep_empty_value.
    if (adds[i].value.empty() && !adds[i].keep_empty_value) continue;
    out->request_headers_to_add.emplace_back(adds[i].name, adds[i].value);
  }
  return translateHeadersToRemove(h.request_headers_to_remove(), path, "request_headers_to_remove",
                                  &out->request_headers_to_remove);
}

absl::StatusOr<config::HealthCheckConfig> translateHealthCheck(const HealthCheck& h,
                                                               const std::string& path,
                                                               TranslateNotes* notes) {
  // always_log_health_check_success only logs. grpc and custom health checks, alt_port,
  // no_traffic_healthy_interval, event logs and services, tls_options and
  // transport_socket_match_criteria are not implemented.
  if (auto s = checkFields(
          h, path,
          {"timeout", "interval", "initial_jitter", "interval_jitter", "interval_jitter_percent",
           "unhealthy_threshold", "healthy_threshold", "reuse_connection", "http_health_check",
           "tcp_health_check", "no_traffic_interval", "unhealthy_interval",
           "unhealthy_edge_interval", "healthy_edge_interval", "always_log_health_check_failures"},
          {"always_log_health_check_success"}, notes);
      !s.ok()) {
    return s;
  }
  config::HealthCheckConfig out;
  for (const auto& [field, d, set, dst] :
       {std::tuple{"timeout", &h.timeout(), h.has_timeout(), &out.timeout},
        std::tuple{"interval", &h.interval(), h.has_interval(), &out.interval}}) {
    std::string dpath = fieldPath(path, field);
    if (!set) return error(dpath, "is required");
    auto v = positiveDuration(*d, dpath);
    if (!v.ok()) return v.status();
    *dst = *v;
  }
  for (const auto& [field, d, set, dst] :
       {std::tuple{"initial_jitter", &h.initial_jitter(), h.has_initial_jitter(),
                   &out.initial_jitter},
        std::tuple{"interval_jitter", &h.interval_jitter(), h.has_interval_jitter(),
                   &out.interval_jitter},
        std::tuple{"no_traffic_interval", &h.no_traffic_interval(), h.has_no_traffic_interval(),
                   &out.no_traffic_interval}}) {
    if (!set) continue;
    std::string dpath = fieldPath(path, field);
    auto v = std::string_view(field) == "no_traffic_interval" ? positiveDuration(*d, dpath)
                                                              : duration(*d, dpath);
    if (!v.ok()) return v.status();
    *dst = *v;
  }
  for (const auto& [field, d, set, dst] :
       {std::tuple{"unhealthy_interval", &h.unhealthy_interval(), h.has_unhealthy_interval(),
                   &out.unhealthy_interval},
        std::tuple{"unhealthy_edge_interval", &h.unhealthy_edge_interval(),
                   h.has_unhealthy_edge_interval(), &out.unhealthy_edge_interval},
        std::tuple{"healthy_edge_interval", &h.healthy_edge_interval(),
                   h.has_healthy_edge_interval(), &out.healthy_edge_interval}}) {
    if (!set) continue;
    auto v = positiveDuration(*d, fieldPath(path, field));
    if (!v.ok()) return v.status();
    *dst = *v;
  }
  out.interval_jitter_percent = h.interval_jitter_percent();
  if (!h.has_unhealthy_threshold())
    return error(fieldPath(path, "unhealthy_threshold"), "is required");
  if (!h.has_healthy_threshold()) return error(fieldPath(path, "healthy_threshold"), "is required");
  out.unhealthy_threshold = h.unhealthy_threshold().value();
  out.healthy_threshold = h.healthy_threshold().value();
  if (h.has_reuse_connection() && !h.reuse_connection().value()) {
    return error(fieldPath(path, "reuse_connection"), "false is not supported by remora");
  }
  out.always_log_health_check_failures = h.always_log_health_check_failures();
  switch (h.health_checker_case()) {
    case HealthCheck::kHttpHealthCheck:
      out.kind = config::HealthCheckConfig::Kind::Http;
      if (auto s = translateHttpHealthCheck(h.http_health_check(),
                                            fieldPath(path, "http_health_check"), &out, notes);
          !s.ok()) {
        return s;
      }
      break;
    case HealthCheck::kTcpHealthCheck: {
      out.kind = config::HealthCheckConfig::Kind::Tcp;
      const auto& t = h.tcp_health_check();
      std::string tpath = fieldPath(path, "tcp_health_check");
      // proxy_protocol_config is not implemented.
      if (auto s = checkFields(t, tpath, {"send", "receive"}, {}, notes); !s.ok()) return s;
      if (t.has_send()) {
        auto p = translatePayload(t.send(), fieldPath(tpath, "send"), notes);
        if (!p.ok()) return p.status();
        out.send = *p;
      }
      for (int i = 0; i < t.receive_size(); ++i) {
        auto p = translatePayload(t.receive(i), indexPath(tpath, "receive", static_cast<size_t>(i)),
                                  notes);
        if (!p.ok()) return p.status();
        out.receive.push_back(*p);
      }
      break;
    }
    default:
      return error(path, "needs http_health_check or tcp_health_check");
  }
  return out;
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

absl::StatusOr<LoadAssignment> translateLoadAssignment(
    const envoy::config::endpoint::v3::ClusterLoadAssignment& cla, const std::string& path,
    TranslateNotes* notes) {
  if (auto s = checkFields(cla, path, {"cluster_name", "endpoints", "policy"}, {}, notes);
      !s.ok()) {
    return s;
  }
  LoadAssignment out;
  if (cla.has_policy()) {
    // drop_overloads, endpoint_stale_after and weighted_priority_health are not implemented.
    std::string ppath = fieldPath(path, "policy");
    if (auto s = checkFields(cla.policy(), ppath, {"overprovisioning_factor"}, {}, notes); !s.ok())
      return s;
    if (cla.policy().has_overprovisioning_factor()) {
      uint32_t f = cla.policy().overprovisioning_factor().value();
      if (f == 0) return error(fieldPath(ppath, "overprovisioning_factor"), "must be above 0");
      out.overprovisioning_factor = f;
    }
  }
  std::map<uint32_t, size_t> priorities;  // priority -> the first locality that has it
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
    if (loc.priority() > 128) {
      return error(fieldPath(lpath, "priority"), cat(loc.priority(), " exceeds 128"));
    }
    priorities.emplace(loc.priority(), static_cast<size_t>(i));
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
      if (auto s = checkFields(ep, eppath, {"address", "health_check_config"}, {"hostname"}, notes);
          !s.ok()) {
        return s;
      }
      // A health check port, host name or address of its own, or no active health check for
      // this endpoint, are not implemented; present but empty changes nothing.
      if (auto s = checkFields(ep.health_check_config(), fieldPath(eppath, "health_check_config"),
                               {}, {}, notes);
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
      e.priority = loc.priority();
      switch (lb.health_status()) {
        case HealthStatus::UNKNOWN:
        case HealthStatus::HEALTHY:
          out.endpoints.push_back(e);
          break;
        case HealthStatus::DEGRADED:
          // Used only when the healthy ones are not enough (the load balancer decides).
          e.degraded = true;
          out.endpoints.push_back(e);
          break;
        default:
          break;  // UNHEALTHY, DRAINING, TIMEOUT take no new connections
      }
    }
  }
  // Envoy: priorities run from 0 (the highest) to N without skipping any.
  uint32_t expect = 0;
  for (const auto& [prio, first] : priorities) {
    if (prio != expect) {
      return error(
          fieldPath(indexPath(path, "endpoints", first), "priority"),
          cat(prio, ": priorities must run from 0 without gaps (", expect, " is missing)"));
    }
    ++expect;
  }
  return out;
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
    if (auto s = checkFields(o, kpath,
                             {"explicit_http_config", "use_downstream_protocol_config",
                              "common_http_protocol_options"},
                             {}, notes);
        !s.ok()) {
      return s;
    }
    if (o.has_common_http_protocol_options()) {
      const auto& co = o.common_http_protocol_options();
      std::string cpath = fieldPath(kpath, "common_http_protocol_options");
      // max_connection_duration, max_headers_count, max_stream_duration, ... are not
      // implemented for upstream connections: refused by name.
      if (auto s =
              checkFields(co, cpath, {"idle_timeout", "max_requests_per_connection"}, {}, notes);
          !s.ok()) {
        return s;
      }
      if (co.has_idle_timeout()) {
        auto d = duration(co.idle_timeout(), fieldPath(cpath, "idle_timeout"));
        if (!d.ok()) return d.status();
        out->upstream_idle_timeout = *d;
      }
      if (co.has_max_requests_per_connection()) {
        out->max_requests_per_connection = co.max_requests_per_connection().value();
      }
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
          {"name",
           "type",
           "connect_timeout",
           "load_assignment",
           "eds_cluster_config",
           "lb_policy",
           "upstream_bind_config",
           "per_connection_buffer_limit_bytes",
           "cleanup_interval",
           "dns_lookup_family",
           "dns_refresh_rate",
           "respect_dns_ttl",
           "circuit_breakers",
           "common_lb_config",
           "transport_socket",
           "http2_protocol_options",
           "typed_extension_protocol_options",
           "http_protocol_options",
           "load_balancing_policy",
           "round_robin_lb_config",
           "least_request_lb_config",
           "ring_hash_lb_config",
           "maglev_lb_config",
           "original_dst_lb_config",
           "outlier_detection",
           "health_checks"},
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
  if (auto s = translateLoadBalancing(c, path, &out, notes); !s.ok()) return s;
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
    auto cb =
        translateCircuitBreakers(c.circuit_breakers(), fieldPath(path, "circuit_breakers"), notes);
    if (!cb.ok()) return cb.status();
    out.circuit_breakers = *cb;
  }
  if (c.has_common_lb_config()) {
    if (auto s = translateCommonLbConfig(c.common_lb_config(), fieldPath(path, "common_lb_config"),
                                         &out, notes);
        !s.ok()) {
      return s;
    }
  }
  if (c.has_outlier_detection()) {
    auto od = translateOutlierDetection(c.outlier_detection(), fieldPath(path, "outlier_detection"),
                                        notes);
    if (!od.ok()) return od.status();
    out.outlier_detection = *od;
  }
  for (int i = 0; i < c.health_checks_size(); ++i) {
    auto hc = translateHealthCheck(c.health_checks(i),
                                   indexPath(path, "health_checks", static_cast<size_t>(i)), notes);
    if (!hc.ok()) return hc.status();
    out.health_checks.push_back(std::move(*hc));
  }
  if (c.has_transport_socket()) {
    const auto& ts = c.transport_socket();
    if (isTlsTransportSocket(ts)) {
      auto tls = translateUpstreamTls(ts, fieldPath(path, "transport_socket"), notes);
      if (!tls.ok()) return tls.status();
      out.tls = std::move(*tls);
    } else if (!isRawBuffer(ts)) {
      return error(fieldPath(path, "transport_socket"),
                   cat("'", ts.name(), "' is not supported (raw_buffer and tls are)"));
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
      auto la =
          translateLoadAssignment(c.load_assignment(), fieldPath(path, "load_assignment"), notes);
      if (!la.ok()) return la.status();
      out.endpoints = std::move(la->endpoints);
      out.overprovisioning_factor = la->overprovisioning_factor;
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
      auto timeout = adsSourceFetchTimeout(c.eds_cluster_config().eds_config(),
                                           fieldPath(epath, "eds_config"), "endpoints", notes);
      if (!timeout.ok()) return timeout.status();
      out.eds_fetch_timeout = *timeout;
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
    if (lf.has_typed_config() && lf.typed_config().Is<TlsInspectorProto>()) {
      TlsInspectorProto ti;
      lf.typed_config().UnpackTo(&ti);
      // JA3/JA4 fingerprints only feed logs; a different ClientHello size bound would change
      // which connections are refused.
      if (auto s = checkFields(ti, fieldPath(fpath, "typed_config"), {},
                               {"enable_ja3_fingerprinting", "enable_ja4_fingerprinting"}, notes);
          !s.ok()) {
        return s;
      }
      out.tls_inspector = true;
      continue;
    }
    std::string what =
        lf.has_typed_config() ? describeAny(lf.typed_config()) : std::string("no typed_config");
    return error(fpath, cat("listener filter '", lf.name(), "' (", what,
                            ") is not one remora implements (original_dst, http_inspector and "
                            "tls_inspector are)"));
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
