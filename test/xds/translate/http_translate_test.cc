// Translation of the http_connection_manager and RouteConfiguration: what is supported comes
// through with Envoy's defaults; what is not is NACKed naming the exact field path.
#include "xds/translate/http.h"

#include <catch2/catch.hpp>

#include "filters/registry.h"
#include "proxy/common/strings.h"
#include "test/xds/translate/translate_test_util.h"
#include "xds/common/load.h"
#include "xds/translate/translate.h"
#include "xds/translate/validate.h"

namespace remora::xds {
namespace {

using envoy::config::listener::v3::Listener;
using envoy::config::route::v3::RouteConfiguration;
using Hcm = envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
using config::HeaderToAdd;
using config::StringMatch;

using testutil::errorOf;
using testutil::parse;

// A listener whose only filter is an HCM with `body` (indented for typed_config).
std::string listenerWith(const std::string& body) {
  return cat(R"(
name: http
address: {socket_address: {address: 0.0.0.0, port_value: 8080}}
filter_chains:
- filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
)",
             body);
}

const char* kRouter = R"(
      http_filters:
      - name: envoy.filters.http.router
        typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
)";

// The same, for an HCM at the top level of a document.
const char* kRouterTop = R"(
http_filters:
- name: envoy.filters.http.router
  typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
)";

const char* kPath = "listener 'http'.filter_chains[0].filters[0].typed_config";

absl::StatusOr<config::HttpConnectionManagerConfig> hcm(const std::string& yaml,
                                                        TranslateNotes* notes = nullptr) {
  return translateHttpConnectionManager(parse<Hcm>(yaml), "hcm", notes);
}

absl::StatusOr<config::RouteTableConfig> routes(const std::string& yaml,
                                                TranslateNotes* notes = nullptr) {
  auto rc = parse<RouteConfiguration>(yaml);
  return translateRouteConfiguration(rc, resourceLabel("route_configuration", rc.name()), notes);
}

TEST_CASE("an HCM with an inline route table, in a listener, with Envoy's defaults",
          "[xds][http]") {
  TranslateNotes notes;
  auto l = translateListener(parse<Listener>(listenerWith(cat(R"(
      stat_prefix: ingress_http
      tracing: {}
      route_config:
        name: local
        virtual_hosts:
        - name: backend
          domains: [Example.COM, "*"]
          routes:
          - match: {prefix: /}
            route: {cluster: web}
)",
                                                              kRouter))),
                             &notes);
  INFO(l.status().ToString());
  REQUIRE(l.ok());
  const auto& f = l->filter_chains[0].filters[0];
  CHECK(f.name == "envoy.filters.network.http_connection_manager");
  REQUIRE(f.http);
  const auto& h = *f.http;
  CHECK(h.stat_prefix == "ingress_http");
  CHECK(h.codec == config::HttpConnectionManagerConfig::Codec::Auto);
  CHECK(h.http_filters == std::vector<config::HttpFilterConfig>{{"envoy.filters.http.router"}});
  CHECK(h.max_request_headers_kb == 60);
  CHECK(h.max_headers_count == 100);
  CHECK(h.stream_idle_timeout == std::chrono::minutes(5));
  CHECK(h.drain_timeout == std::chrono::seconds(5));
  CHECK(h.idle_timeout == std::chrono::hours(1));
  CHECK(h.generate_request_id);
  CHECK(h.server_name == "envoy");
  CHECK(h.rds_name.empty());
  REQUIRE(h.route_config);
  CHECK(h.route_config->name == "local");
  CHECK(h.route_config->validate_clusters);  // Envoy's default for a static table
  REQUIRE(h.route_config->virtual_hosts.size() == 1);
  CHECK(h.route_config->virtual_hosts[0].domains == std::vector<std::string>{"example.com", "*"});
  const auto& r = h.route_config->virtual_hosts[0].routes[0];
  CHECK(r.kind == config::RouteConfigEntry::Kind::Route);
  CHECK(r.route.cluster == "web");
  CHECK(r.route.timeout == std::chrono::seconds(15));
  CHECK(r.match.path_kind == config::RouteMatchConfig::PathKind::Prefix);
  CHECK(r.match.case_sensitive);
  CHECK(notes.ignored == std::vector<std::string>{cat(kPath, ".tracing")});
}

TEST_CASE("a route feature remora lacks is NACKed with the full field path", "[xds][http]") {
  auto l = translateListener(parse<Listener>(listenerWith(cat(R"(
      stat_prefix: s
      route_config:
        virtual_hosts:
        - {name: a, domains: [a], routes: [{match: {prefix: /}, route: {cluster: c}}]}
        - name: b
          domains: [b]
          routes:
          - match: {prefix: /}
            route: {cluster: c, hedge_policy: {initial_requests: 2}}
)",
                                                              kRouter))),
                             nullptr);
  REQUIRE_FALSE(l.ok());
  CHECK(errorOf(l.status()) ==
        cat(kPath,
            ".route_config.virtual_hosts[1].routes[0].route.hedge_policy: not supported by "
            "remora"));
}

TEST_CASE("RDS over ADS - other config sources are NACKed", "[xds][http]") {
  auto h = hcm(cat(R"(
stat_prefix: s
rds: {route_config_name: "8080", config_source: {ads: {}, resource_api_version: V3}}
)",
                   kRouterTop));
  INFO(h.status().ToString());
  REQUIRE(h.ok());
  CHECK(h->rds_name == "8080");
  CHECK_FALSE(h->route_config);

  auto bad = hcm(cat(R"(
stat_prefix: s
rds:
  route_config_name: r
  config_source: {api_config_source: {api_type: GRPC, grpc_services: [{envoy_grpc: {cluster_name: x}}]}}
)",
                     kRouterTop));
  REQUIRE_FALSE(bad.ok());
  CHECK(errorOf(bad.status()) ==
        "hcm.rds.config_source.api_config_source: not supported by remora");

  auto v2 = hcm(cat(R"(
stat_prefix: s
rds: {route_config_name: r, config_source: {ads: {}, resource_api_version: V2}}
)",
                    kRouterTop));
  REQUIRE_FALSE(v2.ok());
  CHECK(errorOf(v2.status()) == "hcm.rds.config_source.resource_api_version: only V3 is supported");

  auto none = hcm(cat("stat_prefix: s\n", kRouterTop));
  REQUIRE_FALSE(none.ok());
  CHECK(errorOf(none.status()) == "hcm: needs rds or route_config");
}

TEST_CASE("HTTP filters: the router last - optional unknown filters skipped - others NACKed",
          "[xds][http]") {
  const char* rds = "stat_prefix: s\nrds: {route_config_name: r, config_source: {ads: {}}}\n";
  TranslateNotes notes;
  auto ok = hcm(cat(rds, R"(
http_filters:
- name: istio.metadata_exchange
  is_optional: true
  typed_config: {'@type': type.googleapis.com/udpa.type.v1.TypedStruct, type_url: type.googleapis.com/io.istio.http.peer_metadata.Config}
- name: envoy.filters.http.router
  typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router, dynamic_stats: false}
)"),
                &notes);
  INFO(ok.status().ToString());
  REQUIRE(ok.ok());
  CHECK(ok->http_filters.size() == 1);
  CHECK(notes.ignored ==
        std::vector<std::string>{"hcm.http_filters[0] (optional filter 'istio.metadata_exchange')",
                                 "hcm.http_filters[1].typed_config.dynamic_stats"});

  auto unknown = hcm(cat(rds, R"(
http_filters:
- name: envoy.filters.http.cors
  typed_config: {'@type': type.googleapis.com/udpa.type.v1.TypedStruct, type_url: type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors}
- name: envoy.filters.http.router
  typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
)"));
  REQUIRE_FALSE(unknown.ok());
  CHECK(errorOf(unknown.status()) ==
        "hcm.http_filters[0]: HTTP filter 'envoy.filters.http.cors' "
        "(type.googleapis.com/udpa.type.v1.TypedStruct wrapping "
        "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors) is not one remora "
        "implements (envoy.filters.http.rbac and envoy.filters.http.router are)");

  auto none = hcm(rds);
  REQUIRE_FALSE(none.ok());
  CHECK(errorOf(none.status()) ==
        "hcm.http_filters: the router filter (envoy.filters.http.router) is required, last");

  auto suppress = hcm(cat(rds, R"(
http_filters:
- name: envoy.filters.http.router
  typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router, suppress_envoy_headers: true}
)"));
  REQUIRE_FALSE(suppress.ok());
  CHECK(errorOf(suppress.status()) ==
        "hcm.http_filters[0].typed_config.suppress_envoy_headers: not supported by remora");

  auto twice = hcm(cat(rds, R"(
http_filters:
- name: envoy.filters.http.router
  typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
- name: envoy.filters.http.router
  typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
)"));
  REQUIRE_FALSE(twice.ok());
  CHECK(errorOf(twice.status()) ==
        "hcm.http_filters[1]: a second envoy.filters.http.router filter (the first is "
        "http_filters[0])");
}

TEST_CASE("access logs: file (text, json), stdout, stderr - filters and nested JSON NACKed",
          "[xds][http]") {
  const char* base = "stat_prefix: s\nrds: {route_config_name: r, config_source: {ads: {}}}\n";
  auto h = hcm(cat(base, kRouterTop, R"(
access_log:
- name: envoy.access_loggers.file
  typed_config:
    '@type': type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: /var/log/a.log
    log_format: {text_format_source: {inline_string: "%REQ(:PATH)% %RESPONSE_CODE%\n"}}
- name: envoy.access_loggers.file
  typed_config:
    '@type': type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
    path: /var/log/b.log
    log_format: {json_format: {status: "%RESPONSE_CODE%", authority: "%REQ(:AUTHORITY)%"}}
- name: envoy.access_loggers.file
  typed_config: {'@type': type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog, path: /dev/null, format: "%START_TIME%"}
- name: envoy.access_loggers.stdout
  typed_config: {'@type': type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog}
- name: envoy.access_loggers.stderr
  typed_config: {'@type': type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog}
)"));
  INFO(h.status().ToString());
  REQUIRE(h.ok());
  REQUIRE(h->access_logs.size() == 5);
  CHECK(h->access_logs[0].path == "/var/log/a.log");
  CHECK(h->access_logs[0].text_format == "%REQ(:PATH)% %RESPONSE_CODE%\n");
  // A Struct keeps no order: keys come out sorted.
  CHECK(h->access_logs[1].json_format ==
        std::vector<std::pair<std::string, std::string>>{{"authority", "%REQ(:AUTHORITY)%"},
                                                         {"status", "%RESPONSE_CODE%"}});
  CHECK(h->access_logs[2].text_format == "%START_TIME%");
  CHECK(h->access_logs[3].path == "/dev/stdout");
  CHECK(h->access_logs[3].text_format.empty());  // Envoy's default format
  CHECK(h->access_logs[4].path == "/dev/stderr");

  auto filtered = hcm(cat(base, kRouterTop, R"(
access_log:
- name: envoy.access_loggers.stdout
  filter: {status_code_filter: {comparison: {op: GE, value: {default_value: 500, runtime_key: k}}}}
  typed_config: {'@type': type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog}
)"));
  REQUIRE_FALSE(filtered.ok());
  CHECK(errorOf(filtered.status()) == "hcm.access_log[0].filter: not supported by remora");

  auto nested = hcm(cat(base, kRouterTop, R"(
access_log:
- name: envoy.access_loggers.stdout
  typed_config:
    '@type': type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
    log_format: {json_format: {upstream: {host: "%UPSTREAM_HOST%"}}}
)"));
  REQUIRE_FALSE(nested.ok());
  CHECK(errorOf(nested.status()) ==
        "hcm.access_log[0].typed_config.log_format.json_format.upstream: only string values are "
        "supported by remora (not nested objects, lists, numbers or booleans)");
}

TEST_CASE("limits, timeouts, protocol options and forwarding headers", "[xds][http]") {
  auto h = hcm(cat(R"(
stat_prefix: s
codec_type: HTTP2
rds: {route_config_name: r, config_source: {ads: {}}}
max_request_headers_kb: 96
stream_idle_timeout: 0s
request_timeout: 30s
request_headers_timeout: 10s
drain_timeout: 2.5s
delayed_close_timeout: 1s
common_http_protocol_options: {idle_timeout: 300s, max_headers_count: 200, max_stream_duration: 60s, headers_with_underscores_action: ALLOW}
http_protocol_options: {allow_absolute_url: true}
http2_protocol_options: {max_concurrent_streams: 100, initial_stream_window_size: 65536, initial_connection_window_size: 1048576, max_outbound_frames: 10000}
use_remote_address: true
xff_num_trusted_hops: 1
skip_xff_append: true
via: remora
generate_request_id: false
preserve_external_request_id: true
always_set_request_id_in_response: true
server_name: istio-envoy
server_header_transformation: PASS_THROUGH
normalize_path: true
merge_slashes: true
path_with_escaped_slashes_action: KEEP_UNCHANGED
forward_client_cert_details: SANITIZE_SET
set_current_client_cert_details: {subject: true, dns: true, uri: true}
)",
                   kRouterTop));
  INFO(h.status().ToString());
  REQUIRE(h.ok());
  CHECK(h->codec == config::HttpConnectionManagerConfig::Codec::Http2);
  CHECK(h->max_request_headers_kb == 96);
  CHECK(h->stream_idle_timeout == config::Duration(0));
  CHECK(h->request_timeout == std::chrono::seconds(30));
  CHECK(h->request_headers_timeout == std::chrono::seconds(10));
  CHECK(h->drain_timeout == config::Duration(2500));
  CHECK(h->idle_timeout == std::chrono::seconds(300));
  CHECK(h->max_headers_count == 200);
  CHECK(h->max_stream_duration == std::chrono::seconds(60));
  CHECK(h->h2_max_concurrent_streams == 100);
  CHECK(h->h2_initial_stream_window_size == 65536);
  CHECK(h->h2_initial_connection_window_size == 1048576);
  CHECK(h->use_remote_address);
  CHECK(h->xff_num_trusted_hops == 1);
  CHECK(h->skip_xff_append);
  CHECK(h->via == "remora");
  CHECK_FALSE(h->generate_request_id);
  CHECK(h->preserve_external_request_id);
  CHECK(h->always_set_request_id_in_response);
  CHECK(h->server_name == "istio-envoy");
  CHECK(h->server_header == config::HttpConnectionManagerConfig::ServerHeader::PassThrough);
  CHECK(h->normalize_path);
  CHECK(h->merge_slashes);

  struct Bad {
    const char* yaml;
    const char* error;
  };
  for (const Bad& b : std::initializer_list<Bad>{
           {"codec_type: HTTP3",
            "hcm.codec_type: HTTP3 is not supported (AUTO, HTTP1 and HTTP2 are)"},
           {"max_request_headers_kb: 9000", "hcm.max_request_headers_kb: 9000 is not in [1, 8192]"},
           {"common_http_protocol_options: {headers_with_underscores_action: REJECT_REQUEST}",
            "hcm.common_http_protocol_options.headers_with_underscores_action: not supported by "
            "remora"},
           {"common_http_protocol_options: {max_connection_duration: 60s}",
            "hcm.common_http_protocol_options.max_connection_duration: not supported by remora"},
           {"http_protocol_options: {accept_http_10: true}",
            "hcm.http_protocol_options.accept_http_10: not supported by remora"},
           {"http_protocol_options: {allow_chunked_length: true}",
            "hcm.http_protocol_options.allow_chunked_length: not supported by remora"},
           {"http2_protocol_options: {initial_stream_window_size: 100}",
            "hcm.http2_protocol_options.initial_stream_window_size: 100 is not in [65535, "
            "2147483647]"},
           {"http2_protocol_options: {max_outbound_frames: 50}",
            "hcm.http2_protocol_options.max_outbound_frames: 50: only Envoy's default, 10000, is "
            "supported by remora"},
           {"http2_protocol_options: {allow_connect: true}",
            "hcm.http2_protocol_options.allow_connect: not supported by remora"},
           {"upgrade_configs: [{upgrade_type: websocket}]",
            "hcm.upgrade_configs: not supported by remora"},
           {"add_user_agent: true", "hcm.add_user_agent: true is not supported by remora"},
           {"delayed_close_timeout: 5s",
            "hcm.delayed_close_timeout: only Envoy's default, 1s, is supported by remora"},
           {"forward_client_cert_details: ALWAYS_FORWARD_ONLY",
            "hcm.forward_client_cert_details: ALWAYS_FORWARD_ONLY is not supported by remora"},
           {"path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT",
            "hcm.path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT is not supported by "
            "remora (KEEP_UNCHANGED is)"},
           {"strip_any_host_port: true", "hcm.strip_any_host_port: not supported by remora"},
           {"use_remote_address: true\ninternal_address_config: {unix_sockets: true}",
            "hcm.internal_address_config: not supported by remora together with "
            "use_remote_address"},
       }) {
    auto r = hcm(cat("stat_prefix: s\nrds: {route_config_name: r, config_source: {ads: {}}}\n",
                     b.yaml, "\n", kRouterTop));
    INFO(b.yaml);
    REQUIRE_FALSE(r.ok());
    CHECK(errorOf(r.status()) == b.error);
  }
}

const char* kRoutes = R"(
name: "8080"
virtual_hosts:
- name: reviews
  domains: [reviews, "reviews:8080", "*.reviews.svc"]
  request_headers_to_add:
  - header: {key: X-Vhost, value: v}
    append: false
  response_headers_to_remove: [server]
  routes:
  - name: exact
    match: {path: /healthz, case_sensitive: false}
    direct_response: {status: 200, body: {inline_string: ok}}
  - match:
      safe_regex: {regex: "/api/v[0-9]+/.*"}
      headers:
      - {name: X-Canary, exact_match: "yes"}
      - {name: x-version, string_match: {prefix: V2, ignore_case: true}}
      - {name: x-debug, present_match: false}
      - {name: x-tier, range_match: {start: 1, end: 3}, invert_match: true}
      - {name: x-any}
      - {name: x-re, safe_regex_match: {regex: "a+"}, treat_missing_header_as_empty: true}
      query_parameters:
      - {name: user, string_match: {exact: jason}}
      - {name: debug}
    route:
      weighted_clusters:
        clusters:
        - name: v1
          weight: 90
          request_headers_to_add: [{header: {key: x-subset, value: v1}, append_action: ADD_IF_ABSENT}]
        - {name: v2, weight: 10}
      regex_rewrite: {pattern: {regex: "^/api/(v[0-9]+)/(.*)$"}, substitution: "/\\2?version=\\1"}
      timeout: 0s
      idle_timeout: 30s
      host_rewrite_literal: reviews.internal
  - match: {path_separated_prefix: /grpc, grpc: {}}
    route: {cluster_header: X-Cluster, prefix_rewrite: /rpc, auto_host_rewrite: true}
    request_headers_to_remove: [X-Internal]
    response_headers_to_add:
    - header: {key: x-served-by, value: "remora 100%%"}
      append_action: OVERWRITE_IF_EXISTS
      keep_empty_value: true
  - match: {prefix: /old}
    redirect: {https_redirect: true, host_redirect: new.example.com, port_redirect: 8443, prefix_rewrite: /new, response_code: PERMANENT_REDIRECT, strip_query: true}
  - match: {prefix: /}
    route: {cluster: reviews, host_rewrite_path_regex: {pattern: {regex: "^/([^/]+).*$"}, substitution: "\\1.example.com"}}
    decorator: {operation: reviews}
- name: fallback
  domains: ["*"]
  routes:
  - match: {prefix: /}
    route: {cluster: PassthroughCluster, host_rewrite_header: x-host}
internal_only_headers: [X-Envoy-Internal-Only]
response_headers_to_add: [{header: {key: x-global, value: g}}]
most_specific_header_mutations_wins: true
ignore_port_in_host_matching: true
max_direct_response_body_size_bytes: 16
)";

TEST_CASE("RouteConfiguration: every match kind, action and header mutation", "[xds][http]") {
  TranslateNotes notes;
  auto rc = routes(kRoutes, &notes);
  INFO(rc.status().ToString());
  REQUIRE(rc.ok());
  CHECK(rc->name == "8080");
  CHECK_FALSE(rc->validate_clusters);  // RDS default
  CHECK(rc->most_specific_header_mutations_wins);
  CHECK(rc->ignore_port_in_host_matching);
  CHECK(rc->max_direct_response_body_size_bytes == 16);
  CHECK(rc->internal_only_headers == std::vector<std::string>{"x-envoy-internal-only"});
  CHECK(
      rc->headers.response_add ==
      std::vector<HeaderToAdd>{{"x-global", "g", HeaderToAdd::Action::AppendIfExistsOrAdd, false}});
  REQUIRE(rc->virtual_hosts.size() == 2);
  const auto& vh = rc->virtual_hosts[0];
  CHECK(vh.domains == std::vector<std::string>{"reviews", "reviews:8080", "*.reviews.svc"});
  // The deprecated `append: false` is OVERWRITE_IF_EXISTS_OR_ADD.
  CHECK(vh.headers.request_add ==
        std::vector<HeaderToAdd>{
            {"x-vhost", "v", HeaderToAdd::Action::OverwriteIfExistsOrAdd, false}});
  CHECK(vh.headers.response_remove == std::vector<std::string>{"server"});
  REQUIRE(vh.routes.size() == 5);

  const auto& direct = vh.routes[0];
  CHECK(direct.name == "exact");
  CHECK(direct.match.path_kind == config::RouteMatchConfig::PathKind::Path);
  CHECK_FALSE(direct.match.case_sensitive);
  CHECK(direct.kind == config::RouteConfigEntry::Kind::DirectResponse);
  CHECK(direct.direct_response == config::DirectResponseConfig{200, "ok"});

  const auto& api = vh.routes[1];
  CHECK(api.match.path_kind == config::RouteMatchConfig::PathKind::Regex);
  CHECK(api.match.path == "/api/v[0-9]+/.*");
  REQUIRE(api.match.headers.size() == 6);
  using HK = config::HeaderMatch::Kind;
  CHECK(api.match.headers[0].name == "x-canary");
  CHECK(api.match.headers[0].kind == HK::String);
  CHECK(api.match.headers[0].string_match == StringMatch{StringMatch::Kind::Exact, "yes", false});
  CHECK(api.match.headers[1].string_match == StringMatch{StringMatch::Kind::Prefix, "V2", true});
  CHECK(api.match.headers[2].kind == HK::Present);
  CHECK_FALSE(api.match.headers[2].present);
  CHECK(api.match.headers[3].kind == HK::Range);
  CHECK(api.match.headers[3].range_start == 1);
  CHECK(api.match.headers[3].range_end == 3);
  CHECK(api.match.headers[3].invert);
  CHECK(api.match.headers[4].kind == HK::Present);  // a name alone: presence
  CHECK(api.match.headers[4].present);
  CHECK(api.match.headers[5].string_match == StringMatch{StringMatch::Kind::Regex, "a+", false});
  CHECK(api.match.headers[5].treat_missing_as_empty);
  REQUIRE(api.match.query_parameters.size() == 2);
  CHECK(api.match.query_parameters[0].string_match ==
        StringMatch{StringMatch::Kind::Exact, "jason", false});
  CHECK(api.match.query_parameters[1].present_only);
  REQUIRE(api.route.weighted_clusters.size() == 2);
  CHECK(api.route.weighted_clusters[0].name == "v1");
  CHECK(api.route.weighted_clusters[0].weight == 90);
  CHECK(api.route.weighted_clusters[0].headers.request_add ==
        std::vector<HeaderToAdd>{{"x-subset", "v1", HeaderToAdd::Action::AddIfAbsent, false}});
  CHECK(api.route.weighted_clusters[1].weight == 10);
  REQUIRE(api.route.regex_rewrite);
  CHECK(api.route.regex_rewrite->pattern == "^/api/(v[0-9]+)/(.*)$");
  CHECK(api.route.regex_rewrite->substitution == "/\\2?version=\\1");
  CHECK(api.route.timeout == config::Duration(0));
  CHECK(api.route.idle_timeout == std::chrono::seconds(30));
  CHECK(api.route.host_rewrite_literal == "reviews.internal");

  const auto& grpc = vh.routes[2];
  CHECK(grpc.match.path_kind == config::RouteMatchConfig::PathKind::PathSeparatedPrefix);
  CHECK(grpc.match.grpc_only);
  CHECK(grpc.route.cluster_header == "x-cluster");
  CHECK(grpc.route.prefix_rewrite == "/rpc");
  CHECK(grpc.route.auto_host_rewrite);
  CHECK(grpc.headers.request_remove == std::vector<std::string>{"x-internal"});
  // "%%" is Envoy's escape for a literal '%'.
  CHECK(grpc.headers.response_add ==
        std::vector<HeaderToAdd>{
            {"x-served-by", "remora 100%", HeaderToAdd::Action::OverwriteIfExists, true}});

  const auto& redirect = vh.routes[3];
  CHECK(redirect.kind == config::RouteConfigEntry::Kind::Redirect);
  CHECK(redirect.redirect == config::RedirectConfig{true, "", "new.example.com", 8443, "", "/new",
                                                    std::nullopt, 308, true});

  const auto& last = vh.routes[4];
  REQUIRE(last.route.host_rewrite_path_regex);
  CHECK(last.route.host_rewrite_path_regex->substitution == "\\1.example.com");
  CHECK(rc->virtual_hosts[1].routes[0].route.host_rewrite_header == "x-host");
  CHECK(notes.ignored == std::vector<std::string>{
                             "route_configuration '8080'.virtual_hosts[0].routes[4].decorator"});
}

TEST_CASE("RouteConfiguration: what Envoy or remora refuses, by field path", "[xds][http]") {
  auto one = [](const std::string& route) {
    return cat("name: rc\nvirtual_hosts:\n- name: v\n  domains: ['*']\n  routes:\n  - ", route,
               "\n");
  };
  struct Bad {
    std::string yaml;
    std::string error;
  };
  const std::string r0 = "route_configuration 'rc'.virtual_hosts[0].routes[0]";
  std::vector<Bad> cases = {
      {one("{match: {prefix: /}, route: {cluster: c, hash_policy: [{filter_state: {key: x}}]}}"),
       r0 + ".route.hash_policy[0].filter_state: not supported by remora"},
      {one("{match: {prefix: /}, route: {cluster: c, request_mirror_policies: [{cluster: m}]}}"),
       r0 + ".route.request_mirror_policies: not supported by remora"},
      {one("{match: {prefix: /}, route: {cluster: c, max_stream_duration: {max_stream_duration: "
           "1s}}}"),
       r0 + ".route.max_stream_duration: not supported by remora"},
      {one("{match: {prefix: /}, route: {cluster: c, cluster_not_found_response_code: NOT_FOUND}}"),
       r0 + ".route.cluster_not_found_response_code: not supported by remora"},
      {one("{match: {prefix: /, runtime_fraction: {default_value: {numerator: 50}}}, route: "
           "{cluster: c}}"),
       r0 + ".match.runtime_fraction: not supported by remora"},
      {one("{match: {connect_matcher: {}}, route: {cluster: c}}"),
       r0 + ".match.connect_matcher: not supported by remora"},
      {one("{match: {safe_regex: {regex: '/a(b'}}, route: {cluster: c}}"),
       r0 + ".match.safe_regex.regex: '/a(b' is not a valid RE2 regular expression: missing ): "
            "/a(b"},
      {one("{match: {safe_regex: {regex: '/(a|b|c|d|e|f|g|h|i|j){1,20}(k|l|m|n|o|p){1,20}'}}, "
           "route: {cluster: c}}"),
       ""},  // checked below: program size
      {one("{match: {path_separated_prefix: /a/}, route: {cluster: c}}"),
       r0 + ".match.path_separated_prefix: '/a/' must not contain '?' or '#' nor end in '/'"},
      {one("{match: {prefix: /, headers: [{name: x, prefix_match: ''}]}, route: {cluster: c}}"),
       r0 + ".match.headers[0].prefix_match: must not be empty"},
      {one("{match: {prefix: /, query_parameters: [{name: q, present_match: false}]}, route: "
           "{cluster: c}}"),
       r0 + ".match.query_parameters[0].present_match: false is not supported by remora (its "
            "meaning differs between Envoy releases)"},
      {one("{match: {prefix: /}, route: {cluster: c}, typed_per_filter_config: {envoy.filters.http."
           "fault: {'@type': "
           "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault}}}"),
       r0 + ".typed_per_filter_config: not supported by remora"},
      {one("{match: {prefix: /}, route: {cluster: c, prefix_rewrite: /x, regex_rewrite: {pattern: "
           "{regex: a}, substitution: b}}}"),
       r0 + ".route: only one of prefix_rewrite or regex_rewrite may be specified"},
      {one("{match: {prefix: /}, route: {cluster: c, regex_rewrite: {pattern: {regex: a}, "
           "substitution: '\\2'}}}"),
       r0 + ".route.regex_rewrite.substitution: '\\2': Rewrite schema requests 2 matches, but "
            "the regexp only has 0 parenthesized subexpressions."},
      {one("{match: {prefix: /}, route: {weighted_clusters: {clusters: [{name: a, weight: 0}]}}}"),
       r0 + ".route.weighted_clusters.clusters: the sum of the weights must be above 0"},
      {one("{match: {prefix: /}, route: {weighted_clusters: {runtime_key_prefix: k, clusters: "
           "[{name: a, weight: 1}]}}}"),
       r0 + ".route.weighted_clusters.runtime_key_prefix: not supported by remora"},
      {one("{match: {prefix: /}, route: {cluster: c}, request_headers_to_add: [{header: {key: x, "
           "value: '%DOWNSTREAM_REMOTE_ADDRESS%'}}]}"),
       r0 + ".request_headers_to_add[0].header.value: '%DOWNSTREAM_REMOTE_ADDRESS%': Envoy's "
            "%VARIABLE% substitutions are not supported by remora (write %% for a literal '%')"},
      {one("{match: {prefix: /}, route: {cluster: c}, request_headers_to_add: [{header: {key: "
           "Host, value: h}}]}"),
       r0 + ".request_headers_to_add[0].header.key: 'Host': :-prefixed or host headers may not "
            "be modified"},
      {one("{match: {prefix: /}, route: {cluster: c}, request_headers_to_remove: [':path']}"),
       r0 + ".request_headers_to_remove[0]: ':path': :-prefixed or host headers may not be "
            "removed"},
      {one("{match: {prefix: /}, route: {cluster: c}, request_headers_to_add: [{header: {key: x, "
           "value: v}, append: true, append_action: OVERWRITE_IF_EXISTS}]}"),
       r0 + ".request_headers_to_add[0]: both append and append_action are set and it's not "
            "allowed"},
      {one("{match: {prefix: /}, direct_response: {status: 200, body: {filename: /etc/passwd}}}"),
       r0 + ".direct_response.body.filename: not supported by remora"},
      {one("{match: {prefix: /}, direct_response: {status: 600}}"),
       r0 + ".direct_response.status: 600 is not in [200, 600)"},
      {one("{match: {prefix: /}, redirect: {port_redirect: 70000}}"),
       r0 + ".redirect.port_redirect: 70000 is not a port"},
      {one("{match: {prefix: /}, filter_action: {}}"),
       r0 + ".filter_action: not supported by remora"},
      {"name: rc\nvirtual_hosts:\n- {name: v, domains: ['*'], require_tls: ALL}\n",
       "route_configuration 'rc'.virtual_hosts[0].require_tls: not supported by remora"},
      {"name: rc\nvirtual_hosts:\n- {name: v, domains: ['*'], retry_policy: {retry_priority: "
       "{name: p}}}\n",
       "route_configuration 'rc'.virtual_hosts[0].retry_policy.retry_priority: not supported by "
       "remora"},
      {"name: rc\nvhds: {config_source: {ads: {}}}\n",
       "route_configuration 'rc'.vhds: not supported by remora"},
      {"name: rc\nvirtual_hosts:\n- {name: a, domains: [Foo.com]}\n- {name: b, domains: "
       "[foo.COM]}\n",
       "route_configuration 'rc'.virtual_hosts[1].domains[0]: duplicate domain 'foo.com' (also in "
       "virtual host 'a'); Envoy requires unique domains"},
      {"name: rc\nvirtual_hosts:\n- {name: a, domains: ['*.foo.com', '*']}\n- {name: b, domains: "
       "['*']}\n",
       "route_configuration 'rc'.virtual_hosts[1].domains[0]: only a single wildcard domain '*' is "
       "permitted in a route configuration (virtual host 'a' has one)"},
      {"name: rc\nvirtual_hosts:\n- {name: a, domains: []}\n",
       "route_configuration 'rc'.virtual_hosts[0].domains: needs at least one domain"},
      {"name: rc\nmax_direct_response_body_size_bytes: 4\nvirtual_hosts:\n- name: a\n  domains: "
       "['*']\n  routes: [{match: {prefix: /}, direct_response: {status: 503, body: "
       "{inline_string: 'too long'}}}]\n",
       "route_configuration 'rc'.virtual_hosts[0].routes[0].direct_response.body: response body "
       "size is 8 bytes; maximum is 4 (max_direct_response_body_size_bytes)"},
  };
  for (const auto& c : cases) {
    INFO(c.yaml);
    auto r = routes(c.yaml);
    if (c.error.empty()) continue;
    REQUIRE_FALSE(r.ok());
    CHECK(errorOf(r.status()) == c.error);
  }
  // RE2 programs larger than Envoy's default limit (100) are refused, as Envoy does.
  auto big = routes(cases[7].yaml);
  REQUIRE_FALSE(big.ok());
  CHECK_THAT(errorOf(big.status()),
             Catch::StartsWith(r0 + ".match.safe_regex.regex: '/(a|b|c|d|e|f|g|h|i|j){1,20}"
                                    "(k|l|m|n|o|p){1,20}': RE2 program size ") &&
                 Catch::EndsWith(" exceeds the maximum of 100"));
  // ... unless google_re2.max_program_size raises it.
  auto raised =
      routes(one("{match: {safe_regex: {google_re2: {max_program_size: 100000}, regex: "
                 "'/(a|b|c|d|e|f|g|h|i|j){1,20}(k|l|m|n|o|p){1,20}'}}, route: {cluster: "
                 "c}}"));
  INFO(raised.status().ToString());
  CHECK(raised.ok());
}

TEST_CASE("validate mode accepts a RouteConfiguration and rejects a bad one", "[xds][http]") {
  auto filters = remora::filters::networkFilters();
  auto report = validateResources(R"(
'@type': type.googleapis.com/envoy.config.route.v3.RouteConfiguration
name: "9080"
virtual_hosts:
- {name: a, domains: ['*'], routes: [{match: {prefix: /}, route: {cluster: c}}]}
---
'@type': type.googleapis.com/envoy.config.route.v3.RouteConfiguration
name: bad
virtual_hosts:
- {name: a, domains: ['*'], routes: [{match: {prefix: /}, route: {cluster: c, cors: {}}}]}
)",
                                  filters);
  REQUIRE(report.lines.size() == 2);
  CHECK(report.lines[0].ok);
  CHECK(report.lines[0].resource == "route_configuration '9080'");
  CHECK_FALSE(report.lines[1].ok);
  CHECK(report.lines[1].message ==
        "route_configuration 'bad'.virtual_hosts[0].routes[0].route.cors: not supported by remora");
}

}  // namespace
}  // namespace remora::xds
