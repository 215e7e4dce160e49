// RBAC end to end: curl and raw TCP clients through a real remora process on loopback, with
// a real upstream. HTTP: allowed and denied requests (403, the RBAC flag and the policy in the
// access log), a DENY filter before an ALLOW filter, remote_ip from x-forwarded-for, shadow
// rules that only count. Network: connections refused by source IP and by destination port
// never reach the upstream. Identities: curl presenting client certificates to a listener that
// terminates mTLS, matched by URI SAN, DNS SAN and SNI; plaintext has no identity.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "proxy/common/strings.h"
#include "test/common/test_certs.h"
#include "test/common/test_util.h"
#include "test/integration/harness.h"
#include "test/interop/proxy_under_test.h"

namespace remora::integration {
namespace {

const char* kRbacType = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
const char* kNetRbacType = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC";

std::string hcm(const std::string& stat_prefix, const std::string& log_path,
                const std::string& rbac_filters) {
  return cat(R"(
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: )",
             stat_prefix, R"(
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              '@type': type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: )",
             log_path, R"(
              log_format: {text_format_source: {inline_string: "%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\n"}}
          route_config:
            name: local
            virtual_hosts:
            - {name: all, domains: ['*'], routes: [{match: {prefix: /}, route: {cluster: backend}}]}
          http_filters:)",
             rbac_filters, R"(
          - name: envoy.filters.http.router
            typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
)");
}

// Istio's layout: a DENY filter, then an ALLOW filter, each with its own stat prefix.
std::string enforcing() {
  return cat(R"(
          - name: envoy.filters.http.rbac
            typed_config:
              '@type': )",
             kRbacType, R"(
              rules_stat_prefix: istio_deny_
              rules:
                action: DENY
                policies:
                  deny-admin:
                    permissions: [{url_path: {path: {prefix: /admin}}}, {header: {name: ':method', string_match: {exact: DELETE}}}]
                    principals: [{any: true}]
                  deny-blocked-client:
                    permissions: [{any: true}]
                    principals: [{remote_ip: {address_prefix: 192.0.2.0, prefix_len: 24}}]
          - name: envoy.filters.http.rbac
            typed_config:
              '@type': )",
             kRbacType, R"(
              rules_stat_prefix: istio_allow_
              rules:
                policies:
                  allow-api:
                    permissions: [{or_rules: {rules: [{url_path: {path: {prefix: /api/}}}, {url_path: {path: {prefix: /admin/}}}]}}]
                    principals: [{direct_remote_ip: {address_prefix: 127.0.0.0, prefix_len: 8}}]
)");
}

// Dry run: rules that would deny everything, only counted.
std::string shadowOnly() {
  return cat(R"(
          - name: envoy.filters.http.rbac
            typed_config:
              '@type': )",
             kRbacType, R"(
              shadow_rules_stat_prefix: dry_run_
              shadow_rules:
                action: DENY
                policies:
                  deny-everything: {permissions: [{any: true}], principals: [{any: true}]}
)");
}

std::string tcpChain(const std::string& stat_prefix, const std::string& rules) {
  return cat(R"(
    - filters:
      - name: envoy.filters.network.rbac
        typed_config:
          '@type': )",
             kNetRbacType, R"(
          stat_prefix: )",
             stat_prefix, R"(
          rules: )",
             rules, R"(
      - name: envoy.filters.network.tcp_proxy
        typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: app, cluster: app}
)");
}

std::string listener(const std::string& name, uint16_t port, const std::string& chain) {
  return cat("  - name: ", name,
             "\n    address: {socket_address: {address: 127.0.0.1, port_value: ", port,
             "}}\n    filter_chains:", chain);
}

std::string cluster(const std::string& name, uint16_t port) {
  return cat("  - name: ", name, R"(
    type: STATIC
    connect_timeout: 1s
    load_assignment: {cluster_name: )",
             name,
             ", endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: "
             "127.0.0.1, port_value: ",
             port, "}}}}]}]}\n");
}

struct Curl {
  int rc = -1;
  std::string out;
};
Curl curl(std::vector<std::string> args) {
  std::vector<std::string> argv{"curl", "-sS", "--max-time", "20"};
  argv.insert(argv.end(), args.begin(), args.end());
  Curl c;
  c.rc = runCommand(argv, &c.out);
  return c;
}

// The status line's code from `curl -i` output.
std::string status(const Curl& c) { return c.out.size() >= 12 ? c.out.substr(9, 3) : c.out; }

// A TCP connection to 127.0.0.1:port from a chosen loopback source address.
int connectFrom(const std::string& source, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &src.sin_addr);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) == 0);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) == 0);
  return fd;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_CASE("rbac: HTTP requests allowed and denied by a DENY filter and an ALLOW filter", "[rbac]") {
  Upstream up;
  uint16_t port = freePort(), shadow_port = freePort();
  std::string log_path = cat(Binaries::get().dir, "/rbac-access-", getpid(), "-", port, ".log");
  std::string shadow_log = cat(log_path, ".shadow");
  ProxyUnderTest proxy(
      cat(R"(admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
)",
          listener("http", port, hcm("ingress", log_path, enforcing())),
          listener("dry", shadow_port, hcm("dry", shadow_log, shadowOnly())), "  clusters:\n",
          cluster("backend", up.port())));
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }));
  auto url = [&](uint16_t p, const std::string& path) { return cat("http://127.0.0.1:", p, path); };

  // Allowed by both filters.
  Curl r = curl({"-i", url(port, "/api/items")});
  REQUIRE(r.rc == 0);
  CHECK(status(r) == "200");
  CHECK(r.out.ends_with("hello GET /api/items"));
  // Matched by the DENY filter's policy (and by the ALLOW one): the DENY filter decides first.
  r = curl({"-i", url(port, "/admin/users")});
  CHECK(status(r) == "403");
  CHECK(r.out.ends_with("\r\n\r\nRBAC: access denied"));
  r = curl({"-i", "-X", "DELETE", url(port, "/api/items")});
  CHECK(status(r) == "403");
  // Passed by the DENY filter, matched by no ALLOW policy.
  r = curl({"-i", url(port, "/metrics")});
  CHECK(status(r) == "403");
  // remote_ip is the x-forwarded-for client (use_remote_address is false), as in Envoy.
  r = curl({"-i", "-H", "x-forwarded-for: 192.0.2.7", url(port, "/api/items")});
  CHECK(status(r) == "403");
  r = curl({"-i", "-H", "x-forwarded-for: 198.51.100.7", url(port, "/api/items")});
  CHECK(status(r) == "200");

  // Denied requests never reached the upstream.
  std::vector<std::string> seen = up.requests();
  CHECK(seen == std::vector<std::string>{"GET /api/items", "GET /api/items"});

  // The access log: the RBAC flag and the policy that decided.
  REQUIRE(testing::waitFor([&] { return split(readFile(log_path), '\n', true).size() >= 6; }));
  std::string log = readFile(log_path);
  INFO(log);
  CHECK(log.find("GET /api/items 200 - via_upstream\n") != std::string::npos);
  CHECK(log.find("GET /admin/users 403 RBAC rbac_access_denied_matched_policy[deny-admin]\n") !=
        std::string::npos);
  CHECK(log.find("DELETE /api/items 403 RBAC rbac_access_denied_matched_policy[deny-admin]\n") !=
        std::string::npos);
  CHECK(log.find("GET /metrics 403 RBAC rbac_access_denied_matched_policy[none]\n") !=
        std::string::npos);
  CHECK(log.find("GET /api/items 403 RBAC "
                 "rbac_access_denied_matched_policy[deny-blocked-client]\n") != std::string::npos);

  // Counters, under Envoy's names: 6 requests; the DENY filter denied 3, the ALLOW filter saw
  // the other 3 and denied 1.
  CHECK(proxy.stat("http.ingress.rbac.istio_deny_.denied") == 3);
  CHECK(proxy.stat("http.ingress.rbac.istio_deny_.allowed") == 3);
  CHECK(proxy.stat("http.ingress.rbac.istio_allow_.allowed") == 2);
  CHECK(proxy.stat("http.ingress.rbac.istio_allow_.denied") == 1);
  std::string prom = proxy.admin("/stats/prometheus").body;
  CHECK(prom.find("envoy_http_rbac_denied{envoy_http_conn_manager_prefix=\"ingress\","
                  "envoy_rbac_http_prefix=\"istio_deny_\"} 3\n") != std::string::npos);
  CHECK(prom.find("# TYPE envoy_http_rbac_allowed counter\n") != std::string::npos);

  // Shadow rules that deny everything: everything goes through, and only the counters move.
  for (const char* path : {"/api/items", "/admin/users", "/anything"}) {
    r = curl({"-i", url(shadow_port, path)});
    CHECK(status(r) == "200");
  }
  CHECK(proxy.stat("http.dry.rbac.dry_run_.shadow_denied") == 3);
  CHECK(proxy.stat("http.dry.rbac.dry_run_.shadow_allowed") == 0);
  CHECK(proxy.stat("http.dry.rbac.allowed") == 0);
  CHECK(proxy.stat("http.dry.rbac.denied") == 0);
  CHECK(up.requests().size() == 5);
}

TEST_CASE("rbac: network RBAC refuses by source IP and destination port before tcp_proxy",
          "[rbac]") {
  int backend = testing::listenTcp("127.0.0.1", 0);
  uint16_t backend_port = testing::boundPort(backend);
  uint16_t port = freePort(), blocked_port = freePort();
  ProxyUnderTest proxy(cat(
      R"(admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
)",
      listener("by-source", port,
               tcpChain("tcp.",
                        "{action: DENY, policies: {no-127-0-0-2: {permissions: [{any: "
                        "true}], principals: [{direct_remote_ip: {address_prefix: "
                        "127.0.0.2, prefix_len: 32}}]}}}")),
      listener("by-port", blocked_port,
               tcpChain("blocked", cat("{policies: {only-other-port: {permissions: [{not_rule: "
                                       "{destination_port: ",
                                       blocked_port, "}}], principals: [{any: true}]}}}"))),
      "  clusters:\n", cluster("app", backend_port)));
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }));

  // Allowed: bytes flow to the upstream.
  int ok = connectFrom("127.0.0.1", port);
  REQUIRE(testing::sendAll(ok, "ping"));
  int upstream = testing::acceptTcp(backend, 5000);
  REQUIRE(upstream >= 0);
  CHECK(testing::readExactly(upstream, 4) == "ping");
  close(upstream);
  close(ok);

  // Refused by source IP: closed at once; the upstream never sees a connection.
  int refused = connectFrom("127.0.0.2", port);
  testing::sendAll(refused, "secret");
  std::string got;
  testing::ReadEnd end = testing::readToEnd(refused, &got, 5000);
  CHECK(end != testing::ReadEnd::Timeout);
  CHECK(got.empty());
  close(refused);
  CHECK(proxy.stat("tcp.rbac.denied") == 1);
  CHECK(proxy.stat("tcp.rbac.allowed") == 1);

  // Refused by destination port (an ALLOW policy for every port but this one).
  int to_port = connectFrom("127.0.0.1", blocked_port);
  end = testing::readToEnd(to_port, &got, 5000);
  CHECK(end != testing::ReadEnd::Timeout);
  CHECK(got.empty());
  close(to_port);
  CHECK(proxy.stat("blocked.rbac.denied") == 1);

  // Nothing reached the upstream after the allowed connection; tcp_proxy never connected.
  CHECK(testing::acceptTcp(backend, 300) < 0);
  CHECK(proxy.stat("cluster.app.upstream_cx_total") == 1);
  CHECK(proxy.stat("tcp.app.downstream_cx_total") == 1);
  std::string prom = proxy.admin("/stats/prometheus").body;
  CHECK(prom.find("envoy_rbac_denied{envoy_rbac_prefix=\"tcp\"} 1\n") != std::string::npos);
  close(backend);
}

// The identity rules: "web" (by URI SAN) on the SNI rbac.test, and a DNS-named client for /dns.
std::string identityRules() {
  return cat(R"(
          - name: envoy.filters.http.rbac
            typed_config:
              '@type': )",
             kRbacType, R"(
              rules:
                policies:
                  web:
                    permissions: [{requested_server_name: {exact: rbac.test}}]
                    principals: [{authenticated: {principal_name: {exact: 'spiffe://cluster.local/ns/default/sa/web'}}}]
                  dns-client:
                    permissions: [{url_path: {path: {prefix: /dns}}}]
                    principals: [{authenticated: {principal_name: {exact: client.dns.test}}}]
)");
}

TEST_CASE("rbac: peer identities over mTLS - URI SAN, DNS SAN, SNI - and none in plaintext",
          "[rbac]") {
  Upstream up;
  std::string dir = cat(Binaries::get().dir, "/rbac-certs-", getpid());
  std::filesystem::create_directories(dir);
  testing::TestCert ca = testing::makeRootCa("rbac test root");
  auto save = [&](const std::string& name, const testing::TestCert& c) {
    writeFile(cat(dir, "/", name, ".pem"), c.cert_pem);
    writeFile(cat(dir, "/", name, ".key"), c.key_pem);
  };
  save("ca", ca);
  save("server", testing::issueLeaf(ca, "", "rbac.test"));
  save("web", testing::issueLeaf(ca, "spiffe://cluster.local/ns/default/sa/web"));
  save("batch", testing::issueLeaf(ca, "spiffe://cluster.local/ns/default/sa/batch"));
  save("dns", testing::issueLeaf(ca, "", "client.dns.test"));

  uint16_t port = freePort(), plain_port = freePort();
  std::string log_path = cat(dir, "/access.log");
  std::string tls = cat(R"(
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            tls_certificates: [{certificate_chain: {filename: )",
                        dir, "/server.pem}, private_key: {filename: ", dir, R"(/server.key}}]
            validation_context: {trusted_ca: {filename: )",
                        dir, "/ca.pem}}");
  std::string chain = hcm("mtls", log_path, identityRules());
  // The same chain with the transport socket in front of its filters.
  const std::string item = "- filters:";
  std::string tls_chain =
      cat(tls, "\n      filters:", chain.substr(chain.find(item) + item.size()));
  ProxyUnderTest proxy(
      cat(R"(admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
)",
          listener("mtls", port, tls_chain),
          listener("plain", plain_port, hcm("plain", log_path, identityRules())), "  clusters:\n",
          cluster("backend", up.port())));
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }));
  auto as = [&](const std::string& who, const std::string& path) {
    return curl({"-i", "--cacert", cat(dir, "/ca.pem"), "--cert", cat(dir, "/", who, ".pem"),
                 "--key", cat(dir, "/", who, ".key"), "--resolve",
                 cat("rbac.test:", port, ":127.0.0.1"), cat("https://rbac.test:", port, path)});
  };

  Curl r = as("web", "/api");
  INFO(r.out << "\n" << proxy.log());
  REQUIRE(r.rc == 0);
  CHECK(status(r) == "200");
  r = as("batch", "/api");
  CHECK(status(r) == "403");
  r = as("dns", "/dns/x");
  CHECK(status(r) == "200");
  r = as("dns", "/api");
  CHECK(status(r) == "403");
  // Plaintext: the same rules, no peer identity, nothing allowed.
  r = curl({"-i", cat("http://127.0.0.1:", plain_port, "/dns/x")});
  CHECK(status(r) == "403");
  CHECK(proxy.stat("http.mtls.rbac.allowed") == 2);
  CHECK(proxy.stat("http.mtls.rbac.denied") == 2);
  CHECK(proxy.stat("http.plain.rbac.denied") == 1);
  CHECK(up.requests() == std::vector<std::string>{"GET /api", "GET /dns/x"});
}

}  // namespace
}  // namespace remora::integration
