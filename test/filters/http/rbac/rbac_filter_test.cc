// The HTTP RBAC filter against fake stream callbacks: the local reply on a denial, filters in
// a chain (a DENY filter before an ALLOW filter), the remote address remote_ip sees, and peer
// identities from a fabricated TLS handshake.
#include "filters/http/rbac/rbac_filter.h"

#include <catch2/catch.hpp>

#include "proxy/server/worker.h"
#include "proxy/stats/exposition.h"

namespace remora::filters {
namespace {

using config::RbacMatch;
using config::RbacRules;
using config::StringMatch;
using Kind = RbacMatch::Kind;

class FakeCallbacks : public http::FilterCallbacks {
 public:
  explicit FakeCallbacks(server::Worker& worker) : worker_(worker) {}
  server::Worker& worker() override { return worker_; }
  http::StreamInfo& streamInfo() override { return info; }
  const http::Route* route() override { return nullptr; }
  void clearRouteCache() override {}
  void continueDecoding() override {}
  void readDisable(bool) override {}
  void encodeHeaders(http::ResponseHeaders&&, bool) override {}
  void encodeData(std::string_view, bool) override {}
  void encodeTrailers(http::HeaderMap&&) override {}
  bool downstreamWritable() const override { return true; }
  void sendLocalReply(uint32_t status, std::string_view body,
                      std::optional<http::ResponseFlag> flag, std::string_view details) override {
    reply_status = status;
    reply_body = std::string(body);
    if (flag) info.setFlag(*flag);
    info.response_code_details = std::string(details);
  }
  void resetStream(http::ResponseFlag, std::string_view) override {}
  http::RequestHeaders& requestHeaders() override { return request; }
  bool downstreamSecure() const override { return info.downstream_tls != nullptr; }

  http::StreamInfo info;
  http::RequestHeaders request;
  uint32_t reply_status = 0;
  std::string reply_body;

 private:
  server::Worker& worker_;
};

RbacMatch path(std::string prefix) {
  RbacMatch m;
  m.kind = Kind::UrlPath;
  m.string_match = {StringMatch::Kind::Prefix, std::move(prefix), false};
  return m;
}
RbacMatch cidr(Kind kind, const std::string& c) {
  RbacMatch m;
  m.kind = kind;
  m.cidr = *net::Cidr::parse(c);
  return m;
}

config::HttpFilterConfig filterConfig(RbacRules rules, std::string rules_stat_prefix = "") {
  config::HttpFilterConfig f;
  f.name = "envoy.filters.http.rbac";
  f.rbac.emplace();
  f.rbac->rules = std::move(rules);
  f.rbac->rules_stat_prefix = std::move(rules_stat_prefix);
  return f;
}

struct Chain {
  stats::Store store;
  server::Worker worker{0};
  config::HttpConnectionManagerConfig hcm;
  std::vector<http::HttpFilterFactorySharedPtr> factories;

  Chain() {
    hcm.stat_prefix = "ingress";
    worker.start();  // idle: the filters only ask for its index, but its loop must close
  }
  ~Chain() {
    worker.loop().post([this] { worker.shutdown(); });
    CHECK(worker.join());
  }
  void add(const config::HttpFilterConfig& f) {
    HttpFilterContext ctx{store, 1, hcm};
    auto factory = createRbacFilterFactory(f, ctx);
    INFO(factory.status().ToString());
    REQUIRE(factory.ok());
    factories.push_back(*factory);
  }
  // Runs decodeHeaders through the filters in order, as the connection manager does; returns
  // how many said Continue.
  size_t run(FakeCallbacks& cb) {
    size_t passed = 0;
    for (const auto& factory : factories) {
      auto filter = factory->create(worker);
      filter->setCallbacks(&cb);
      if (filter->decodeHeaders(cb.request, true) == http::FilterStatus::Stop) break;
      ++passed;
    }
    return passed;
  }
  FakeCallbacks request(const std::string& p) {
    FakeCallbacks cb(worker);
    cb.request.method = "GET";
    cb.request.path = p;
    cb.info.downstream_local = *net::Address::parse("10.0.0.5:9080");
    cb.info.downstream_remote = *net::Address::parse("10.0.0.9:40000");
    return cb;
  }
  std::string stats() { return stats::renderText(store); }
};

TEST_CASE("a denied request gets Envoy's 403 with the RBAC flag and the policy in details",
          "[rbac][http]") {
  Chain chain;
  chain.add(filterConfig({RbacRules::Action::Allow, {{"public", {path("/public")}, {{}}}}}));
  FakeCallbacks ok = chain.request("/public/index.html");
  CHECK(chain.run(ok) == 1);
  CHECK(ok.reply_status == 0);

  FakeCallbacks denied = chain.request("/private");
  CHECK(chain.run(denied) == 0);
  CHECK(denied.reply_status == 403);
  CHECK(denied.reply_body == "RBAC: access denied");
  CHECK(denied.info.hasFlag(http::ResponseFlag::RbacDenied));
  CHECK(http::responseFlagsString(denied.info.flags) == "RBAC");
  CHECK(denied.info.response_code_details == "rbac_access_denied_matched_policy[none]");
  std::string s = chain.stats();
  CHECK(s.find("http.ingress.rbac.allowed: 1\n") != std::string::npos);
  CHECK(s.find("http.ingress.rbac.denied: 1\n") != std::string::npos);
}

TEST_CASE("a DENY filter before an ALLOW filter: the DENY decides first", "[rbac][http]") {
  // Istio's layout: one filter per action, DENY first, each with its own stat prefix.
  Chain chain;
  chain.add(filterConfig({RbacRules::Action::Deny, {{"no-admin", {path("/api/admin")}, {{}}}}},
                         "istio_deny_"));
  chain.add(
      filterConfig({RbacRules::Action::Allow, {{"api", {path("/api")}, {{}}}}}, "istio_allow_"));

  FakeCallbacks both = chain.request("/api/admin/users");  // matches the DENY and the ALLOW
  CHECK(chain.run(both) == 0);
  CHECK(both.reply_status == 403);
  CHECK(both.info.response_code_details == "rbac_access_denied_matched_policy[no-admin]");

  FakeCallbacks allowed = chain.request("/api/items");
  CHECK(chain.run(allowed) == 2);
  CHECK(allowed.reply_status == 0);

  FakeCallbacks neither = chain.request("/metrics");  // passes the DENY, not the ALLOW
  CHECK(chain.run(neither) == 1);
  CHECK(neither.info.response_code_details == "rbac_access_denied_matched_policy[none]");

  std::string s = chain.stats();
  INFO(s);
  CHECK(s.find("http.ingress.rbac.istio_deny_.denied: 1\n") != std::string::npos);
  CHECK(s.find("http.ingress.rbac.istio_deny_.allowed: 2\n") != std::string::npos);
  CHECK(s.find("http.ingress.rbac.istio_allow_.allowed: 1\n") != std::string::npos);
  CHECK(s.find("http.ingress.rbac.istio_allow_.denied: 1\n") != std::string::npos);
}

TEST_CASE("remote_ip: the address Envoy's connection manager derives from x-forwarded-for",
          "[rbac][http]") {
  net::Address peer = *net::Address::parse("10.0.0.9:40000");
  http::RequestHeaders r;
  auto remote = [&](RemoteAddressRule rule) { return remoteAddress(rule, r, peer).ip(); };
  RemoteAddressRule internal;             // use_remote_address false: trust the last XFF entry
  CHECK(remote(internal) == "10.0.0.9");  // no header: the peer
  r.headers.add("x-forwarded-for", "198.51.100.1, 192.0.2.7");
  CHECK(remote(internal) == "192.0.2.7");
  internal.xff_num_trusted_hops = 1;
  CHECK(remote(internal) == "198.51.100.1");
  internal.xff_num_trusted_hops = 2;
  CHECK(remote(internal) == "10.0.0.9");  // fewer entries than hops
  // Repeated headers count as one list.
  r.headers.add("x-forwarded-for", "203.0.113.3");
  internal.xff_num_trusted_hops = 1;
  CHECK(remote(internal) == "192.0.2.7");

  // use_remote_address: the peer, unless trusted hops set XFF (which the manager has extended
  // with the peer by the time filters run).
  r.headers.set("x-forwarded-for", "198.51.100.1, 192.0.2.7, 10.0.0.9");
  RemoteAddressRule edge{true, 0, true};
  CHECK(remote(edge) == "10.0.0.9");
  edge.xff_num_trusted_hops = 1;
  CHECK(remote(edge) == "192.0.2.7");
  r.headers.set("x-forwarded-for", "not-an-ip, 10.0.0.9");
  CHECK(remote(edge) == "10.0.0.9");

  // Through the filter: remote_ip sees the XFF address, direct_remote_ip the peer.
  Chain chain;
  RbacMatch any;
  chain.add(filterConfig(
      {RbacRules::Action::Allow, {{"clients", {any}, {cidr(Kind::RemoteIp, "192.0.2.0/24")}}}}));
  FakeCallbacks via = chain.request("/");
  via.request.headers.add("x-forwarded-for", "192.0.2.7");
  CHECK(chain.run(via) == 1);
  FakeCallbacks direct = chain.request("/");
  CHECK(chain.run(direct) == 0);
}

TEST_CASE("principals from the connection's TLS peer - plaintext has none", "[rbac][http]") {
  Chain chain;
  RbacMatch any;
  RbacMatch web;
  web.kind = Kind::Authenticated;
  web.principal_name =
      StringMatch{StringMatch::Kind::Exact, "spiffe://cluster.local/ns/default/sa/web", false};
  RbacMatch sni;
  sni.kind = Kind::RequestedServerName;
  sni.string_match = {StringMatch::Kind::Suffix, ".svc.cluster.local", false};
  chain.add(filterConfig({RbacRules::Action::Allow, {{"web", {sni}, {web}}}}));

  net::TlsInfo tls;
  tls.sni = "reviews.default.svc.cluster.local";
  tls.peer_certificate_validated = true;
  tls.peer_uri_sans = {"spiffe://cluster.local/ns/default/sa/web"};
  FakeCallbacks mtls = chain.request("/");
  mtls.info.downstream_tls = &tls;
  CHECK(chain.run(mtls) == 1);

  net::TlsInfo other = tls;
  other.peer_uri_sans = {"spiffe://cluster.local/ns/default/sa/batch"};
  FakeCallbacks stranger = chain.request("/");
  stranger.info.downstream_tls = &other;
  CHECK(chain.run(stranger) == 0);

  FakeCallbacks plain = chain.request("/");
  plain.request.headers.add("x-forwarded-client-cert",
                            "URI=spiffe://cluster.local/ns/default/sa/web");
  CHECK(chain.run(plain) == 0);
}

}  // namespace
}  // namespace remora::filters
