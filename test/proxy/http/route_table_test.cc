// The compiled route table: Envoy's virtual host precedence, route matching, weighted picks,
// rewrites, redirect locations and header mutation order.
#include "proxy/http/route_table.h"

#include <catch2/catch.hpp>

namespace remora::http {
namespace {

using config::HeaderMatch;
using config::HeaderToAdd;
using config::RouteConfigEntry;
using config::RouteMatchConfig;
using config::StringMatch;
using PathKind = config::RouteMatchConfig::PathKind;
using Action = config::HeaderToAdd::Action;

RequestHeaders request(std::string authority, std::string path,
                       std::vector<std::pair<std::string, std::string>> headers = {}) {
  RequestHeaders r;
  r.method = "GET";
  r.scheme = "http";
  r.authority = std::move(authority);
  r.path = std::move(path);
  for (auto& [n, v] : headers) r.headers.add(n, v);
  return r;
}

RouteConfigEntry routeTo(std::string cluster, PathKind kind = PathKind::Prefix,
                         std::string path = "/") {
  RouteConfigEntry e;
  e.name = cluster;
  e.match.path_kind = kind;
  e.match.path = std::move(path);
  e.route.cluster = std::move(cluster);
  return e;
}

config::VirtualHostConfig vhost(std::string name, std::vector<std::string> domains,
                                std::vector<RouteConfigEntry> routes = {}) {
  config::VirtualHostConfig v;
  v.name = std::move(name);
  v.domains = std::move(domains);
  v.routes = routes.empty() ? std::vector<RouteConfigEntry>{routeTo(v.name)} : std::move(routes);
  return v;
}

std::shared_ptr<const RouteTable> build(const config::RouteTableConfig& c) {
  auto t = RouteTable::create(c);
  INFO(t.status().ToString());
  REQUIRE(t.ok());
  return *t;
}

// One virtual host for everything, with these routes.
std::shared_ptr<const RouteTable> table(std::vector<RouteConfigEntry> routes) {
  config::RouteTableConfig c;
  c.virtual_hosts.push_back(vhost("all", {"*"}, std::move(routes)));
  return build(c);
}

std::string vhostOf(const RouteTable& t, std::string_view authority) {
  const VirtualHost* v = t.virtualHost(authority);
  return v == nullptr ? "<none>" : v->config().name;
}

std::string routed(const RouteTable& t, const RequestHeaders& r) {
  const Route* route = t.route(r);
  return route == nullptr ? "<none>" : route->config().name;
}

TEST_CASE("virtual hosts: exact, longest suffix, longest prefix, then '*'", "[route_table]") {
  config::RouteTableConfig c;
  c.virtual_hosts = {vhost("exact", {"foo.com"}),
                     vhost("suffix", {"*.foo.com"}),
                     vhost("longer-suffix", {"*-bar.foo.com"}),
                     vhost("prefix", {"foo.*"}),
                     vhost("longer-prefix", {"foo.co*"}),
                     vhost("with-port", {"foo.com:8080"}),
                     vhost("default", {"*"})};
  auto t = build(c);
  CHECK(vhostOf(*t, "foo.com") == "exact");
  CHECK(vhostOf(*t, "FOO.Com") == "exact");  // case-insensitive
  CHECK(vhostOf(*t, "a.foo.com") == "suffix");
  CHECK(vhostOf(*t, "baz-bar.foo.com") == "longer-suffix");
  // The wildcard never matches an empty part: "-bar.foo.com" falls to "*.foo.com" and
  // ".foo.com" to the default.
  CHECK(vhostOf(*t, "-bar.foo.com") == "suffix");
  CHECK(vhostOf(*t, ".foo.com") == "default");
  CHECK(vhostOf(*t, "foo.org") == "prefix");
  CHECK(vhostOf(*t, "foo.co.uk") == "longer-prefix");
  // The port is part of the authority by default (ignore_port_in_host_matching false).
  CHECK(vhostOf(*t, "foo.com:8080") == "with-port");
  CHECK(vhostOf(*t, "foo.com:9090") == "longer-prefix");
  CHECK(vhostOf(*t, "elsewhere") == "default");

  c.ignore_port_in_host_matching = true;
  c.virtual_hosts.push_back(vhost("v6", {"[::1]"}));
  auto ignoring = build(c);
  CHECK(vhostOf(*ignoring, "foo.com:9090") == "exact");
  CHECK(vhostOf(*ignoring, "[::1]:80") == "v6");
  CHECK(vhostOf(*ignoring, "[::1]") == "v6");

  config::RouteTableConfig no_default;
  no_default.virtual_hosts = {vhost("only", {"a.example"})};
  auto t2 = build(no_default);
  CHECK(vhostOf(*t2, "b.example") == "<none>");
  CHECK(routed(*t2, request("b.example", "/")) == "<none>");
}

TEST_CASE("domains: one '*' and no duplicates, as Envoy requires", "[route_table]") {
  config::RouteTableConfig c;
  c.virtual_hosts = {vhost("a", {"*"}), vhost("b", {"*"})};
  auto t = RouteTable::create(c);
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().message() ==
        "virtual_hosts[1] 'b': only a single wildcard domain '*' is permitted");
  c.virtual_hosts = {vhost("a", {"*.x.com"}), vhost("b", {"*.X.com"})};
  t = RouteTable::create(c);
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().message() == "virtual_hosts[1] 'b': duplicate domain '*.x.com'");
}

TEST_CASE("path matching: prefix, exact path, regex (full match), path-separated prefix",
          "[route_table]") {
  auto insensitive = routeTo("insensitive", PathKind::Prefix, "/Upper");
  insensitive.match.case_sensitive = false;
  auto exact_ci = routeTo("exact-ci", PathKind::Path, "/Exact");
  exact_ci.match.case_sensitive = false;
  auto t = table({routeTo("exact", PathKind::Path, "/exact"), exact_ci,
                  routeTo("regex", PathKind::Regex, "/items/[0-9]+"),
                  routeTo("sep", PathKind::PathSeparatedPrefix, "/api"), insensitive,
                  routeTo("prefix", PathKind::Prefix, "/pre"), routeTo("root")});
  CHECK(routed(*t, request("h", "/exact")) == "exact");
  CHECK(routed(*t, request("h", "/exact?x=1")) == "exact");  // the query is not matched
  CHECK(routed(*t, request("h", "/exact#frag")) == "exact");
  CHECK(routed(*t, request("h", "/EXACT")) == "exact-ci");
  CHECK(routed(*t, request("h", "/exact/")) == "root");
  CHECK(routed(*t, request("h", "/items/42")) == "regex");
  CHECK(routed(*t, request("h", "/items/42?page=2")) == "regex");
  // Full match: a matching substring is not enough.
  CHECK(routed(*t, request("h", "/items/42/reviews")) == "root");
  CHECK(routed(*t, request("h", "/v1/items/42")) == "root");
  CHECK(routed(*t, request("h", "/api")) == "sep");
  CHECK(routed(*t, request("h", "/api/users")) == "sep");
  CHECK(routed(*t, request("h", "/api?x")) == "sep");
  CHECK(routed(*t, request("h", "/apix")) == "root");
  CHECK(routed(*t, request("h", "/upper/case")) == "insensitive");
  CHECK(routed(*t, request("h", "/UPPERCASE")) == "insensitive");
  CHECK(routed(*t, request("h", "/prefixed")) == "prefix");
  CHECK(routed(*t, request("h", "/Prefixed")) == "root");  // case-sensitive by default
}

HeaderMatch header(std::string name, HeaderMatch::Kind kind) {
  HeaderMatch h;
  h.name = std::move(name);
  h.kind = kind;
  return h;
}

HeaderMatch stringHeader(std::string name, StringMatch::Kind kind, std::string value,
                         bool ignore_case = false) {
  HeaderMatch h = header(std::move(name), HeaderMatch::Kind::String);
  h.string_match = {kind, std::move(value), ignore_case};
  return h;
}

RouteConfigEntry withHeaders(std::string name, std::vector<HeaderMatch> headers) {
  auto r = routeTo(std::move(name));
  r.match.headers = std::move(headers);
  return r;
}

TEST_CASE("header matchers: all must match - invert, presence, range, missing-as-empty",
          "[route_table]") {
  auto absent = header("x-debug", HeaderMatch::Kind::Present);
  absent.present = false;
  auto not_v1 = stringHeader("x-version", StringMatch::Kind::Exact, "v1");
  not_v1.invert = true;
  auto range = header("x-tier", HeaderMatch::Kind::Range);
  range.range_start = -10;
  range.range_end = 0;
  auto empty_ok = stringHeader("x-empty", StringMatch::Kind::Regex, "^$");
  empty_ok.treat_missing_as_empty = true;
  auto t = table({
      withHeaders("both", {stringHeader("x-a", StringMatch::Kind::Exact, "1"),
                           stringHeader("x-b", StringMatch::Kind::Suffix, "end")}),
      withHeaders("joined", {stringHeader("x-multi", StringMatch::Kind::Exact, "a,b")}),
      withHeaders("method", {stringHeader(":method", StringMatch::Kind::Exact, "POST")}),
      withHeaders("ci", {stringHeader("x-ci", StringMatch::Kind::Contains, "MID", true)}),
      withHeaders("regex", {stringHeader("x-re", StringMatch::Kind::Regex, "[0-9]{3}")}),
      withHeaders("range", {range}),
      withHeaders("not-v1", {not_v1}),
      withHeaders("no-debug", {absent, header("x-absent-check", HeaderMatch::Kind::Present)}),
      withHeaders("empty", {empty_ok}),
      routeTo("fallback"),
  });
  CHECK(routed(*t, request("h", "/", {{"x-a", "1"}, {"x-b", "the end"}})) == "both");
  CHECK(routed(*t, request("h", "/", {{"x-a", "1"}})) == "empty");  // x-b missing
  // Several values of one header are joined with ',' (no space), as Envoy does.
  CHECK(routed(*t, request("h", "/", {{"x-multi", "a"}, {"x-multi", "b"}})) == "joined");
  auto post = request("h", "/");
  post.method = "POST";
  CHECK(routed(*t, post) == "method");
  CHECK(routed(*t, request("h", "/", {{"x-ci", "somemidthing"}})) == "ci");
  CHECK(routed(*t, request("h", "/", {{"x-re", "123"}})) == "regex");
  CHECK(routed(*t, request("h", "/", {{"x-re", "1234"}})) == "empty");  // full match only
  CHECK(routed(*t, request("h", "/", {{"x-tier", "-1"}})) == "range");
  CHECK(routed(*t, request("h", "/", {{"x-tier", " +0 "}})) == "empty");  // end is exclusive
  CHECK(routed(*t, request("h", "/", {{"x-tier", "-1x"}})) == "empty");
  CHECK(routed(*t, request("h", "/", {{"x-version", "v2"}})) == "not-v1");
  // A missing header fails an inverted string matcher too.
  CHECK(routed(*t, request("h", "/", {{"x-version", "v1"}, {"x-absent-check", "1"}})) ==
        "no-debug");
  CHECK(routed(*t, request("h", "/", {{"x-debug", "1"}, {"x-absent-check", "1"}})) == "empty");
  CHECK(routed(*t, request("h", "/", {{"x-empty", "nonempty"}})) == "fallback");

  // Present matchers and invert on a missing header: (present == false) XOR invert.
  auto inverted_presence = header("x-p", HeaderMatch::Kind::Present);
  inverted_presence.invert = true;
  auto t2 = table({withHeaders("not-present", {inverted_presence}), routeTo("other")});
  CHECK(routed(*t2, request("h", "/")) == "not-present");
  CHECK(routed(*t2, request("h", "/", {{"x-p", ""}})) == "other");
}

TEST_CASE("query parameters: first value, not decoded - presence - string matchers",
          "[route_table]") {
  auto r = routeTo("q");
  config::QueryParamMatch user;
  user.name = "user";
  user.string_match = {StringMatch::Kind::Exact, "jason", false};
  config::QueryParamMatch debug;
  debug.name = "debug";
  debug.present_only = true;
  r.match.query_parameters = {user, debug};
  auto enc = routeTo("encoded");
  config::QueryParamMatch name;
  name.name = "name";
  name.string_match = {StringMatch::Kind::Exact, "a%20b", false};
  enc.match.query_parameters = {name};
  auto t = table({r, enc, routeTo("fallback")});
  CHECK(routed(*t, request("h", "/?user=jason&debug")) == "q");
  CHECK(routed(*t, request("h", "/p?debug=&user=jason")) == "q");
  CHECK(routed(*t, request("h", "/?user=jason&user=x&debug=1")) == "q");
  CHECK(routed(*t, request("h", "/?user=x&user=jason&debug=1")) == "fallback");  // first value
  CHECK(routed(*t, request("h", "/?user=jason")) == "fallback");
  CHECK(routed(*t, request("h", "/?user=Jason&debug")) == "fallback");
  CHECK(routed(*t, request("h", "/?name=a%20b")) == "encoded");  // compared undecoded
  CHECK(routed(*t, request("h", "/?name=a b")) == "fallback");
}

TEST_CASE("grpc matching: application/grpc or application/grpc+<codec>", "[route_table]") {
  auto g = routeTo("grpc");
  g.match.grpc_only = true;
  auto t = table({g, routeTo("other")});
  CHECK(routed(*t, request("h", "/svc/M", {{"content-type", "application/grpc"}})) == "grpc");
  CHECK(routed(*t, request("h", "/svc/M", {{"content-type", "application/grpc+proto"}})) == "grpc");
  CHECK(routed(*t, request("h", "/svc/M", {{"content-type", "application/grpc-web"}})) == "other");
  CHECK(routed(*t, request("h", "/svc/M")) == "other");
}

TEST_CASE("weighted clusters: random % total weight, walking the list", "[route_table]") {
  auto r = routeTo("w");
  r.route.cluster.clear();
  r.route.weighted_clusters = {{"v1", 90, {}}, {"zero", 0, {}}, {"v2", 10, {}}};
  auto t = table({r});
  const Route* route = t->route(request("h", "/"));
  REQUIRE(route != nullptr);
  CHECK(route->pickCluster(0)->name == "v1");
  CHECK(route->pickCluster(89)->name == "v1");
  CHECK(route->pickCluster(90)->name == "v2");
  CHECK(route->pickCluster(99)->name == "v2");
  CHECK(route->pickCluster(100)->name == "v1");
  CHECK(route->pickCluster(190)->name == "v2");
  std::map<std::string, int> counts;
  for (uint64_t i = 0; i < 1000; ++i) ++counts[route->pickCluster(i)->name];
  CHECK(counts == std::map<std::string, int>{{"v1", 900}, {"v2", 100}});
  CHECK(route->clusterName(request("h", "/"), 95) == "v2");

  auto plain = table({routeTo("c")});
  CHECK(plain->route(request("h", "/"))->pickCluster(5) == nullptr);
  CHECK(plain->route(request("h", "/"))->clusterName(request("h", "/"), 5) == "c");

  auto by_header = routeTo("hdr");
  by_header.route.cluster.clear();
  by_header.route.cluster_header = "x-cluster";
  auto th = table({by_header});
  auto req = request("h", "/", {{"x-cluster", "chosen"}, {"x-cluster", "second"}});
  CHECK(th->route(req)->clusterName(req, 0) == "chosen");
  CHECK(th->route(request("h", "/"))->clusterName(request("h", "/"), 0).empty());
}

TEST_CASE("path rewrites: prefix (query kept) and regex (on the path only)", "[route_table]") {
  auto pre = routeTo("pre", PathKind::Prefix, "/old/");
  pre.route.prefix_rewrite = "/new/";
  auto ci = routeTo("ci", PathKind::Prefix, "/CI");
  ci.match.case_sensitive = false;
  ci.route.prefix_rewrite = "/ci";
  auto exact = routeTo("exact", PathKind::Path, "/exact");
  exact.route.prefix_rewrite = "/other";
  auto re_route = routeTo("re-prefix", PathKind::Regex, "/re/.*");
  re_route.route.prefix_rewrite = "/whole";
  auto regex = routeTo("regex", PathKind::Prefix, "/api/");
  regex.route.regex_rewrite = config::RegexRewrite{"^/api/(v[0-9]+)/(.*)$", "/\\2/\\1"};
  auto empty = routeTo("empty", PathKind::Prefix, "/gone");
  empty.route.regex_rewrite = config::RegexRewrite{".*", ""};
  auto t = table({pre, ci, exact, re_route, regex, empty, routeTo("none")});
  auto rewrite = [&](const std::string& path) {
    auto r = request("h", path);
    const Route* route = t->route(r);
    REQUIRE(route != nullptr);
    return route->rewritePath(r);
  };
  CHECK(rewrite("/old/a/b?x=1") == "/new/a/b?x=1");
  CHECK(rewrite("/ci/Thing") == "/ci/Thing");
  CHECK(rewrite("/cI/Thing?q") == "/ci/Thing?q");
  CHECK(rewrite("/exact?q=1") == "/other?q=1");
  CHECK(rewrite("/re/x/y?q") == "/whole?q");  // a regex route's matched part is the whole path
  CHECK(rewrite("/api/v2/users?id=7") == "/users/v2?id=7");
  CHECK(rewrite("/api/none") == "/api/none");  // no match: the substitution changes nothing
  CHECK(rewrite("/gone/x") == "");             // empty result: Envoy leaves the path alone
  CHECK(rewrite("/plain") == "");
}

TEST_CASE("host rewrites and finalizeRequest in Envoy's order", "[route_table]") {
  auto lit = routeTo("lit", PathKind::Prefix, "/lit/");
  lit.route.host_rewrite_literal = "upstream.internal";
  lit.route.prefix_rewrite = "/";
  lit.headers.request_add = {{"x-route", "r", Action::AppendIfExistsOrAdd, false}};
  auto hdr = routeTo("hdr", PathKind::Prefix, "/hdr");
  hdr.route.host_rewrite_header = "x-host";
  auto re = routeTo("re", PathKind::Prefix, "/re");
  re.route.host_rewrite_path_regex = config::RegexRewrite{"^/re/([^/]+).*$", "\\1.svc"};
  auto t = table({lit, hdr, re, routeTo("none")});

  auto r = request("front.example", "/lit/a?b=c");
  const Route* route = t->route(r);
  REQUIRE(route != nullptr);
  route->finalizeRequest(r, nullptr, true);
  CHECK(r.authority == "upstream.internal");
  CHECK(r.path == "/a?b=c");
  CHECK(*r.headers.get("x-envoy-original-path") == "/lit/a?b=c");
  CHECK(*r.headers.get("x-route") == "r");

  auto h = request("front", "/hdr", {{"x-host", "from-header"}});
  CHECK(t->route(h)->rewriteHost(h) == std::optional<std::string>("from-header"));
  auto h_empty = request("front", "/hdr", {{"x-host", ""}});
  CHECK_FALSE(t->route(h_empty)->rewriteHost(h_empty));
  auto p = request("front", "/re/reviews/1?x");
  CHECK(t->route(p)->rewriteHost(p) == std::optional<std::string>("reviews.svc"));
  auto n = request("front", "/x");
  CHECK_FALSE(t->route(n)->rewriteHost(n));
  t->route(n)->finalizeRequest(n, nullptr, true);
  CHECK(n.path == "/x");
  CHECK_FALSE(n.headers.has("x-envoy-original-path"));
}

std::string location(const config::RedirectConfig& rd, RequestHeaders r, bool https = false,
                     PathKind kind = PathKind::Prefix, std::string prefix = "/") {
  RouteConfigEntry e;
  e.name = "redirect";
  e.kind = RouteConfigEntry::Kind::Redirect;
  e.match.path_kind = kind;
  e.match.path = std::move(prefix);
  e.redirect = rd;
  auto t = table({e});
  const Route* route = t->route(r);
  REQUIRE(route != nullptr);
  return route->redirectLocation(r, https);
}

TEST_CASE("redirect locations follow Envoy's newUri", "[route_table]") {
  config::RedirectConfig https;
  https.https_redirect = true;
  // Scheme changes from x-forwarded-proto's http: its default port :80 goes, others stay.
  auto r = request("example.com:80", "/a?b=c", {{"x-forwarded-proto", "http"}});
  CHECK(location(https, r) == "https://example.com/a?b=c");
  CHECK(location(https, request("example.com:8080", "/a")) == "https://example.com:8080/a");
  // Without x-forwarded-proto the connection's scheme stands in for it.
  CHECK(location(https, request("example.com:443", "/a"), true) == "https://example.com:443/a");
  CHECK(location(https, request("[::1]:80", "/"), false) == "https://[::1]/");

  config::RedirectConfig port = https;
  port.port_redirect = 8443;
  CHECK(location(port, request("example.com:8080", "/a")) == "https://example.com:8443/a");

  config::RedirectConfig host;
  host.host_redirect = "new.example";
  host.path_redirect = "/landing";
  auto plain = request("old.example", "/x?q=1");
  CHECK(location(host, plain) == "http://new.example/landing?q=1");
  plain.scheme.clear();  // no :scheme: the connection's
  CHECK(location(host, plain, true) == "https://new.example/landing?q=1");

  config::RedirectConfig with_query = host;
  with_query.path_redirect = "/landing?from=old";
  with_query.strip_query = true;  // never strips path_redirect's own query
  CHECK(location(with_query, request("old.example", "/x?q=1")) ==
        "http://new.example/landing?from=old");

  config::RedirectConfig strip = host;
  strip.strip_query = true;
  CHECK(location(strip, request("old.example", "/x?q=1")) == "http://new.example/landing");

  config::RedirectConfig relative;
  relative.path_redirect = "landing";
  CHECK(location(relative, request("h", "/x")) == "http://h/landing");

  config::RedirectConfig scheme;
  scheme.scheme_redirect = "ftp";
  scheme.prefix_rewrite = "/new/";
  CHECK(location(scheme, request("h:80", "/old/file?x"), false, PathKind::Prefix, "/old/") ==
        "ftp://h/new/file?x");

  config::RedirectConfig regex;
  regex.regex_rewrite = config::RegexRewrite{"^/v1/(.*)$", "/v2/\\1"};
  regex.strip_query = true;
  CHECK(location(regex, request("h", "/v1/users?x=1")) == "http://h/v2/users");
}

TEST_CASE("header mutations: actions, and route -> vhost -> global with the last winning",
          "[route_table]") {
  config::RouteTableConfig c;
  auto r = routeTo("r");
  r.headers.request_add = {{"x-who", "route", Action::OverwriteIfExistsOrAdd, false},
                           {"x-append", "route", Action::AppendIfExistsOrAdd, false}};
  r.headers.response_add = {{"x-who", "route", Action::OverwriteIfExistsOrAdd, false}};
  auto v = vhost("v", {"*"}, {r});
  v.headers.request_add = {{"x-who", "vhost", Action::OverwriteIfExistsOrAdd, false},
                           {"x-append", "vhost", Action::AppendIfExistsOrAdd, false}};
  v.headers.response_add = {{"x-who", "vhost", Action::OverwriteIfExistsOrAdd, false}};
  c.virtual_hosts = {v};
  c.headers.request_add = {{"x-who", "global", Action::OverwriteIfExistsOrAdd, false}};
  c.headers.response_add = {{"x-who", "global", Action::OverwriteIfExistsOrAdd, false}};
  c.headers.response_remove = {"server"};
  auto t = build(c);
  auto req = request("h", "/");
  const Route* route = t->route(req);
  route->applyRequestHeaders(req);
  CHECK(req.headers.getJoined("x-who") == "global");
  CHECK(req.headers.getJoined("x-append") == "route, vhost");
  ResponseHeaders resp;
  resp.headers.add("server", "upstream");
  route->applyResponseHeaders(resp);
  CHECK(resp.headers.getJoined("x-who") == "global");
  CHECK_FALSE(resp.headers.has("server"));

  c.most_specific_header_mutations_wins = true;
  auto t2 = build(c);
  auto req2 = request("h", "/");
  t2->route(req2)->applyRequestHeaders(req2);
  CHECK(req2.headers.getJoined("x-who") == "route");
  CHECK(req2.headers.getJoined("x-append") == "vhost, route");

  // The picked weighted cluster's mutations come first: the route's overwrite wins over them.
  config::RouteWeightedCluster picked{"v1", 1, {}};
  picked.headers.request_add = {{"x-who", "cluster", Action::OverwriteIfExistsOrAdd, false},
                                {"x-cluster", "v1", Action::AppendIfExistsOrAdd, false}};
  auto req3 = request("h", "/");
  t2->route(req3)->applyRequestHeaders(req3, &picked);
  CHECK(req3.headers.getJoined("x-who") == "route");
  CHECK(req3.headers.getJoined("x-cluster") == "v1");
}

TEST_CASE("header mutation actions within one list, as Envoy's HeaderParser", "[route_table]") {
  auto r = routeTo("r");
  r.headers.request_remove = {"x-remove", "x-readd"};
  r.headers.request_add = {
      {"x-readd", "new", Action::AppendIfExistsOrAdd, false},
      {"x-absent", "1", Action::AddIfAbsent, false},
      {"x-absent", "2", Action::AddIfAbsent, false},  // decided before either is added
      {"x-present", "no", Action::AddIfAbsent, false},
      {"x-over", "o", Action::OverwriteIfExists, false},
      {"x-not-there", "o", Action::OverwriteIfExists, false},
      {"x-set", "s", Action::OverwriteIfExistsOrAdd, false},
      {"x-empty", "", Action::AppendIfExistsOrAdd, false},  // dropped
      {"x-kept", "", Action::AppendIfExistsOrAdd, true},
      {"x-app", "second", Action::AppendIfExistsOrAdd, false},
  };
  auto t = table({r});
  auto req = request("h", "/",
                     {{"x-remove", "1"},
                      {"x-readd", "old"},
                      {"x-present", "yes"},
                      {"x-over", "a"},
                      {"x-over", "b"},
                      {"x-app", "first"}});
  t->route(req)->applyRequestHeaders(req);
  CHECK_FALSE(req.headers.has("x-remove"));
  CHECK(req.headers.getJoined("x-readd") == "new");
  CHECK(req.headers.getJoined("x-absent") == "1, 2");
  CHECK(req.headers.getJoined("x-present") == "yes");
  CHECK(req.headers.getJoined("x-over") == "o");
  CHECK(req.headers.count("x-over") == 1);
  CHECK_FALSE(req.headers.has("x-not-there"));
  CHECK(req.headers.getJoined("x-set") == "s");
  CHECK_FALSE(req.headers.has("x-empty"));
  CHECK(req.headers.has("x-kept"));
  CHECK(req.headers.getJoined("x-app") == "first, second");
}

TEST_CASE("route tables refuse invalid regexes", "[route_table]") {
  auto t = RouteTable::create([] {
    config::RouteTableConfig c;
    c.virtual_hosts = {vhost("v", {"*"}, {routeTo("bad", PathKind::Regex, "(")})};
    return c;
  }());
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().message() ==
        "virtual_hosts[0] 'v'.routes[0].match.safe_regex: '(' is not a valid RE2 regular "
        "expression: missing ): (");
}

}  // namespace
}  // namespace remora::http
