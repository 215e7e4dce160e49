// remora-control's gRPC port over TLS, with real processes on loopback: a proxy that trusts the
// bundle remora-control writes (--trust-bundle-out) gets its certificate and its xDS over TLS
// and serves traffic; a proxy with other roots, or in plaintext, is refused and says why; the
// self-issued serving certificate is renewed and follows a root rotation without a restart.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "proxy/common/strings.h"
#include "test/certs/certs_testing.h"
#include "test/common/test_certs.h"
#include "test/interop/proxy_under_test.h"

namespace remora::integration {
namespace {

using certs::testing::ControlPlane;
using certs::testing::TempDir;
using namespace std::chrono_literals;

std::string whoAnswers(uint16_t port) {
  int fd = testing::connectTcp("127.0.0.1", port, 2000);
  if (fd < 0) return "";
  std::string line;
  char c;
  while (line.size() < 64 && recv(fd, &c, 1, 0) == 1 && c != '\n') line.push_back(c);
  close(fd);
  return line;
}

std::string listenerYaml(const std::string& name, uint16_t port, const std::string& cluster) {
  return cat(
      "'@type': ", kListenerType, "\nname: ", name,
      "\naddress: {socket_address: {address: 127.0.0.1, port_value: ", port, "}}\n",
      "filter_chains: [{filters: [{name: envoy.filters.network.tcp_proxy, typed_config: {'@type': "
      "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: ",
      name, ", cluster: ", cluster, "}}]}]\n");
}

// How the bootstrap says TLS to the xDS server.
enum class AdsTls { EnvoyGrpcCluster, GoogleGrpcSsl, Plaintext };

// ADS to remora-control at `port`, trusting the roots in `roots` and expecting its certificate
// to name "remora-control" (the cluster's sni, or the gRPC name override).
std::string tlsBootstrap(int port, AdsTls how, const std::string& roots,
                         const std::string& name = "remora-control") {
  std::string grpc_service, tls;
  switch (how) {
    case AdsTls::EnvoyGrpcCluster:
      grpc_service = "{envoy_grpc: {cluster_name: xds_cluster}}";
      tls = cat(R"(
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: )",
                name, R"(
        common_tls_context:
          validation_context: {trusted_ca: {filename: )",
                roots, "}}\n");
      break;
    case AdsTls::GoogleGrpcSsl:
      grpc_service = cat("{google_grpc: {target_uri: '127.0.0.1:", port,
                         "', stat_prefix: ads, channel_credentials: {ssl_credentials: "
                         "{root_certs: {filename: ",
                         roots,
                         "}}}, channel_args: {args: {grpc.ssl_target_name_override: "
                         "{string_value: ",
                         name, "}}}}}");
      break;
    case AdsTls::Plaintext:
      grpc_service = "{envoy_grpc: {cluster_name: xds_cluster}}";
      break;
  }
  return cat(R"(node: {id: sidecar-under-test, cluster: test}
admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
dynamic_resources:
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services: [)",
             grpc_service, R"(]
  cds_config: {ads: {}, resource_api_version: V3}
  lds_config: {ads: {}, resource_api_version: V3}
static_resources:
  clusters:
  - name: xds_cluster
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: xds_cluster
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: )",
             port, "}}}}]}]\n", tls);
}

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// remora-control with its CA, serving TLS with a self-issued certificate, its bundle in
// tmp/bundle.pem, and a listener "app" on `app_port` to `backend`.
struct TlsControlPlane {
  TempDir tmp;
  std::unique_ptr<ControlPlane> cp;
  std::string bundle = tmp.file("bundle.pem");

  TlsControlPlane(uint16_t app_port, uint16_t backend_port, std::vector<std::string> extra = {}) {
    std::filesystem::create_directories(tmp.file("resources"));
    writeFile(tmp.file("resources/app.yaml"), listenerYaml("app", app_port, "backend") + "---\n" +
                                                  clusterYaml("backend") + "---\n" +
                                                  claYaml("backend", backend_port));
    std::vector<std::string> args{"--ca-dir", tmp.file("ca"), "--tls", "--trust-bundle-out",
                                  bundle};
    args.insert(args.end(), extra.begin(), extra.end());
    cp = std::make_unique<ControlPlane>(tmp, args);
    tmp.write("client.token", certs::testing::issueToken(tmp.file("ca"), "a", "client"));
  }
  std::vector<std::string> identityFlags(const std::string& roots,
                                         const std::string& name = "remora-control") const {
    std::vector<std::string> f{"--ca-address",           cp->address(), "--identity-token-file",
                               tmp.file("client.token"), "--namespace", "a",
                               "--service-account",      "client"};
    if (!roots.empty()) {
      f.insert(f.end(), {"--ca-root-cert", roots, "--ca-server-name", name});
    }
    return f;
  }
  int port() const { return std::stoi(cp->address().substr(cp->address().rfind(':') + 1)); }
};

// The serving certificate's serial and issuer, as openssl s_client sees them (verified against
// `roots` for the name remora-control); "" when the handshake or the verification fails.
std::string servingCert(int port, const std::string& roots) {
  std::string out;
  int rc = runCommand(
      {"sh", "-c",
       cat("openssl s_client -connect 127.0.0.1:", port,
           " -servername remora-control -verify_hostname remora-control -verify_return_error "
           "-CAfile ",
           roots, " </dev/null 2>/dev/null | openssl x509 -noout -serial -issuer")},
      &out);
  return rc == 0 ? out : "";
}

TEST_CASE(
    "cp-tls: a proxy gets its certificate and its xDS from remora-control over TLS (self-issued "
    "serving certificate, roots from --trust-bundle-out) and serves traffic",
    "[cp-tls]") {
  AdsTls how = GENERATE(AdsTls::EnvoyGrpcCluster, AdsTls::GoogleGrpcSsl);
  INFO((how == AdsTls::EnvoyGrpcCluster ? "envoy_grpc cluster with an UpstreamTlsContext"
                                        : "google_grpc ssl_credentials"));
  NamedBackend backend("backend-a");
  uint16_t app = freePort();
  TlsControlPlane control(app, backend.port());
  REQUIRE(testing::waitFor([&] { return !readAll(control.bundle).empty(); }));
  std::string bundle = readAll(control.bundle);
  // The bundle is the CA's root, the one workload certificates chain to.
  CHECK(bundle == readAll(control.tmp.file("ca/root-cert.pem")));
  INFO("control plane log:\n" << control.cp->log());
  CHECK(control.cp->log().find("TLS with the certificate self-issued") != std::string::npos);
  CHECK(!servingCert(control.port(), control.bundle).empty());

  ProxyUnderTest proxy(tlsBootstrap(control.port(), how, control.bundle),
                       control.identityFlags(control.bundle));
  bool ready = testing::waitFor([&] { return proxy.ready(); }, 20000);
  INFO("proxy log:\n" << proxy.log());
  REQUIRE(ready);
  CHECK(whoAnswers(app) == "backend-a");
  CHECK(proxy.stat("control_plane.connected_state") == 1);
  CHECK(proxy.stat("listener_manager.lds.update_success") >= 1);
  CHECK(proxy.log().find("identity: certificate for spiffe://cluster.local/ns/a/sa/client valid "
                         "until") != std::string::npos);
  CHECK(proxy.log().find(cat("xds: connecting to 127.0.0.1:", control.port(),
                             " (state of the world, TLS (roots from '", control.bundle,
                             "', server name 'remora-control'))")) != std::string::npos);
  CHECK(control.cp->stats()["control_plane.ca.certs_issued"] == 1);
}

TEST_CASE(
    "cp-tls: a proxy with other roots, or expecting another name, refuses remora-control's "
    "certificate, says so, and never becomes ready",
    "[cp-tls]") {
  bool wrong_roots = GENERATE(true, false);
  INFO((wrong_roots ? "other roots" : "another name"));
  NamedBackend backend("backend-a");
  uint16_t app = freePort();
  TlsControlPlane control(app, backend.port());
  REQUIRE(testing::waitFor([&] { return !readAll(control.bundle).empty(); }));
  TempDir other;
  std::string roots =
      wrong_roots ? other.write("other-root.pem", testing::makeRootCa("Other Root").cert_pem)
                  : control.bundle;
  std::string name = wrong_roots ? "remora-control" : "istiod.istio-system.svc";
  ProxyUnderTest proxy(tlsBootstrap(control.port(), AdsTls::EnvoyGrpcCluster, roots, name),
                       control.identityFlags(roots, name));
  // Both clients fail on the certificate, and say how they connected.
  bool logged = testing::waitFor(
      [&] {
        std::string log = proxy.log();
        return log.find("certificate for spiffe://cluster.local/ns/a/sa/client from") !=
                   std::string::npos &&
               log.find("xds stream to") != std::string::npos;
      },
      20000);
  std::string log = proxy.log();
  INFO("proxy log:\n" << log);
  REQUIRE(logged);
  CHECK(log.find(wrong_roots ? "certificate verify failed"
                             : "Hostname Verification Check failed") != std::string::npos);
  CHECK(log.find(cat("[TLS (roots from '", roots, "', server name '", name,
                     "'): the server must speak TLS with a certificate that chains to these "
                     "roots and names '",
                     name, "']")) != std::string::npos);
  std::this_thread::sleep_for(1s);
  CHECK_FALSE(proxy.ready());
  CHECK(whoAnswers(app).empty());
  CHECK(control.cp->stats()["control_plane.ca.csr_requests"] == 0);
}

TEST_CASE("cp-tls: a plaintext client of the TLS port fails and says it spoke plaintext",
          "[cp-tls]") {
  NamedBackend backend("backend-a");
  uint16_t app = freePort();
  TlsControlPlane control(app, backend.port());
  ProxyUnderTest proxy(tlsBootstrap(control.port(), AdsTls::Plaintext, ""),
                       control.identityFlags(""));
  bool logged = testing::waitFor(
      [&] {
        std::string log = proxy.log();
        return log.find("certificate for spiffe://cluster.local/ns/a/sa/client from") !=
                   std::string::npos &&
               log.find("xds stream to") != std::string::npos;
      },
      20000);
  std::string log = proxy.log();
  INFO("proxy log:\n" << log);
  REQUIRE(logged);
  CHECK(log.find(
            "[plaintext: if the server speaks TLS, give its root certificate (--ca-root-cert)]") !=
        std::string::npos);
  CHECK(
      log.find("[plaintext: if the server speaks TLS, give its root certificate (ssl_credentials, "
               "or the xDS cluster's transport_socket)]") != std::string::npos);
  CHECK_FALSE(proxy.ready());
  CHECK(control.cp->stats()["control_plane.ca.csr_requests"] == 0);
}

TEST_CASE(
    "cp-tls: the self-issued serving certificate is renewed before it expires, and re-issued by "
    "a rotated root when it activates - the bundle had that root since staging",
    "[cp-tls]") {
  NamedBackend backend("backend-a");
  uint16_t app = freePort();
  // Certificates of 4 s: the serving certificate is renewed every 2 s.
  TlsControlPlane control(app, backend.port(), {"--cert-ttl", "4s"});
  REQUIRE(testing::waitFor([&] { return !readAll(control.bundle).empty(); }));
  std::string first = servingCert(control.port(), control.bundle);
  INFO("control plane log:\n" << control.cp->log());
  REQUIRE(!first.empty());
  // Renewed: a new serial, verified with the same bundle; then again (the first has expired).
  std::string second;
  REQUIRE(testing::waitFor(
      [&] {
        second = servingCert(control.port(), control.bundle);
        return !second.empty() && second != first;
      },
      5000));
  CHECK(testing::waitFor(
      [&] {
        std::string third = servingCert(control.port(), control.bundle);
        return !third.empty() && third != second;
      },
      5000));

  // Stage a new root: the bundle file gets it at once, while the old root still signs.
  std::string old_bundle = readAll(control.bundle);
  std::string out;
  REQUIRE(runCommand({ControlPlane::binary(), "ca", "rotate-root", "--ca-dir",
                      control.tmp.file("ca"), "--propagation", "1h"},
                     &out) == 0);
  REQUIRE(testing::waitFor([&] { return readAll(control.bundle).size() > old_bundle.size(); }));
  std::string staged = readAll(control.bundle);
  CHECK(staged.find(old_bundle) != std::string::npos);
  // A proxy that trusts only the staged bundle (mounted now) connects now and after activation.
  ProxyUnderTest proxy(tlsBootstrap(control.port(), AdsTls::EnvoyGrpcCluster, control.bundle),
                       control.identityFlags(control.bundle));
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }, 20000));
  std::string new_root;
  auto roots = certs::parseCertsPem(staged);
  REQUIRE(roots.ok());
  for (const auto& r : *roots) {
    std::string pem = certs::certPem(r.get());
    if (old_bundle.find(pem) == std::string::npos) new_root = pem;
  }
  REQUIRE(!new_root.empty());
  std::string new_root_file = control.tmp.write("new-root.pem", new_root);
  CHECK(servingCert(control.port(), new_root_file).empty());  // the old root still signs
  REQUIRE(runCommand(
              {ControlPlane::binary(), "ca", "activate-root", "--ca-dir", control.tmp.file("ca")},
              &out) == 0);
  // The serving certificate follows the new root within a tick, and the bundle proxies were
  // given at staging verifies it.
  CHECK(
      testing::waitFor([&] { return !servingCert(control.port(), new_root_file).empty(); }, 5000));
  CHECK(!servingCert(control.port(), control.bundle).empty());
  CHECK(control.cp->log().find("signs now; re-issuing the serving certificate") !=
        std::string::npos);
  CHECK(proxy.ready());
}

TEST_CASE(
    "cp-tls: remora-control refuses bad TLS flags and files with a clear error: a key that does "
    "not match, an unreadable file, --tls without a CA",
    "[cp-tls]") {
  TempDir tmp;
  std::filesystem::create_directories(tmp.file("resources"));
  auto root = testing::makeRootCa("Operator Root");
  auto leaf = testing::issueLeaf(root, "", "remora-control");
  auto other = testing::issueLeaf(root, "", "other");
  std::string cert = tmp.write("serving.pem", leaf.cert_pem);
  std::string other_key = tmp.write("other.key", other.key_pem);
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv{ControlPlane::binary(),
                                  "--config-dir",
                                  tmp.file("resources"),
                                  "--listen",
                                  "127.0.0.1:0",
                                  "--admin-address",
                                  ""};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::string out;
    int rc = runCommand(argv, &out);
    return std::make_pair(rc, out);
  };
  auto [rc1, out1] = run({"--serving-cert", cert, "--serving-key", other_key});
  CHECK(rc1 == 1);
  CHECK(out1.find(cat("the key in '", other_key, "' does not match the certificate in '", cert,
                      "'")) != std::string::npos);
  auto [rc2, out2] = run({"--serving-cert", tmp.file("missing.pem"), "--serving-key", other_key});
  CHECK(rc2 == 1);
  CHECK(out2.find(cat("--serving-cert: cannot open '", tmp.file("missing.pem"), "'")) !=
        std::string::npos);
  auto [rc3, out3] = run({"--tls"});
  CHECK(rc3 == 2);
  CHECK(out3.find("--tls needs the CA (--ca-dir or --ca-cert)") != std::string::npos);
  auto [rc4, out4] = run({"--serving-cert", cert});
  CHECK(rc4 == 2);
  CHECK(out4.find("--serving-cert and --serving-key go together") != std::string::npos);
}

TEST_CASE("cp-tls: remora with an unreadable --ca-root-cert stops at start-up, naming the file",
          "[cp-tls]") {
  TempDir tmp;
  std::string out;
  int rc = runCommand(
      {testing::buildDir() + "/proxy/remora",
       "--admin-address=", "--prometheus-address=", "--health-address=", "--outbound-port", "0",
       "--inbound-port", "0", "--ca-address", "127.0.0.1:1", "--identity-token-file",
       tmp.write("token", "x"), "--ca-root-cert", tmp.file("missing.pem")},
      &out);
  INFO(out);
  CHECK(rc == 1);
  CHECK(out.find(cat("--ca-root-cert: root certificates: cannot open '", tmp.file("missing.pem"),
                     "'")) != std::string::npos);
  rc = runCommand({testing::buildDir() + "/proxy/remora", "--admin-address=",
                   "--prometheus-address=", "--health-address=", "--outbound-port", "0",
                   "--inbound-port", "0", "--ca-address", "127.0.0.1:1", "--identity-token-file",
                   tmp.file("token"), "--ca-root-cert", tmp.write("junk.pem", "junk\n")},
                  &out);
  CHECK(rc == 1);
  CHECK(out.find(cat("--ca-root-cert: root certificates '", tmp.file("junk.pem"), "'")) !=
        std::string::npos);
}

}  // namespace
}  // namespace remora::integration
