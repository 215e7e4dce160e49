// The RBAC engine and the counters around it: every permission and principal kind, the
// combinators, Envoy's policy and action semantics, peer identities from a fabricated TLS
// handshake, shadow rules, and the stat names.
#include "filters/common/rbac/engine.h"

#include <catch2/catch.hpp>

#include "filters/common/rbac/authorizer.h"
#include "proxy/stats/exposition.h"

namespace remora::filters::rbac {
namespace {

using config::RbacMatch;
using config::RbacPolicy;
using config::RbacRules;
using config::StringMatch;
using Kind = RbacMatch::Kind;
using Action = RbacRules::Action;

// --- Building rules ---

StringMatch exact(std::string v) { return {StringMatch::Kind::Exact, std::move(v), false}; }
StringMatch prefix(std::string v) { return {StringMatch::Kind::Prefix, std::move(v), false}; }
StringMatch regex(std::string v) { return {StringMatch::Kind::Regex, std::move(v), false}; }

RbacMatch any() { return {}; }
RbacMatch header(std::string name, StringMatch m, bool invert = false) {
  RbacMatch r;
  r.kind = Kind::Header;
  r.header.name = std::move(name);
  r.header.kind = config::HeaderMatch::Kind::String;
  r.header.string_match = std::move(m);
  r.header.invert = invert;
  return r;
}
RbacMatch urlPath(StringMatch m) {
  RbacMatch r;
  r.kind = Kind::UrlPath;
  r.string_match = std::move(m);
  return r;
}
RbacMatch cidr(Kind kind, const std::string& c) {
  RbacMatch r;
  r.kind = kind;
  r.cidr = *net::Cidr::parse(c);
  return r;
}
RbacMatch ports(uint32_t start, uint32_t end) {
  RbacMatch r;
  r.kind = Kind::DestinationPort;
  r.port_start = start;
  r.port_end = end;
  return r;
}
RbacMatch sni(StringMatch m) {
  RbacMatch r;
  r.kind = Kind::RequestedServerName;
  r.string_match = std::move(m);
  return r;
}
RbacMatch authenticated(std::optional<StringMatch> name = std::nullopt) {
  RbacMatch r;
  r.kind = Kind::Authenticated;
  r.principal_name = std::move(name);
  return r;
}
RbacMatch combine(Kind kind, std::vector<RbacMatch> children) {
  RbacMatch r;
  r.kind = kind;
  r.children = std::move(children);
  return r;
}
RbacMatch allOf(std::vector<RbacMatch> c) { return combine(Kind::And, std::move(c)); }
RbacMatch anyOf(std::vector<RbacMatch> c) { return combine(Kind::Or, std::move(c)); }
RbacMatch notOf(RbacMatch m) { return combine(Kind::Not, {std::move(m)}); }

RbacRules rules(Action action, std::vector<RbacPolicy> policies) {
  return {action, std::move(policies)};
}
// One policy whose permission and principal are given.
RbacRules one(Action action, RbacMatch permission, RbacMatch principal = any()) {
  return rules(action, {{"p", {std::move(permission)}, {std::move(principal)}}});
}

Engine compile(const RbacRules& r) {
  auto e = Engine::create(r);
  INFO(e.status().ToString());
  REQUIRE(e.ok());
  return std::move(*e);
}

// --- The request or connection under test ---

struct Request {
  net::Address local = *net::Address::parse("10.1.2.3:9080");
  net::Address peer = *net::Address::parse("10.9.8.7:40000");
  net::Address remote = *net::Address::parse("192.0.2.50:0");  // as if from x-forwarded-for
  http::RequestHeaders headers;
  std::optional<net::TlsInfo> tls;
  std::string sni;
  bool http = true;

  Request() {
    headers.method = "GET";
    headers.path = "/api/v1/items?limit=5#top";
    headers.authority = "reviews:9080";
    headers.headers.add("x-tenant", "acme");
  }
  Input input() const {
    Input in;
    in.local = &local;
    in.direct_remote = &peer;
    in.remote = &remote;
    in.requested_server_name = sni;
    in.tls = tls ? &*tls : nullptr;
    in.headers = http ? &headers : nullptr;
    return in;
  }
};

// A workload certificate as the TLS handshake reports it.
net::TlsInfo mtlsPeer() {
  net::TlsInfo t;
  t.sni = "reviews.default.svc.cluster.local";
  t.peer_certificate_validated = true;
  t.peer_uri_sans = {"spiffe://cluster.local/ns/default/sa/web",
                     "spiffe://cluster.local/ns/default/sa/web-canary"};
  t.peer_dns_sans = {"web.default.svc"};
  t.peer_subject = "CN=web,O=acme";
  return t;
}

bool allowed(const RbacRules& r, const Request& req) {
  return compile(r).evaluate(req.input()).allowed;
}

TEST_CASE("permissions: each kind, on a request that matches and one that does not", "[rbac]") {
  Request req;
  Request other;
  other.local = *net::Address::parse("10.200.0.1:8080");
  other.headers.path = "/admin?api/v1/items";
  other.headers.headers.clear();
  other.headers.method = "POST";
  other.sni = "db.internal";
  req.sni = "reviews.default.svc.cluster.local";

  auto check = [&](const RbacMatch& m) {
    CHECK(allowed(one(Action::Allow, m), req));
    CHECK_FALSE(allowed(one(Action::Allow, m), other));
  };
  SECTION("header, pseudo-headers included") {
    check(header("x-tenant", exact("acme")));
    check(header(":method", exact("GET")));
    // :path includes the query: a prefix of it matches only on req.
    check(header(":path", prefix("/api/v1/items?limit")));
    // invert_match on a missing header still fails (Envoy's HeaderUtility).
    CHECK_FALSE(allowed(one(Action::Allow, header("x-tenant", exact("other"), true)), other));
    CHECK(allowed(one(Action::Allow, header("x-tenant", exact("other"), true)), req));
  }
  SECTION("url_path: the path without query and fragment") {
    check(urlPath(exact("/api/v1/items")));
    check(urlPath(regex("/api/v[0-9]+/.*")));
    // The query of `other` contains the path; url_path does not look at it.
    CHECK_FALSE(allowed(one(Action::Allow, urlPath(exact("/admin?api/v1/items"))), other));
  }
  SECTION("destination_ip, destination_port, destination_port_range [start, end)") {
    check(cidr(Kind::DestinationIp, "10.1.0.0/16"));
    check(ports(9080, 9081));
    check(ports(9000, 9081));
    CHECK_FALSE(allowed(one(Action::Allow, ports(9000, 9080)), req));  // end is exclusive
    CHECK_FALSE(allowed(one(Action::Allow, cidr(Kind::DestinationIp, "::/0")), req));
  }
  SECTION("requested_server_name") {
    check(sni(exact("reviews.default.svc.cluster.local")));
    Request none;  // no SNI: matched as ""
    CHECK_FALSE(allowed(one(Action::Allow, sni(prefix("r"))), none));
  }
  SECTION("any") {
    CHECK(allowed(one(Action::Allow, any()), req));
    CHECK(allowed(one(Action::Allow, any()), other));
  }
}

TEST_CASE("principals: addresses, headers, paths", "[rbac]") {
  Request req;
  auto principal = [&](const RbacMatch& m, const Request& r) {
    return allowed(one(Action::Allow, any(), m), r);
  };
  // direct_remote_ip and source_ip are the physical peer; remote_ip is Envoy's downstream
  // remote address (x-forwarded-for derived in HTTP), which the input carries separately.
  CHECK(principal(cidr(Kind::DirectRemoteIp, "10.9.0.0/16"), req));
  CHECK(principal(cidr(Kind::SourceIp, "10.9.8.7/32"), req));
  CHECK_FALSE(principal(cidr(Kind::DirectRemoteIp, "192.0.2.0/24"), req));
  CHECK(principal(cidr(Kind::RemoteIp, "192.0.2.0/24"), req));
  CHECK_FALSE(principal(cidr(Kind::RemoteIp, "10.9.0.0/16"), req));
  CHECK(principal(header("x-tenant", prefix("ac")), req));
  CHECK_FALSE(principal(header("x-tenant", prefix("zz")), req));
  CHECK(principal(urlPath(prefix("/api/")), req));
  // Without a request (the network filter) HTTP rules never match.
  Request conn;
  conn.http = false;
  CHECK_FALSE(principal(header("x-tenant", exact("acme")), conn));
  CHECK_FALSE(principal(urlPath(prefix("/")), conn));
}

TEST_CASE("and, or and not nest", "[rbac]") {
  Request req;
  RbacMatch get = header(":method", exact("GET"));
  RbacMatch post = header(":method", exact("POST"));
  RbacMatch api = urlPath(prefix("/api/"));
  CHECK(allowed(one(Action::Allow, allOf({get, api})), req));
  CHECK_FALSE(allowed(one(Action::Allow, allOf({post, api})), req));
  CHECK(allowed(one(Action::Allow, anyOf({post, api})), req));
  CHECK_FALSE(allowed(one(Action::Allow, anyOf({post, notOf(api)})), req));
  CHECK(allowed(one(Action::Allow, notOf(post)), req));
  CHECK_FALSE(allowed(one(Action::Allow, notOf(notOf(post))), req));
  // Principal side: not_id(or_ids(...)).
  CHECK(allowed(one(Action::Allow, any(),
                    notOf(anyOf({cidr(Kind::DirectRemoteIp, "192.0.2.0/24"), authenticated()}))),
                req));
}

TEST_CASE("a policy needs a permission and a principal, lists are OR, first match by name wins",
          "[rbac]") {
  Request req;
  RbacMatch yes = any();
  RbacMatch no = header("x-tenant", exact("nobody"));
  // Matching permission, no matching principal: no match.
  CHECK_FALSE(allowed(one(Action::Allow, yes, no), req));
  CHECK_FALSE(allowed(one(Action::Allow, no, yes), req));
  // Either permission (or principal) in a list is enough.
  CHECK(allowed(rules(Action::Allow, {{"p", {no, yes}, {no, yes}}}), req));

  // Policies are checked in name order whatever the configuration's order: the one reported
  // is the first by name.
  Engine deny = compile(
      rules(Action::Deny, {{"zeta", {yes}, {yes}}, {"alpha", {yes}, {yes}}, {"mid", {no}, {yes}}}));
  Engine::Result r = deny.evaluate(req.input());
  CHECK_FALSE(r.allowed);
  REQUIRE(r.policy >= 0);
  CHECK(deny.policyName(static_cast<size_t>(r.policy)) == "alpha");
  CHECK(deny.deniedDetails(r.policy) == "rbac_access_denied_matched_policy[alpha]");
}

TEST_CASE("actions: ALLOW, DENY, LOG, and empty policy sets", "[rbac]") {
  Request req;
  RbacMatch api = urlPath(prefix("/api/"));
  RbacMatch admin = urlPath(prefix("/admin"));

  Engine allow = compile(one(Action::Allow, admin));
  Engine::Result r = allow.evaluate(req.input());
  CHECK_FALSE(r.allowed);
  CHECK(allow.deniedDetails(r.policy) == "rbac_access_denied_matched_policy[none]");
  CHECK(compile(one(Action::Allow, api)).evaluate(req.input()).allowed);

  Engine deny = compile(one(Action::Deny, api));
  r = deny.evaluate(req.input());
  CHECK_FALSE(r.allowed);
  CHECK(deny.deniedDetails(r.policy) == "rbac_access_denied_matched_policy[p]");
  CHECK(compile(one(Action::Deny, admin)).evaluate(req.input()).allowed);

  // LOG never denies, matched or not.
  CHECK(compile(one(Action::Log, api)).evaluate(req.input()).allowed);
  CHECK(compile(one(Action::Log, admin)).evaluate(req.input()).allowed);

  // ALLOW with no policies denies everything; DENY with none allows everything.
  CHECK_FALSE(compile(rules(Action::Allow, {})).evaluate(req.input()).allowed);
  CHECK(compile(rules(Action::Deny, {})).evaluate(req.input()).allowed);
}

TEST_CASE("authenticated: the peer certificate's URI SANs, DNS SANs, subject", "[rbac]") {
  Request req;
  req.tls = mtlsPeer();
  auto who = [&](std::optional<StringMatch> name, const Request& r) {
    return allowed(one(Action::Allow, any(), authenticated(std::move(name))), r);
  };
  SECTION("each identity field is consulted, every SAN of a kind") {
    CHECK(who(exact("spiffe://cluster.local/ns/default/sa/web"), req));
    CHECK(who(exact("spiffe://cluster.local/ns/default/sa/web-canary"), req));  // second URI
    CHECK(who(exact("web.default.svc"), req));                                  // DNS SAN
    CHECK(who(exact("CN=web,O=acme"), req));                                    // subject
    CHECK_FALSE(who(prefix("spiffe://cluster.local/ns/prod/"), req));
    CHECK(who(std::nullopt, req));  // no principal_name: any verified peer
  }
  SECTION("URI SANs first: a DNS-only or subject-only certificate is matched by those") {
    Request dns_only;
    dns_only.tls = mtlsPeer();
    dns_only.tls->peer_uri_sans.clear();
    CHECK(who(exact("web.default.svc"), dns_only));
    CHECK_FALSE(who(prefix("spiffe://"), dns_only));
    Request subject_only;
    subject_only.tls = mtlsPeer();
    subject_only.tls->peer_uri_sans.clear();
    subject_only.tls->peer_dns_sans.clear();
    CHECK(who(exact("CN=web,O=acme"), subject_only));
    CHECK_FALSE(who(exact("web.default.svc"), subject_only));
  }
  SECTION("a plaintext peer, or a TLS peer without a verified certificate, never matches") {
    Request plain;
    CHECK_FALSE(who(std::nullopt, plain));
    CHECK_FALSE(who(regex(".*"), plain));
    Request anonymous;
    anonymous.tls = net::TlsInfo{};
    anonymous.tls->sni = "reviews";
    CHECK_FALSE(who(std::nullopt, anonymous));
    CHECK_FALSE(who(regex(".*"), anonymous));  // would match the empty subject
    // and so a DENY on "not authenticated" refuses it.
    CHECK_FALSE(allowed(one(Action::Deny, any(), notOf(authenticated())), anonymous));
    CHECK(allowed(one(Action::Deny, any(), notOf(authenticated())), req));
  }
}

TEST_CASE("denied details replace whitespace in the policy name", "[rbac]") {
  CHECK(responseDetail("ns[foo]-policy[bar]-rule[0]") ==
        "rbac_access_denied_matched_policy[ns[foo]-policy[bar]-rule[0]]");
  CHECK(responseDetail("a b\tc") == "rbac_access_denied_matched_policy[a_b_c]");
}

TEST_CASE("an invalid regex or an empty set is refused when compiling", "[rbac]") {
  CHECK_FALSE(Engine::create(one(Action::Allow, urlPath(regex("(")))).ok());
  CHECK_FALSE(Engine::create(one(Action::Allow, allOf({}))).ok());
  CHECK_FALSE(Engine::create(rules(Action::Allow, {{"p", {}, {any()}}})).ok());
}

// --- Authorizer: counters ---

std::shared_ptr<const Authorizer> authorizer(const config::RbacFilterConfig& c, stats::Store& store,
                                             const StatNames& names) {
  auto a = Authorizer::create(c, names, store, 1);
  INFO(a.status().ToString());
  REQUIRE(a.ok());
  return *a;
}

StatNames httpNames() {
  return {"http.ingress.rbac.",
          "http_rbac",
          {{"envoy_http_conn_manager_prefix", "ingress"}},
          "envoy_rbac_http_prefix"};
}

TEST_CASE("shadow rules are evaluated and counted, never enforced", "[rbac]") {
  stats::Store store;
  config::RbacFilterConfig c;
  c.shadow_rules = rules(Action::Allow, {});  // would deny everything
  auto a = authorizer(c, store, httpNames());
  Request req;
  for (int i = 0; i < 3; ++i) CHECK(a->check(0, req.input()).allowed);
  std::string text = stats::renderText(store);
  CHECK(text.find("http.ingress.rbac.shadow_denied: 3\n") != std::string::npos);
  CHECK(text.find("http.ingress.rbac.shadow_allowed: 0\n") != std::string::npos);
  // No rules: nothing enforced and nothing counted as allowed or denied.
  CHECK(text.find("http.ingress.rbac.allowed: 0\n") != std::string::npos);
  CHECK(text.find("http.ingress.rbac.denied: 0\n") != std::string::npos);

  // With both: the shadow verdict is counted, the enforced one decides.
  c.rules = one(Action::Deny, urlPath(prefix("/admin")));
  c.shadow_rules = one(Action::Deny, urlPath(prefix("/api")));
  auto b = authorizer(c, store, httpNames());
  Decision d = b->check(0, req.input());
  CHECK(d.allowed);
  text = stats::renderText(store);
  CHECK(text.find("http.ingress.rbac.shadow_denied: 4\n") != std::string::npos);
  CHECK(text.find("http.ingress.rbac.allowed: 1\n") != std::string::npos);
}

TEST_CASE("counters use Envoy's names, with rules, shadow and per-policy prefixes", "[rbac]") {
  stats::Store store;
  config::RbacFilterConfig c;
  c.rules = one(Action::Deny, urlPath(prefix("/api")));
  c.shadow_rules = one(Action::Allow, urlPath(prefix("/api")));
  c.rules_stat_prefix = "istio_deny_";
  c.shadow_rules_stat_prefix = "istio_dry_run_allow_";
  c.track_per_rule_stats = true;
  auto a = authorizer(c, store, httpNames());
  Request req;
  Decision d = a->check(0, req.input());
  CHECK_FALSE(d.allowed);
  CHECK(d.details == "rbac_access_denied_matched_policy[p]");
  std::string text = stats::renderText(store);
  INFO(text);
  CHECK(text.find("http.ingress.rbac.istio_deny_.denied: 1\n") != std::string::npos);
  CHECK(text.find("http.ingress.rbac.istio_dry_run_allow_.shadow_allowed: 1\n") !=
        std::string::npos);
  CHECK(text.find("http.ingress.rbac.istio_deny_.policy.p.denied: 1\n") != std::string::npos);
  CHECK(text.find("http.ingress.rbac.istio_dry_run_allow_.policy.p.shadow_allowed: 1\n") !=
        std::string::npos);
  std::string prom = stats::renderPrometheus(store);
  INFO(prom);
  CHECK(prom.find("envoy_http_rbac_denied{envoy_http_conn_manager_prefix=\"ingress\","
                  "envoy_rbac_http_prefix=\"istio_deny_\"} 1\n") != std::string::npos);
  CHECK(prom.find("envoy_http_rbac_shadow_allowed{envoy_http_conn_manager_prefix=\"ingress\","
                  "envoy_rbac_http_prefix=\"istio_dry_run_allow_\"} 1\n") != std::string::npos);
  CHECK(prom.find("envoy_http_rbac_policy_denied{envoy_http_conn_manager_prefix=\"ingress\","
                  "envoy_rbac_http_prefix=\"istio_deny_\",envoy_rbac_policy_name=\"p\"} 1\n") !=
        std::string::npos);

  // The network filter's: <stat_prefix>.rbac., tagged envoy_rbac_prefix.
  stats::Store net_store;
  config::RbacFilterConfig n;
  n.rules = one(Action::Allow, any());
  auto b = authorizer(n, net_store, {"tcp.rbac.", "rbac", {{"envoy_rbac_prefix", "tcp"}}, ""});
  Request conn;
  conn.http = false;
  CHECK(b->check(0, conn.input()).allowed);
  CHECK(stats::renderText(net_store).find("tcp.rbac.allowed: 1\n") != std::string::npos);
  CHECK(stats::renderPrometheus(net_store).find(
            "envoy_rbac_allowed{envoy_rbac_prefix=\"tcp\"} 1\n") != std::string::npos);
}

}  // namespace
}  // namespace remora::filters::rbac
