// testssl.sh (Debian's 3.0.8) against remora's inbound TLS listener: protocols, cipher
// categories, forward secrecy, server preferences and defaults, the HTTP response headers and
// every vulnerability check. Each finding rated MEDIUM, HIGH or CRITICAL fails the test unless
// the allow-list below names it, with the reason it cannot apply to a mesh certificate.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_join.h"
#include "proxy/common/strings.h"
#include "test/common/test_certs.h"
#include "test/integration/harness.h"
#include "test/interop/proxy_under_test.h"

namespace remora::integration {
namespace {

// Findings that cannot apply to a mesh sidecar, each with its reason. `finding` must be a prefix
// of what testssl reports (empty: any), so a different finding under the same id still fails.
struct Allowed {
  const char* id;
  const char* finding;
  const char* reason;
};
constexpr Allowed kAllowed[] = {
    {"cert_expirationStatus", "expires < 30 days",
     "mesh certificates live 24 h (Istio's default) and rotate at half their life"},
    {"cert_notAfter", "",
     "the same 24 h lifetime, as a date (an expired certificate fails cert_expirationStatus)"},
    {"cert_revocation", "Neither CRL nor OCSP URI provided",
     "SPIFFE X.509-SVIDs carry no CRL or OCSP URI; a short-lived certificate is revoked by expiry"},
    {"security_headers", "--",
     "HTTP security headers are the application's; the sidecar forwards responses unchanged, as "
     "Envoy does"},
};

// Checks whose absence from the report means the scan did not run them against remora.
constexpr const char* kExpected =
    "SSLv2 SSLv3 TLS1 TLS1_1 TLS1_2 TLS1_3 cipherlist_NULL cipherlist_aNULL cipherlist_EXPORT "
    "cipherlist_LOW cipherlist_3DES_IDEA cipherlist_AVERAGE PFS cipher_order cert_trust "
    "cert_chain_of_trust heartbleed CCS ticketbleed ROBOT secure_renego secure_client_renego "
    "CRIME_TLS BREACH POODLE_SSL fallback_SCSV SWEET32 FREAK DROWN LOGJAM BEAST LUCKY13 RC4";

const std::set<std::string> kFailing = {"MEDIUM", "HIGH", "CRITICAL", "FATAL"};

std::string readAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A listener terminating TLS in front of the test upstream, with the settings of the mesh's
// inbound listener: inline certificate and trust, ALPN http/1.1, and remora's defaults for
// versions, suites and curves.
std::string listener(const std::string& name, uint16_t port, const std::string& dir,
                     bool require_client_certificate) {
  return cat("  - name: ", name,
             "\n    address: {socket_address: {address: 127.0.0.1, port_value: ", port, R"(}}
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: )",
             require_client_certificate ? "true" : "false", R"(
          common_tls_context:
            alpn_protocols: [http/1.1]
            tls_certificates: [{certificate_chain: {filename: )",
             dir, "/server.pem}, private_key: {filename: ", dir, R"(/server.key}}]
            validation_context: {trusted_ca: {filename: )",
             dir, R"(/ca.pem}}
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: )",
             name, R"(
          route_config:
            virtual_hosts: [{name: all, domains: ['*'], routes: [{match: {prefix: /}, route: {cluster: app}}]}]
          http_filters: [{name: envoy.filters.http.router, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
)");
}

// `openssl s_client -brief` with a client certificate: "<protocol> <suite>" it negotiated.
std::string negotiated(uint16_t port, const std::string& dir, const std::string& version) {
  std::string out;
  runCommand({"sh", "-c",
              cat("openssl s_client -brief ", version, " -connect 127.0.0.1:", port,
                  " -servername localhost -CAfile ", dir, "/ca.pem -cert ", dir,
                  "/client.pem -key ", dir, "/client.key </dev/null 2>&1")},
             &out);
  std::string protocol, suite;
  for (std::string_view line : split(out, '\n', true)) {
    if (line.starts_with("Protocol version: ")) protocol = line.substr(18);
    if (line.starts_with("Ciphersuite: ")) suite = line.substr(13);
  }
  return cat(protocol, " ", suite);
}

TEST_CASE("testssl: remora's inbound TLS listener has no finding rated MEDIUM or above",
          "[testssl]") {
  REQUIRE(runCommand({"sh", "-c", "command -v testssl"}) == 0);  // tools/setup.sh installs it

  Upstream app;
  std::string dir = cat(Binaries::get().dir, "/testssl-", getpid());
  std::filesystem::create_directories(dir);
  // ECDSA P-256 from a test CA, valid for a day like Istio's workload certificates. The
  // SPIFFE ID is what the mesh checks; the DNS SAN `localhost` is there only so testssl, which
  // scans a host name, finds the name in the certificate.
  testing::TestCert ca = testing::makeRootCa("testssl root");
  testing::TestCert server = testing::issueLeaf(ca, "spiffe://cluster.local/ns/default/sa/server",
                                                "localhost", -60, 86400);
  writeFile(dir + "/ca.pem", ca.cert_pem);
  writeFile(dir + "/server.pem", server.cert_pem);
  writeFile(dir + "/server.key", server.key_pem);
  testing::TestCert client = testing::issueLeaf(ca, "spiffe://cluster.local/ns/default/sa/client");
  writeFile(dir + "/client.pem", client.cert_pem);
  writeFile(dir + "/client.key", client.key_pem);

  // The mesh runs this listener with require_client_certificate: true. testssl 3.0.8 cannot
  // present a client certificate (--mtls arrived in 3.2), so it scans the same listener with the
  // certificate requested but optional: the same SSL_CTX settings and the same
  // CertificateRequest, only without SSL_VERIFY_FAIL_IF_NO_PEER_CERT.
  uint16_t port = freePort(), mtls_port = freePort();
  ProxyUnderTest proxy(cat(
      R"(admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
)",
      listener("scanned", port, dir, false), listener("mtls", mtls_port, dir, true), R"(  clusters:
  - name: app
    type: STATIC
    connect_timeout: 1s
    load_assignment: {cluster_name: app, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: )",
      app.port(), "}}}}]}]}\n"));
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }));

  // -p protocols, -s cipher categories, -f forward secrecy, -P server preferences, -S server
  // defaults and certificate, -h HTTP headers, -U all vulnerabilities. Left out: -e/-E (each
  // of 370 ciphers, +35 s here, INFO only: -s and -f already fail on any weak category) and -c
  // (client simulations). -n none: no DNS (loopback; CAA is a public-DNS matter). 35-75 s here.
  std::string json = dir + "/testssl.json";
  std::filesystem::remove(json);
  std::string out;
  auto start = std::chrono::steady_clock::now();
  int rc = runCommand({"testssl",
                       "--quiet",
                       "--warnings",
                       "off",
                       "--color",
                       "0",
                       "--add-ca",
                       dir + "/ca.pem",
                       "--jsonfile",
                       json,
                       "-n",
                       "none",
                       "--connect-timeout",
                       "10",
                       "--openssl-timeout",
                       "10",
                       "-p",
                       "-s",
                       "-f",
                       "-P",
                       "-S",
                       "-h",
                       "-U",
                       cat("localhost:", port)},
                      &out);
  auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
          .count();
  INFO("testssl exited " << rc << " after " << secs << " s; its output:\n" << out);

  google::protobuf::Value doc;
  REQUIRE(google::protobuf::util::JsonStringToMessage(readAll(json), &doc).ok());
  REQUIRE(doc.has_list_value());
  std::map<std::string, std::string> finding;  // id -> finding
  std::vector<std::string> failures, exempted;
  for (const auto& v : doc.list_value().values()) {
    const auto& f = v.struct_value().fields();
    std::string id = f.count("id") ? f.at("id").string_value() : "";
    std::string severity = f.count("severity") ? f.at("severity").string_value() : "";
    std::string text = f.count("finding") ? f.at("finding").string_value() : "";
    finding[id] = text;
    if (kFailing.count(severity) == 0) continue;
    const Allowed* allowed = nullptr;
    for (const Allowed& a : kAllowed) {
      if (id == a.id && std::string_view(text).starts_with(a.finding)) allowed = &a;
    }
    if (allowed == nullptr) {
      failures.push_back(cat(severity, " ", id, ": ", text));
    } else {
      exempted.push_back(cat(severity, " ", id, ": ", text, " (", allowed->reason, ")"));
    }
  }
  INFO("exempted:\n" << absl::StrJoin(exempted, "\n"));
  INFO("testssl findings rated MEDIUM or above (not allowed):\n" << absl::StrJoin(failures, "\n"));
  CHECK(failures.empty());

  // The scan did run every check against remora (a test that cannot fail is a defect).
  for (std::string_view id : split(kExpected, ' ', true)) {
    INFO(id);
    CHECK(finding.count(std::string(id)) == 1);
  }
  // What remora's defaults promise: TLS 1.2 and 1.3 only, forward-secret AEAD suites only,
  // X25519 and P-256, and the certificate chaining to the test CA.
  CHECK(finding["TLS1"] == "not offered");
  CHECK(finding["TLS1_1"] == "not offered");
  CHECK(finding["TLS1_2"] == "offered");
  CHECK(finding["TLS1_3"].starts_with("offered"));
  CHECK(finding["cipherlist_AVERAGE"] == "not offered");  // no CBC
  CHECK(finding["PFS_ECDHE_curves"] == "prime256v1 X25519");
  CHECK(finding["cert_chain_of_trust"] == "passed.");
  CHECK(finding["secure_client_renego"] == "not vulnerable");
  CHECK(finding["CRIME_TLS"] == "not vulnerable");

  // The listener the mesh runs (client certificate required) picks what the scanned one picks.
  std::string tls13 = finding["cipher_negotiated"];
  CHECK(negotiated(mtls_port, dir, "-tls1_3") == cat("TLSv1.3 ", tls13.substr(0, tls13.find(','))));
  std::string tls12 = finding["cipherorder_TLSv1_2"];
  CHECK(negotiated(mtls_port, dir, "-tls1_2") == cat("TLSv1.2 ", tls12.substr(0, tls12.find(' '))));
}

}  // namespace
}  // namespace remora::integration
