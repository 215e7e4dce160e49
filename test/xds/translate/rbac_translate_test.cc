// Translation of the HTTP and network RBAC filters: Istio-shaped configurations come through
// whole (policies in name order), and everything remora cannot evaluate is NACKed naming its
// field path.
#include "xds/translate/rbac.h"

#include <catch2/catch.hpp>

#include "filters/registry.h"
#include "proxy/common/strings.h"
#include "test/xds/translate/translate_test_util.h"
#include "xds/translate/http.h"
#include "xds/translate/translate.h"
#include "xds/translate/validate.h"

namespace remora::xds {
namespace {

using envoy::config::listener::v3::Listener;
using Hcm = envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
using HttpRbac = envoy::extensions::filters::http::rbac::v3::RBAC;
using NetworkRbac = envoy::extensions::filters::network::rbac::v3::RBAC;
using config::RbacMatch;
using config::RbacRules;
using config::StringMatch;
using Kind = RbacMatch::Kind;

using testutil::errorOf;
using testutil::parse;

absl::StatusOr<config::RbacFilterConfig> http(const std::string& yaml,
                                              TranslateNotes* notes = nullptr) {
  return translateHttpRbac(parse<HttpRbac>(yaml), "rbac", notes);
}
absl::StatusOr<config::RbacFilterConfig> network(const std::string& yaml,
                                                 TranslateNotes* notes = nullptr) {
  return translateNetworkRbac(parse<NetworkRbac>(yaml), "rbac", notes);
}

// The message of a translation that must fail.
template <typename T>
std::string nack(const absl::StatusOr<T>& r) {
  INFO("translation succeeded where it must fail");
  REQUIRE_FALSE(r.ok());
  return errorOf(r.status());
}

TEST_CASE("HTTP RBAC: every permission and principal kind, policies by name", "[xds][rbac]") {
  TranslateNotes notes;
  auto r = http(R"(
rules:
  action: DENY
  audit_logging_options: {audit_condition: ON_DENY}
  policies:
    zz-last:
      permissions:
      - and_rules:
          rules:
          - header: {name: ":method", string_match: {exact: POST}}
          - url_path: {path: {prefix: /admin}}
      - or_rules:
          rules:
          - destination_ip: {address_prefix: 10.0.0.0, prefix_len: 8}
          - destination_port: 8080
          - destination_port_range: {start: 9000, end: 9100}
      - not_rule: {requested_server_name: {suffix: .internal}}
      - any: true
      principals:
      - and_ids:
          ids:
          - authenticated: {principal_name: {exact: "spiffe://cluster.local/ns/a/sa/b"}}
          - direct_remote_ip: {address_prefix: 192.0.2.0, prefix_len: 24}
      - or_ids:
          ids:
          - remote_ip: {address_prefix: 198.51.100.7}
          - source_ip: {address_prefix: "2001:db8::", prefix_len: 32}
      - not_id: {header: {name: x-debug, present_match: true}}
      - url_path: {path: {safe_regex: {regex: "/v[0-9]+/.*"}}}
      - authenticated: {}
      - any: true
    aa-first:
      permissions: [{any: true}]
      principals: [{any: true}]
rules_stat_prefix: istio_deny_
shadow_rules: {action: ALLOW}
shadow_rules_stat_prefix: istio_dry_run_allow_
track_per_rule_stats: true
)",
                &notes);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(notes.ignored == std::vector<std::string>{"rbac.rules.audit_logging_options"});
  CHECK(r->rules_stat_prefix == "istio_deny_");
  CHECK(r->shadow_rules_stat_prefix == "istio_dry_run_allow_");
  CHECK(r->track_per_rule_stats);
  REQUIRE(r->shadow_rules);
  CHECK(r->shadow_rules->action == RbacRules::Action::Allow);
  CHECK(r->shadow_rules->policies.empty());
  REQUIRE(r->rules);
  CHECK(r->rules->action == RbacRules::Action::Deny);
  REQUIRE(r->rules->policies.size() == 2);
  CHECK(r->rules->policies[0].name == "aa-first");
  const auto& p = r->rules->policies[1];
  CHECK(p.name == "zz-last");

  REQUIRE(p.permissions.size() == 4);
  const RbacMatch& and_rules = p.permissions[0];
  CHECK(and_rules.kind == Kind::And);
  REQUIRE(and_rules.children.size() == 2);
  CHECK(and_rules.children[0].kind == Kind::Header);
  CHECK(and_rules.children[0].header.name == ":method");
  CHECK(and_rules.children[0].header.string_match == StringMatch{StringMatch::Kind::Exact, "POST"});
  CHECK(and_rules.children[1].kind == Kind::UrlPath);
  CHECK(and_rules.children[1].string_match == StringMatch{StringMatch::Kind::Prefix, "/admin"});
  const RbacMatch& or_rules = p.permissions[1];
  CHECK(or_rules.kind == Kind::Or);
  REQUIRE(or_rules.children.size() == 3);
  CHECK(or_rules.children[0].kind == Kind::DestinationIp);
  CHECK(or_rules.children[0].cidr.toString() == "10.0.0.0/8");
  CHECK(or_rules.children[1].kind == Kind::DestinationPort);
  CHECK(or_rules.children[1].port_start == 8080);
  CHECK(or_rules.children[1].port_end == 8081);
  CHECK(or_rules.children[2].port_start == 9000);
  CHECK(or_rules.children[2].port_end == 9100);
  CHECK(p.permissions[2].kind == Kind::Not);
  CHECK(p.permissions[2].children[0].kind == Kind::RequestedServerName);
  CHECK(p.permissions[3].kind == Kind::Any);

  REQUIRE(p.principals.size() == 6);
  const RbacMatch& and_ids = p.principals[0];
  CHECK(and_ids.kind == Kind::And);
  CHECK(and_ids.children[0].kind == Kind::Authenticated);
  CHECK(and_ids.children[0].principal_name ==
        StringMatch{StringMatch::Kind::Exact, "spiffe://cluster.local/ns/a/sa/b"});
  CHECK(and_ids.children[1].kind == Kind::DirectRemoteIp);
  CHECK(and_ids.children[1].cidr.toString() == "192.0.2.0/24");
  CHECK(p.principals[1].children[0].kind == Kind::RemoteIp);
  CHECK(p.principals[1].children[0].cidr.prefixLength() == 0);  // Envoy: prefix_len unset is 0
  CHECK(p.principals[1].children[1].kind == Kind::SourceIp);
  CHECK(p.principals[2].kind == Kind::Not);
  CHECK(p.principals[2].children[0].header.kind == config::HeaderMatch::Kind::Present);
  CHECK(p.principals[3].kind == Kind::UrlPath);
  CHECK(p.principals[3].string_match.kind == StringMatch::Kind::Regex);
  CHECK(p.principals[4].kind == Kind::Authenticated);
  CHECK_FALSE(p.principals[4].principal_name);
  CHECK(p.principals[5].kind == Kind::Any);

  // No rules at all: nothing enforced (Envoy's "absent: no enforcing").
  auto none = http("shadow_rules: {action: DENY}\n");
  REQUIRE(none.ok());
  CHECK_FALSE(none->rules);
}

TEST_CASE("HTTP RBAC: what remora cannot evaluate is NACKed by field path", "[xds][rbac]") {
  auto policy = [](const std::string& permission, const std::string& principal = "{any: true}",
                   const std::string& extra = "") {
    return cat("rules:\n  policies:\n    p:\n      permissions: [", permission,
               "]\n      principals: [", principal, "]\n", extra);
  };
  const char* p = "rbac.rules.policies['p']";
  CHECK(nack(http(policy("{metadata: {filter: f, path: [{key: k}], value: {present_match: "
                         "true}}}"))) ==
        cat(p, ".permissions[0].metadata: not supported by remora"));
  CHECK(
      nack(http(policy("{matcher: {name: m, typed_config: {'@type': "
                       "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}}"))) ==
      cat(p, ".permissions[0].matcher: not supported by remora"));
  CHECK(
      nack(http(policy("{uri_template: {name: t, typed_config: {'@type': "
                       "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}}"))) ==
      cat(p, ".permissions[0].uri_template: not supported by remora"));
  CHECK(nack(http(policy("{any: true}",
                         "{metadata: {filter: f, path: [{key: k}], value: "
                         "{present_match: true}}}"))) ==
        cat(p, ".principals[0].metadata: not supported by remora"));
  CHECK(nack(http(policy("{any: true}", "{filter_state: {key: k, string_match: {exact: v}}}"))) ==
        cat(p, ".principals[0].filter_state: not supported by remora"));
  // Nested: the path goes all the way down.
  CHECK(nack(http(policy("{any: true}",
                         "{not_id: {or_ids: {ids: [{any: true}, {filter_state: "
                         "{key: k, string_match: {exact: v}}}]}}}"))) ==
        cat(p, ".principals[0].not_id.or_ids.ids[1].filter_state: not supported by remora"));
  CHECK(nack(http(policy("{any: true}", "{any: true}",
                         "      condition: {const_expr: {bool_value: true}}\n"))) ==
        cat(p, ".condition: not supported by remora"));
  CHECK(nack(http(policy("{any: true}", "{any: true}",
                         "      checked_condition: {expr: {const_expr: {bool_value: true}}}\n"))) ==
        cat(p, ".checked_condition: not supported by remora"));
  CHECK(nack(http("matcher: {on_no_match: {action: {name: a, typed_config: {'@type': "
                  "type.googleapis.com/envoy.config.rbac.v3.Action, name: x}}}}\n")) ==
        "rbac.matcher: not supported by remora");
  CHECK(nack(http("shadow_matcher: {on_no_match: {action: {name: a, typed_config: {'@type': "
                  "type.googleapis.com/envoy.config.rbac.v3.Action, name: x}}}}\n")) ==
        "rbac.shadow_matcher: not supported by remora");

  // Envoy's own validation.
  CHECK(nack(http(policy("{any: false}"))) == cat(p, ".permissions[0].any: must be true"));
  CHECK(nack(http(policy("{destination_port_range: {start: 9000, end: 9000}}"))) ==
        cat(p, ".permissions[0].destination_port_range: start 9000 must be less than end 9000"));
  CHECK(nack(http(policy("{destination_port_range: {start: 1, end: 70000}}"))) ==
        cat(p, ".permissions[0].destination_port_range.end: out of range"));
  CHECK(nack(http(policy("{destination_port: 70000}"))) ==
        cat(p, ".permissions[0].destination_port: must be at most 65535"));
  CHECK(nack(http(policy("{and_rules: {rules: []}}"))) ==
        cat(p, ".permissions[0].and_rules.rules: needs at least one entry"));
  CHECK(nack(http(policy("{}"))) == cat(p, ".permissions[0]: needs a rule"));
  CHECK(nack(http(policy("{any: true}",
                         "{authenticated: {principal_name: {safe_regex: {regex: '('}}}}")))
            .starts_with(cat(p,
                             ".principals[0].authenticated.principal_name.safe_regex.regex: '(' "
                             "is not a valid RE2 regular expression")));
  CHECK(nack(http("rules: {policies: {p: {principals: [{any: true}]}}}\n")) ==
        cat(p, ".permissions: needs at least one permission"));
  CHECK(nack(http("rules: {policies: {p: {permissions: [{any: true}]}}}\n")) ==
        cat(p, ".principals: needs at least one principal"));
  CHECK(nack(http("rules: {action: 7}\n")) == "rbac.rules.action: unknown value 7");
  CHECK(nack(http(policy("{destination_ip: {address_prefix: not-an-ip}}")))
            .starts_with(cat(p, ".permissions[0].destination_ip: ")));

  CHECK(nack(network("stat_prefix: tcp\nenforcement_type: 9\n")) ==
        "rbac.enforcement_type: unknown value 9");
}

TEST_CASE("RBAC in an HCM: in order before the router - per-route config NACKed", "[xds][rbac]") {
  const char* rds = "stat_prefix: inbound\nrds: {route_config_name: r, config_source: {ads: {}}}\n";
  const char* deny = R"(
- name: envoy.filters.http.rbac
  typed_config:
    '@type': type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
    rules: {action: DENY, policies: {'ns[foo]-policy[deny]-rule[0]': {permissions: [{url_path: {path: {prefix: /admin}}}], principals: [{any: true}]}}}
)";
  const char* allow = R"(
- name: envoy.filters.http.rbac
  typed_config:
    '@type': type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
    rules: {policies: {p: {permissions: [{any: true}], principals: [{any: true}]}}}
)";
  const char* router = R"(
- name: envoy.filters.http.router
  typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
)";
  auto ok = translateHttpConnectionManager(
      parse<Hcm>(cat(rds, "http_filters:", deny, allow, router)), "hcm", nullptr);
  INFO(ok.status().ToString());
  REQUIRE(ok.ok());
  REQUIRE(ok->http_filters.size() == 3);
  CHECK(ok->http_filters[0].name == "envoy.filters.http.rbac");
  REQUIRE(ok->http_filters[0].rbac);
  CHECK(ok->http_filters[0].rbac->rules->action == RbacRules::Action::Deny);
  CHECK(ok->http_filters[1].rbac->rules->action == RbacRules::Action::Allow);
  CHECK(ok->http_filters[2].name == "envoy.filters.http.router");
  CHECK_FALSE(ok->http_filters[2].rbac);

  auto after = translateHttpConnectionManager(parse<Hcm>(cat(rds, "http_filters:", router, allow)),
                                              "hcm", nullptr);
  CHECK(nack(after) ==
        "hcm.http_filters[1]: 'envoy.filters.http.rbac' follows the router (http_filters[0]), "
        "which must be the last filter");
  auto bad = translateHttpConnectionManager(parse<Hcm>(cat(rds, R"(http_filters:
- name: envoy.filters.http.rbac
  typed_config:
    '@type': type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
    rules: {policies: {p: {permissions: [{metadata: {filter: f, path: [{key: k}], value: {present_match: true}}}], principals: [{any: true}]}}}
)",
                                                           router)),
                                            "hcm", nullptr);
  CHECK(nack(bad) ==
        "hcm.http_filters[0].typed_config.rules.policies['p'].permissions[0].metadata: not "
        "supported by remora");
  auto disabled = translateHttpConnectionManager(
      parse<Hcm>(cat(rds, "http_filters:", allow, "  disabled: true\n", router)), "hcm", nullptr);
  CHECK(nack(disabled) == "hcm.http_filters[0].disabled: not supported by remora");

  // RBACPerRoute (typed_per_filter_config) would change the policy per route: refused.
  auto per_route =
      translateRouteConfiguration(parse<envoy::config::route::v3::RouteConfiguration>(R"(
name: r
virtual_hosts:
- name: v
  domains: ['*']
  routes:
  - match: {prefix: /}
    route: {cluster: c}
    typed_per_filter_config:
      envoy.filters.http.rbac: {'@type': type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute}
)"),
                                  "route_configuration 'r'", nullptr);
  CHECK(nack(per_route) ==
        "route_configuration 'r'.virtual_hosts[0].routes[0].typed_per_filter_config: not "
        "supported by remora");
}

std::string rbacListener(const std::string& rbac_config, bool rbac_first = true) {
  std::string rbac = cat(R"(
  - name: envoy.filters.network.rbac
    typed_config:
      '@type': type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC
)",
                         rbac_config);
  std::string tcp = R"(
  - name: envoy.filters.network.tcp_proxy
    typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: app, cluster: app}
)";
  return cat(R"(name: inbound
address: {socket_address: {address: 0.0.0.0, port_value: 15006}}
filter_chains:
- filters:)",
             rbac_first ? rbac : tcp, rbac_first ? tcp : rbac);
}

TEST_CASE("network RBAC: a listener's chain - HTTP-only rules and match trees NACKed",
          "[xds][rbac]") {
  TranslateNotes notes;
  auto l = translateListener(parse<Listener>(rbacListener(R"(      stat_prefix: tcp.
      shadow_rules_stat_prefix: dry_
      enforcement_type: CONTINUOUS
      rules:
        action: DENY
        policies:
          block: {permissions: [{destination_port: 9090}], principals: [{remote_ip: {address_prefix: 192.0.2.0, prefix_len: 24}}]}
)")),
                             &notes);
  INFO(l.status().ToString());
  REQUIRE(l.ok());
  const auto& filters = l->filter_chains[0].filters;
  REQUIRE(filters.size() == 2);
  CHECK(filters[0].name == "envoy.filters.network.rbac");
  REQUIRE(filters[0].rbac);
  CHECK(filters[0].rbac->stat_prefix == "tcp.");
  CHECK(filters[0].rbac->shadow_rules_stat_prefix == "dry_");
  CHECK(filters[0].rbac->rules->policies[0].principals[0].kind == Kind::RemoteIp);
  CHECK(filters[1].name == "envoy.filters.network.tcp_proxy");
  CHECK(notes.ignored ==
        std::vector<std::string>{"listener 'inbound'.filter_chains[0].filters[0].typed_config."
                                 "enforcement_type (CONTINUOUS: decided once, at accept)"});

  const char* t = "listener 'inbound'.filter_chains[0].filters[0].typed_config";
  auto nackOf = [](const std::string& yaml) {
    return nack(translateListener(parse<Listener>(yaml), nullptr));
  };
  CHECK(nackOf(rbacListener(R"(      stat_prefix: tcp
      rules: {policies: {p: {permissions: [{header: {name: ":path", string_match: {prefix: /}}}], principals: [{any: true}]}}}
)")) == cat(t,
            ".rules.policies['p'].permissions[0].header: a connection has no HTTP request: not "
            "supported by the network RBAC filter (use envoy.filters.http.rbac)"));
  CHECK(nackOf(rbacListener(R"(      stat_prefix: tcp
      shadow_rules: {policies: {p: {permissions: [{any: true}], principals: [{and_ids: {ids: [{any: true}, {url_path: {path: {prefix: /}}}]}}]}}}
)")) == cat(t,
            ".shadow_rules.policies['p'].principals[0].and_ids.ids[1].url_path: a connection has "
            "no HTTP request: not supported by the network RBAC filter (use "
            "envoy.filters.http.rbac)"));
  CHECK(nackOf(rbacListener(R"(      stat_prefix: tcp
      matcher: {on_no_match: {action: {name: a, typed_config: {'@type': type.googleapis.com/envoy.config.rbac.v3.Action, name: x}}}}
)")) == cat(t, ".matcher: not supported by remora"));
  CHECK(nackOf(rbacListener(R"(      stat_prefix: tcp
      shadow_matcher: {on_no_match: {action: {name: a, typed_config: {'@type': type.googleapis.com/envoy.config.rbac.v3.Action, name: x}}}}
)")) == cat(t, ".shadow_matcher: not supported by remora"));
  CHECK(nackOf(rbacListener("      rules: {}\n")) == cat(t, ".stat_prefix: must not be empty"));
}

TEST_CASE("validate mode: RBAC before the terminal filter is accepted, after it rejected",
          "[xds][rbac]") {
  auto filters = remora::filters::networkFilters();
  std::string doc = "'@type': type.googleapis.com/envoy.config.listener.v3.Listener\n";
  auto good = validateResources(cat(doc, rbacListener("      stat_prefix: tcp\n")), filters);
  REQUIRE(good.lines.size() == 1);
  CHECK(good.lines[0].ok);
  auto bad = validateResources(cat(doc, rbacListener("      stat_prefix: tcp\n", false)), filters);
  REQUIRE(bad.lines.size() == 1);
  CHECK_FALSE(bad.lines[0].ok);
  CHECK(bad.lines[0].message ==
        "listener 'inbound': filter_chains[0].filters[1]: 'envoy.filters.network.rbac' follows "
        "the terminal filter 'envoy.filters.network.tcp_proxy', which must be the last filter of "
        "the chain");
}

}  // namespace
}  // namespace remora::xds
