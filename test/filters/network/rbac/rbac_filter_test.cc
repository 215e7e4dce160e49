// The network RBAC filter: its decision on a connection's addresses, SNI and TLS peer, its
// counters, and its place in a filter chain (before the terminal filter, never after).
#include "filters/network/rbac/rbac_filter.h"

#include <catch2/catch.hpp>

#include "filters/registry.h"
#include "proxy/server/listener.h"
#include "proxy/server/worker.h"
#include "proxy/stats/exposition.h"

namespace remora::filters {
namespace {

using config::RbacMatch;
using config::RbacRules;
using config::StringMatch;
using Kind = RbacMatch::Kind;

RbacMatch cidr(Kind kind, const std::string& c) {
  RbacMatch m;
  m.kind = kind;
  m.cidr = *net::Cidr::parse(c);
  return m;
}
RbacMatch port(uint32_t p) {
  RbacMatch m;
  m.kind = Kind::DestinationPort;
  m.port_start = p;
  m.port_end = p + 1;
  return m;
}

config::NetworkFilterConfig rbacConfig(std::optional<RbacRules> rules,
                                       std::optional<RbacRules> shadow = std::nullopt) {
  config::NetworkFilterConfig f;
  f.name = "envoy.filters.network.rbac";
  f.rbac.emplace();
  f.rbac->stat_prefix = "tcp.";
  f.rbac->rules = std::move(rules);
  f.rbac->shadow_rules = std::move(shadow);
  return f;
}

server::ConnectionInfo connection(const std::string& peer, const std::string& local) {
  server::ConnectionInfo info;
  info.peer = *net::Address::parse(peer);
  info.local = *net::Address::parse(local);
  return info;
}

struct Fixture {
  stats::Store store;
  server::Worker worker{0};
  Fixture() { worker.start(); }  // idle: the filter only asks for its index
  ~Fixture() {
    worker.loop().post([this] { worker.shutdown(); });
    CHECK(worker.join());
  }
  server::AdmissionFilterSharedPtr make(const config::NetworkFilterConfig& c) {
    server::FilterFactoryContext ctx{store, 1, 1024 * 1024};
    auto f = createNetworkRbacFilter(c, ctx);
    INFO(f.status().ToString());
    REQUIRE(f.ok());
    return *f;
  }
  std::string stats() { return stats::renderText(store); }
};

TEST_CASE("network RBAC: source IP and destination port, decided per connection",
          "[rbac][network]") {
  Fixture fx;
  // DENY connections from 192.0.2.0/24, and any connection to port 9090.
  auto deny = fx.make(rbacConfig(
      RbacRules{RbacRules::Action::Deny,
                {{"bad-clients", {RbacMatch{}}, {cidr(Kind::DirectRemoteIp, "192.0.2.0/24")}},
                 {"no-admin-port", {port(9090)}, {RbacMatch{}}}}}));
  CHECK(deny->admit(fx.worker, connection("10.0.0.1:5000", "10.0.0.2:9080")));
  CHECK_FALSE(deny->admit(fx.worker, connection("192.0.2.8:5000", "10.0.0.2:9080")));
  CHECK_FALSE(deny->admit(fx.worker, connection("10.0.0.1:5000", "10.0.0.2:9090")));
  // The original destination, when the listener has one, is the destination.
  server::ConnectionInfo redirected = connection("10.0.0.1:5000", "10.0.0.2:15006");
  redirected.original_dst = *net::Address::parse("10.0.0.2:9090");
  CHECK_FALSE(deny->admit(fx.worker, redirected));
  std::string s = fx.stats();
  CHECK(s.find("tcp.rbac.allowed: 1\n") != std::string::npos);
  CHECK(s.find("tcp.rbac.denied: 3\n") != std::string::npos);
}

TEST_CASE("network RBAC: SNI and the TLS peer, shadow rules only count", "[rbac][network]") {
  Fixture fx;
  RbacMatch sni;
  sni.kind = Kind::RequestedServerName;
  sni.string_match = {StringMatch::Kind::Exact, "db.internal", false};
  RbacMatch peer;
  peer.kind = Kind::Authenticated;
  peer.principal_name = StringMatch{StringMatch::Kind::Prefix, "spiffe://cluster.local/", false};
  auto allow = fx.make(rbacConfig(RbacRules{RbacRules::Action::Allow, {{"db", {sni}, {peer}}}},
                                  RbacRules{RbacRules::Action::Allow, {}}));

  server::ConnectionInfo plain = connection("10.0.0.1:5000", "10.0.0.2:5432");
  plain.requested_server_name = "db.internal";
  CHECK_FALSE(allow->admit(fx.worker, plain));

  auto tls = std::make_shared<net::TlsInfo>();
  tls->sni = "db.internal";
  tls->peer_certificate_validated = true;
  tls->peer_uri_sans = {"spiffe://cluster.local/ns/app/sa/api"};
  server::ConnectionInfo mtls = connection("10.0.0.1:5001", "10.0.0.2:5432");
  mtls.tls = tls;  // terminated by remora: the SNI comes from the handshake
  CHECK(allow->admit(fx.worker, mtls));

  std::string s = fx.stats();
  CHECK(s.find("tcp.rbac.allowed: 1\n") != std::string::npos);
  CHECK(s.find("tcp.rbac.denied: 1\n") != std::string::npos);
  CHECK(s.find("tcp.rbac.shadow_denied: 2\n") != std::string::npos);  // empty ALLOW
}

TEST_CASE("network RBAC without rules admits everything, uncounted", "[rbac][network]") {
  Fixture fx;
  auto none = fx.make(rbacConfig(std::nullopt));
  CHECK(none->admit(fx.worker, connection("10.0.0.1:5000", "10.0.0.2:80")));
  CHECK(fx.stats().find("tcp.rbac.allowed: 0\n") != std::string::npos);
}

// --- In a filter chain ---

config::NetworkFilterConfig tcpProxy() {
  config::NetworkFilterConfig f;
  f.name = "envoy.filters.network.tcp_proxy";
  f.tcp_proxy.stat_prefix = "app";
  f.tcp_proxy.cluster = "app";
  return f;
}

absl::StatusOr<std::shared_ptr<server::Listener>> listener(
    std::vector<config::NetworkFilterConfig> filters, stats::Store& store) {
  config::ListenerConfig lc;
  lc.name = "inbound";
  lc.address = *net::Address::parse("127.0.0.1:0");
  config::FilterChainConfig chain;
  chain.filters = std::move(filters);
  lc.filter_chains.push_back(chain);
  return server::Listener::create(lc, networkFilters(), store, 1);
}

TEST_CASE("filter chains: admission filters first, one terminal filter last", "[rbac][network]") {
  stats::Store store;
  auto deny_all = rbacConfig(RbacRules{RbacRules::Action::Allow, {}});
  CHECK(listener({deny_all, tcpProxy()}, store).ok());
  CHECK(listener({deny_all, deny_all, tcpProxy()}, store).ok());

  auto after = listener({tcpProxy(), deny_all}, store);
  REQUIRE_FALSE(after.ok());
  CHECK(after.status().message() ==
        "filter_chains[0].filters[1]: 'envoy.filters.network.rbac' follows the terminal filter "
        "'envoy.filters.network.tcp_proxy', which must be the last filter of the chain");
  auto alone = listener({deny_all}, store);
  REQUIRE_FALSE(alone.ok());
  CHECK(alone.status().message() ==
        "filter_chains[0].filters[0]: 'envoy.filters.network.rbac' is not a terminal filter; a "
        "chain ends in tcp_proxy or http_connection_manager");
  auto two = listener({tcpProxy(), tcpProxy()}, store);
  REQUIRE_FALSE(two.ok());
  auto bad = rbacConfig(RbacRules{RbacRules::Action::Allow, {}});
  bad.rbac->stat_prefix.clear();
  auto unnamed = listener({bad, tcpProxy()}, store);
  REQUIRE_FALSE(unnamed.ok());
  CHECK(unnamed.status().message() == "filter_chains[0].filters[0]: rbac: stat_prefix is empty");
}

}  // namespace
}  // namespace remora::filters
