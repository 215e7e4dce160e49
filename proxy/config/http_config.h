// remora's model of Envoy's HTTP configuration: the http_connection_manager network filter and
// the RouteConfiguration it routes by (inline or from RDS). Plain values translated from the
// protos by xds/translate; regular expressions are kept as their source text here and compiled
// once when a route table is built (proxy/http/route_table.h). Defaults are Envoy's.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proxy/config/matcher_config.h"
#include "proxy/config/rbac_config.h"

namespace remora::config {

using Duration = std::chrono::milliseconds;

// envoy.config.route.v3.QueryParameterMatcher.
struct QueryParamMatch {
  std::string name;
  bool present_only = false;  // present_match: any value
  StringMatch string_match;
  bool operator==(const QueryParamMatch&) const = default;
};

struct RouteMatchConfig {
  enum class PathKind { Prefix, Path, Regex, PathSeparatedPrefix };
  PathKind path_kind = PathKind::Prefix;
  std::string path;  // the prefix, the exact path, or the regex source
  bool case_sensitive = true;
  std::vector<HeaderMatch> headers;
  std::vector<QueryParamMatch> query_parameters;
  bool grpc_only = false;  // match.grpc: content-type application/grpc*
  bool operator==(const RouteMatchConfig&) const = default;
};

// envoy.config.core.v3.HeaderValueOption.
struct HeaderToAdd {
  enum class Action { AppendIfExistsOrAdd, AddIfAbsent, OverwriteIfExistsOrAdd, OverwriteIfExists };
  std::string name;  // lower case
  std::string value;
  Action action = Action::AppendIfExistsOrAdd;
  bool keep_empty_value = false;
  bool operator==(const HeaderToAdd&) const = default;
};

struct HeaderMutations {
  std::vector<HeaderToAdd> request_add;
  std::vector<std::string> request_remove;
  std::vector<HeaderToAdd> response_add;
  std::vector<std::string> response_remove;
  bool operator==(const HeaderMutations&) const = default;
};

struct RouteWeightedCluster {
  std::string name;
  uint32_t weight = 0;
  HeaderMutations headers;
  bool operator==(const RouteWeightedCluster&) const = default;
};

struct RegexRewrite {
  std::string pattern;  // regex source
  std::string substitution;
  bool operator==(const RegexRewrite&) const = default;
};

// Route retry_policy (Envoy's RetryPolicy; the virtual host's applies when the route has none).
struct RetryPolicyConfig {
  enum On : uint32_t {
    k5xx = 1 << 0,
    kGatewayError = 1 << 1,
    kReset = 1 << 2,
    kConnectFailure = 1 << 3,
    kRetriable4xx = 1 << 4,  // 409
    kRefusedStream = 1 << 5,
    kRetriableStatusCodes = 1 << 6,
    kGrpcCancelled = 1 << 7,
    kGrpcDeadlineExceeded = 1 << 8,
    kGrpcResourceExhausted = 1 << 9,
    kGrpcUnavailable = 1 << 10,
    kGrpcInternal = 1 << 11,
    kEnvoyRateLimited = 1 << 12,
    kResetBeforeRequest = 1 << 13,
    kHttp3PostConnectFailure = 1 << 14,
  };
  uint32_t retry_on = 0;     // On bits
  uint32_t num_retries = 1;  // Envoy's default when a retry policy exists
  std::optional<Duration> per_try_timeout;
  std::optional<Duration> per_try_idle_timeout;
  Duration base_interval{std::chrono::milliseconds(25)};
  Duration max_interval{std::chrono::milliseconds(250)};  // default: 10 x base_interval
  std::vector<uint32_t> retriable_status_codes;
  bool previous_hosts_predicate = false;  // envoy.retry_host_predicates.previous_hosts
  uint32_t host_selection_retry_max_attempts = 1;
  bool operator==(const RetryPolicyConfig&) const = default;
};

// Route hash_policy entries (RING_HASH / MAGLEV): evaluated in order, hashes combined; a
// terminal one that produced a hash ends the list.
struct HashPolicyConfig {
  enum class Kind { Header, Cookie, SourceIp, QueryParameter };
  Kind kind = Kind::Header;
  std::string name;  // header (lower case), cookie or query parameter name
  bool terminal = false;
  bool operator==(const HashPolicyConfig&) const = default;
};

struct RouteActionConfig {
  std::string cluster;                                  // or:
  std::vector<RouteWeightedCluster> weighted_clusters;  // picked per request by weight
  std::string cluster_header;                           // or: the cluster named by this header
  std::string prefix_rewrite;
  std::optional<RegexRewrite> regex_rewrite;
  std::string host_rewrite_literal;
  std::string host_rewrite_header;
  std::optional<RegexRewrite> host_rewrite_path_regex;
  bool auto_host_rewrite = false;
  Duration timeout{std::chrono::seconds(15)};     // the whole request, retries included; 0 = none
  std::optional<Duration> idle_timeout;           // per stream; overrides the manager's
  std::optional<RetryPolicyConfig> retry_policy;  // the route's, else its virtual host's
  std::vector<HashPolicyConfig> hash_policy;
  bool high_priority = false;  // RoutingPriority HIGH (circuit breakers)
  // Bytes of request body kept for retries (per_request_buffer_limit_bytes); past this the
  // request is not retried. Default: the listener's connection buffer limit (1 MiB).
  uint32_t retry_buffer_limit = 1024 * 1024;
  // From the virtual host: x-envoy-attempt-count on the upstream request / on the response.
  bool include_request_attempt_count = false;
  bool include_attempt_count_in_response = false;
  bool operator==(const RouteActionConfig&) const = default;
};

struct RedirectConfig {
  bool https_redirect = false;
  std::string scheme_redirect;
  std::string host_redirect;
  uint32_t port_redirect = 0;
  std::string path_redirect;
  std::string prefix_rewrite;
  std::optional<RegexRewrite> regex_rewrite;
  uint32_t response_code = 301;
  bool strip_query = false;
  bool operator==(const RedirectConfig&) const = default;
};

struct DirectResponseConfig {
  uint32_t status = 200;
  std::string body;
  bool operator==(const DirectResponseConfig&) const = default;
};

struct RouteConfigEntry {
  enum class Kind { Route, Redirect, DirectResponse };
  std::string name;
  RouteMatchConfig match;
  Kind kind = Kind::Route;
  RouteActionConfig route;
  RedirectConfig redirect;
  DirectResponseConfig direct_response;
  HeaderMutations headers;
  bool operator==(const RouteConfigEntry&) const = default;
};

struct VirtualHostConfig {
  std::string name;
  std::vector<std::string> domains;  // "*", "*.suffix", "prefix.*", exact; lower case
  std::vector<RouteConfigEntry> routes;
  HeaderMutations headers;
  bool operator==(const VirtualHostConfig&) const = default;
};

// envoy.config.route.v3.RouteConfiguration.
struct RouteTableConfig {
  std::string name;
  std::vector<VirtualHostConfig> virtual_hosts;
  HeaderMutations headers;
  std::vector<std::string> internal_only_headers;
  uint32_t max_direct_response_body_size_bytes = 4096;
  // Header mutations are applied route, virtual host, route configuration (the last one wins
  // on overwrites); with this set, the other way round (the route wins).
  bool most_specific_header_mutations_wins = false;
  // Match virtual host domains against :authority without its port.
  bool ignore_port_in_host_matching = false;
  // Envoy refuses the route table when a route names a cluster that does not exist (default:
  // true for a route_config inline in the manager, false from RDS). Checked where the cluster
  // set is known (the snapshot), not by the translator.
  bool validate_clusters = false;
  bool operator==(const RouteTableConfig&) const = default;
};

// An access log (envoy.access_loggers.file / stdout / stderr).
struct AccessLogConfig {
  std::string path;  // "/dev/stdout" for the stdout logger
  // Text format with Envoy's %OPERATORS%; empty: Envoy's default format.
  std::string text_format;
  // JSON format: key -> format string, in order.
  std::vector<std::pair<std::string, std::string>> json_format;
  bool operator==(const AccessLogConfig&) const = default;
};

struct HttpFilterConfig {
  std::string name;  // envoy.filters.http.router, envoy.filters.http.rbac
  std::optional<RbacFilterConfig> rbac = std::nullopt;  // envoy.filters.http.rbac
  bool operator==(const HttpFilterConfig&) const = default;
};

// envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.
struct HttpConnectionManagerConfig {
  enum class Codec { Auto, Http1, Http2 };
  std::string stat_prefix;
  Codec codec = Codec::Auto;
  std::optional<RouteTableConfig> route_config;  // inline; or:
  std::string rds_name;                          // from RDS over ADS
  // rds.config_source.initial_fetch_timeout (0: the listener warms until its routes arrive).
  Duration rds_fetch_timeout{std::chrono::seconds(15)};
  std::vector<HttpFilterConfig> http_filters;  // the router last
  std::vector<AccessLogConfig> access_logs;
  // Limits and timeouts (Envoy's defaults).
  uint32_t max_request_headers_kb = 60;
  uint32_t max_headers_count = 100;
  Duration stream_idle_timeout{std::chrono::minutes(5)};
  Duration request_timeout{0};                   // 0: none
  Duration request_headers_timeout{0};           // 0: none
  Duration idle_timeout{std::chrono::hours(1)};  // common_http_protocol_options.idle_timeout
  Duration drain_timeout{std::chrono::seconds(5)};
  std::optional<Duration> max_stream_duration;
  // HTTP/2 (http2_protocol_options).
  uint32_t h2_max_concurrent_streams = 2147483647;
  uint32_t h2_initial_stream_window_size = 268435456;
  uint32_t h2_initial_connection_window_size = 268435456;
  // Request identity and forwarding headers.
  bool use_remote_address = false;
  uint32_t xff_num_trusted_hops = 0;
  bool skip_xff_append = false;
  std::string via;
  bool generate_request_id = true;
  bool preserve_external_request_id = false;
  bool always_set_request_id_in_response = false;
  std::string server_name = "envoy";
  enum class ServerHeader { Overwrite, AppendIfAbsent, PassThrough };
  ServerHeader server_header = ServerHeader::Overwrite;
  // Path handling.
  bool normalize_path = false;
  bool merge_slashes = false;
  bool operator==(const HttpConnectionManagerConfig&) const = default;
};

}  // namespace remora::config
