// SDS over ADS end to end: remora-control serves, from files, a listener whose certificate and
// client roots are Secrets fetched over the same ADS stream (sds_config: {ads: {}}). curl with
// a client certificate gets through; rewriting the certificate's Secret file rotates the
// server certificate for new connections while a keep-alive connection made before goes on.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>

#include "proxy/common/strings.h"
#include "test/common/test_certs.h"
#include "test/common/test_util.h"
#include "test/integration/harness.h"
#include "test/interop/proxy_under_test.h"

namespace remora::integration {
namespace {

namespace fs = std::filesystem;

constexpr const char* kClientId = "spiffe://cluster.local/ns/a/sa/client";
constexpr const char* kServerId = "spiffe://cluster.local/ns/b/sa/server";
constexpr const char* kServerName = "server.b.svc";

// PEM as a YAML double-quoted scalar.
std::string q(const std::string& pem) {
  std::string out = "\"";
  for (char c : pem) out += c == '\n' ? std::string("\\n") : std::string(1, c);
  return out + "\"";
}

std::string certSecret(const std::string& name, const testing::TestCert& c) {
  return cat("'@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret\n",
             "name: ", name,
             "\ntls_certificate: {certificate_chain: {inline_string: ", q(c.cert_pem),
             "}, private_key: {inline_string: ", q(c.key_pem), "}}\n");
}

std::string caSecret(const std::string& name, const testing::TestCert& ca) {
  return cat("'@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret\n",
             "name: ", name, "\nvalidation_context: {trusted_ca: {inline_string: ", q(ca.cert_pem),
             "}}\n");
}

// The listener: mTLS with both secrets over ADS, HTTP to the app, the peer in the access log.
// `fetch_timeout`: the secrets' sds_config initial_fetch_timeout.
std::string listener(uint16_t port, const std::string& log_path,
                     const std::string& fetch_timeout = "15s") {
  return cat(
      R"('@type': type.googleapis.com/envoy.config.listener.v3.Listener
name: tls-in
address: {socket_address: {address: 127.0.0.1, port_value: )",
      port, R"(}}
listener_filters:
- name: envoy.filters.listener.tls_inspector
  typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector}
filter_chains:
- filter_chain_match: {transport_protocol: tls}
  transport_socket:
    name: envoy.transport_sockets.tls
    typed_config:
      '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
      require_client_certificate: true
      common_tls_context:
        alpn_protocols: [http/1.1]
        tls_certificate_sds_secret_configs: [{name: server-cert, sds_config: {ads: {}, resource_api_version: V3, initial_fetch_timeout: )",
      fetch_timeout, R"(}}]
        combined_validation_context:
          default_validation_context:
            match_typed_subject_alt_names: [{san_type: URI, matcher: {prefix: "spiffe://cluster.local/ns/a/"}}]
          validation_context_sds_secret_config: {name: mesh-ca, sds_config: {ads: {}, resource_api_version: V3, initial_fetch_timeout: )",
      fetch_timeout, R"(}}
  filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: tls_in
      access_log:
      - name: envoy.access_loggers.file
        typed_config: {'@type': type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog, path: )",
      log_path,
      R"(, log_format: {text_format_source: {inline_string: "%REQ(:PATH)% %RESPONSE_CODE% peer=%DOWNSTREAM_PEER_URI_SAN%\n"}}}
      route_config:
        virtual_hosts:
        - name: all
          domains: ['*']
          routes: [{match: {prefix: /}, route: {cluster: app}}]
      http_filters:
      - name: envoy.filters.http.router
        typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
)");
}

std::string appCluster(uint16_t port) {
  return cat("'@type': ", kClusterType,
             "\nname: app\ntype: STATIC\nconnect_timeout: 1s\nload_assignment: {cluster_name: app, "
             "endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: "
             "127.0.0.1, port_value: ",
             port, "}}}}]}]}\n");
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// `openssl x509 -noout -serial` of a PEM certificate ("serial=...").
std::string serialOf(const std::string& pem_file) {
  std::string out;
  REQUIRE(runCommand({"openssl", "x509", "-noout", "-serial", "-in", pem_file}, &out) == 0);
  return trimmed(out);
}

// A blocking TLS 1.3 client with our client certificate, verifying the server by the CA and
// its DNS name: a keep-alive HTTP/1.1 connection.
class TlsClient {
 public:
  TlsClient(uint16_t port, const testing::TestCert& ca, const testing::TestCert& cert) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    X509_STORE* store = SSL_CTX_get_cert_store(ctx_);
    X509* root = readCert(ca.cert_pem);
    X509_STORE_add_cert(store, root);
    X509_free(root);
    X509* leaf = readCert(cert.cert_pem);
    SSL_CTX_use_certificate(ctx_, leaf);
    X509_free(leaf);
    BIO* b = BIO_new_mem_buf(cert.key_pem.data(), static_cast<int>(cert.key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
    BIO_free(b);
    SSL_CTX_use_PrivateKey(ctx_, key);
    EVP_PKEY_free(key);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    fd_ = testing::connectTcp("127.0.0.1", port, 2000);
    REQUIRE(fd_ >= 0);
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, kServerName);
    SSL_set1_host(ssl_, kServerName);
    int rc = SSL_connect(ssl_);
    INFO("TLS handshake: " << ERR_error_string(ERR_get_error(), nullptr));
    REQUIRE(rc == 1);
  }
  ~TlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    close(fd_);
  }

  // The server certificate's serial, as openssl prints it.
  std::string peerSerial() const {
    X509* peer = SSL_get1_peer_certificate(ssl_);
    REQUIRE(peer != nullptr);
    BIO* b = BIO_new(BIO_s_mem());
    BIO_puts(b, "serial=");
    i2a_ASN1_INTEGER(b, X509_get_serialNumber(peer));
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(b);
    X509_free(peer);
    return out;
  }

  // GET `path` on this connection; the status code (0 when the connection failed).
  int get(const std::string& path) {
    std::string req = cat("GET ", path, " HTTP/1.1\r\nHost: ", kServerName, "\r\n\r\n");
    if (SSL_write(ssl_, req.data(), static_cast<int>(req.size())) <= 0) return 0;
    std::string resp;
    char buf[4096];
    for (;;) {
      size_t head = resp.find("\r\n\r\n");
      if (head != std::string::npos) {
        size_t cl = resp.find("content-length: ");
        if (cl == std::string::npos) cl = resp.find("Content-Length: ");
        if (cl != std::string::npos && cl < head) {
          size_t len = std::stoul(resp.substr(cl + 16));
          if (resp.size() >= head + 4 + len) break;
        }
      }
      int n = SSL_read(ssl_, buf, sizeof(buf));
      if (n <= 0) return 0;
      resp.append(buf, static_cast<size_t>(n));
    }
    int status = 0;
    if (resp.rfind("HTTP/1.1 ", 0) == 0) parseInt(std::string_view(resp).substr(9, 3), &status);
    return status;
  }

 private:
  static X509* readCert(const std::string& pem) {
    BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
    BIO_free(b);
    REQUIRE(x != nullptr);
    return x;
  }
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
};

struct CurlResult {
  int rc = -1;
  std::string out;
};

TEST_CASE(
    "sds: a listener's certificate and client roots over ADS from remora-control - curl with a "
    "client certificate, then a rotated certificate for new connections only",
    "[sds][xds]") {
  bool delta = GENERATE(false, true);
  INFO((delta ? "DELTA_GRPC" : "GRPC"));
  std::string dir = Binaries::get().dir + cat("/sds-", delta ? "delta" : "sotw");
  std::string resources = dir + "/resources";
  fs::create_directories(resources);
  testing::TestCert ca = testing::makeRootCa("sds mesh root");
  testing::TestCert server1 = testing::issueLeaf(ca, kServerId, kServerName);
  testing::TestCert server2 = testing::issueLeaf(ca, kServerId, kServerName);
  testing::TestCert client = testing::issueLeaf(ca, kClientId);
  testing::TestCert other_ns = testing::issueLeaf(ca, "spiffe://cluster.local/ns/z/sa/client");
  std::ofstream(dir + "/ca.pem") << ca.cert_pem;
  std::ofstream(dir + "/client.pem") << client.cert_pem;
  std::ofstream(dir + "/client.key") << client.key_pem;
  std::ofstream(dir + "/other.pem") << other_ns.cert_pem;
  std::ofstream(dir + "/other.key") << other_ns.key_pem;
  std::ofstream(dir + "/server1.pem") << server1.cert_pem;
  std::ofstream(dir + "/server2.pem") << server2.cert_pem;
  std::string serial1 = serialOf(dir + "/server1.pem");
  std::string serial2 = serialOf(dir + "/server2.pem");
  REQUIRE(serial1 != serial2);

  Upstream app;
  uint16_t port = freePort();
  std::string access_log = dir + "/access.log";
  writeFile(resources + "/listener.yaml", listener(port, access_log));
  writeFile(resources + "/app.yaml", appCluster(app.port()));
  // The Secrets, one file each, as an operator would keep them.
  writeFile(resources + "/server-cert.yaml", certSecret("server-cert", server1));
  writeFile(resources + "/mesh-ca.yaml", caSecret("mesh-ca", ca));

  Process control(
      {testing::buildDir() + "/xds/remora-control", "--config-dir", resources, "--listen",
       "127.0.0.1:0", "--port-file", dir + "/cp.port", "--admin-address", "127.0.0.1:0"},
      dir + "/control.log");
  int cp_port = 0;
  REQUIRE(testing::waitFor([&] {
    std::ifstream in(dir + "/cp.port");
    return static_cast<bool>(in >> cp_port);
  }));
  ProxyUnderTest proxy(bootstrapYaml(cp_port, delta));
  bool up = testing::waitFor([&] {
    int fd = testing::connectTcp("127.0.0.1", port, 200);
    if (fd < 0) return false;
    close(fd);
    return proxy.ready();
  });
  INFO("remora log:\n" << proxy.log() << "\ncontrol log:\n" << control.log());
  REQUIRE(up);
  // Counted once the update is acknowledged, just after it is in service.
  CHECK(testing::waitFor([&] { return proxy.stat("sds.update_success") >= 1; }));
  CHECK(proxy.stat("sds.update_rejected") == 0);

  std::string url = cat("https://", kServerName, ":", port, "/hello");
  std::string resolve = cat(kServerName, ":", port, ":127.0.0.1");
  auto curl = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv{"curl",      "-sS",   "--max-time", "10",
                                  "--resolve", resolve, "--cacert",   dir + "/ca.pem"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(url);
    CurlResult r;
    r.rc = runCommand(argv, &r.out);
    return r;
  };
  CurlResult ok = curl({"--cert", dir + "/client.pem", "--key", dir + "/client.key"});
  INFO(ok.out);
  CHECK(ok.rc == 0);
  CHECK(ok.out == "hello GET /hello");
  // Without a client certificate, and with one from a namespace the SAN matcher refuses.
  CHECK(curl({}).rc != 0);
  CHECK(curl({"--cert", dir + "/other.pem", "--key", dir + "/other.key"}).rc != 0);
  CHECK(app.requests() == std::vector<std::string>{"GET /hello"});

  // A keep-alive connection made with the first certificate.
  TlsClient kept(port, ca, client);
  CHECK(kept.peerSerial() == serial1);
  CHECK(kept.get("/before") == 200);

  // Rotation: the Secret's file gets a new certificate.
  int64_t sds_updates = proxy.stat("sds.update_success");
  writeFile(resources + "/server-cert.yaml", certSecret("server-cert", server2));
  std::string seen;
  bool rotated = testing::waitFor(
      [&] {
        std::string out;
        runCommand({"sh", "-c",
                    cat("openssl s_client -connect 127.0.0.1:", port, " -servername ", kServerName,
                        " -cert ", dir, "/client.pem -key ", dir, "/client.key -CAfile ", dir,
                        "/ca.pem </dev/null 2>/dev/null | openssl x509 -noout -serial")},
                   &out);
        seen = trimmed(out);
        return seen == serial2;
      },
      10000);
  INFO("serial seen: " << seen << " (was " << serial1 << ", want " << serial2 << ")");
  CHECK(rotated);
  CHECK(testing::waitFor([&] { return proxy.stat("sds.update_success") > sds_updates; }));
  // New connections: curl verifies and gets through; an in-process client sees the serial.
  CurlResult after = curl({"--cert", dir + "/client.pem", "--key", dir + "/client.key", "-v"});
  CHECK(after.rc == 0);
  CHECK(after.out.find("hello GET /hello") != std::string::npos);
  TlsClient fresh(port, ca, client);
  CHECK(fresh.peerSerial() == serial2);
  CHECK(fresh.get("/fresh") == 200);
  // The connection made before keeps its session and goes on working.
  CHECK(kept.peerSerial() == serial1);
  CHECK(kept.get("/after") == 200);
  CHECK(kept.get("/after-again") == 200);

  // The access log shows the client's SPIFFE ID for every request that got through.
  std::string log;
  REQUIRE(testing::waitFor([&] {
    std::ifstream in(access_log);
    std::stringstream ss;
    ss << in.rdbuf();
    log = ss.str();
    return log.find("/after-again") != std::string::npos;
  }));
  INFO(log);
  for (const char* path : {"/hello", "/before", "/fresh", "/after", "/after-again"}) {
    CHECK(log.find(cat(path, " 200 peer=", kClientId)) != std::string::npos);
  }
  CHECK(proxy.stat("sds.update_rejected") == 0);
  CHECK(proxy.log().find("rejected") == std::string::npos);
}

// A plaintext HTTP listener whose only route goes to the cluster `tls-up`, and that cluster:
// mTLS to the `tls-in` listener above, its client certificate and roots over ADS.
std::string plainListener(uint16_t port, const std::string& log_path) {
  return cat(
      R"('@type': type.googleapis.com/envoy.config.listener.v3.Listener
name: plain-in
address: {socket_address: {address: 127.0.0.1, port_value: )",
      port, R"(}}
filter_chains:
- filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: plain_in
      access_log:
      - name: envoy.access_loggers.file
        typed_config: {'@type': type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog, path: )",
      log_path,
      R"(, log_format: {text_format_source: {inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS%\n"}}}
      route_config:
        virtual_hosts:
        - name: all
          domains: ['*']
          routes: [{match: {prefix: /}, route: {cluster: tls-up}}]
      http_filters:
      - name: envoy.filters.http.router
        typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
)");
}

std::string tlsUpCluster(uint16_t tls_port, const std::string& fetch_timeout) {
  return cat("'@type': ", kClusterType,
             "\nname: tls-up\ntype: STATIC\nconnect_timeout: 1s\nload_assignment: {cluster_name: "
             "tls-up, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: "
             "127.0.0.1, port_value: ",
             tls_port, R"(}}}}]}]}
transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
    sni: )",
             kServerName, R"(
    common_tls_context:
      tls_certificate_sds_secret_configs: [{name: client-cert, sds_config: {ads: {}, resource_api_version: V3}}]
      validation_context_sds_secret_config: {name: up-roots, sds_config: {ads: {}, resource_api_version: V3, initial_fetch_timeout: )",
             fetch_timeout, R"(}}
)");
}

TEST_CASE(
    "sds: secrets that do not arrive hold readiness until initial_fetch_timeout - then the "
    "listener and the cluster serve refusing every handshake, until the secrets come",
    "[sds][xds]") {
  bool delta = GENERATE(false, true);
  INFO((delta ? "DELTA_GRPC" : "GRPC"));
  std::string dir = Binaries::get().dir + cat("/sds-late-", delta ? "delta" : "sotw");
  std::string resources = dir + "/resources";
  fs::create_directories(resources);
  testing::TestCert ca = testing::makeRootCa("sds late root");
  testing::TestCert server = testing::issueLeaf(ca, kServerId, kServerName);
  testing::TestCert client = testing::issueLeaf(ca, kClientId);
  std::ofstream(dir + "/ca.pem") << ca.cert_pem;
  std::ofstream(dir + "/client.pem") << client.cert_pem;
  std::ofstream(dir + "/client.key") << client.key_pem;

  Upstream app;
  uint16_t tls_port = freePort();
  uint16_t plain_port = freePort();
  // The secrets' own initial_fetch_timeout: long enough that the checks below run well inside
  // it.
  writeFile(resources + "/listener.yaml", listener(tls_port, dir + "/access.log", "8s"));
  writeFile(resources + "/plain.yaml", plainListener(plain_port, dir + "/plain.log"));
  writeFile(resources + "/app.yaml", appCluster(app.port()));
  writeFile(resources + "/tls-up.yaml", tlsUpCluster(tls_port, "8s"));
  // Present from the start: the listener's client roots and the cluster's certificate. Missing:
  // the listener's certificate (server-cert) and the cluster's roots (up-roots).
  writeFile(resources + "/mesh-ca.yaml", caSecret("mesh-ca", ca));
  writeFile(resources + "/client-cert.yaml", certSecret("client-cert", client));

  Process control(
      {testing::buildDir() + "/xds/remora-control", "--config-dir", resources, "--listen",
       "127.0.0.1:0", "--port-file", dir + "/cp.port", "--admin-address", "127.0.0.1:0"},
      dir + "/control.log");
  int cp_port = 0;
  REQUIRE(testing::waitFor([&] {
    std::ifstream in(dir + "/cp.port");
    return static_cast<bool>(in >> cp_port);
  }));
  ProxyUnderTest proxy(bootstrapYaml(cp_port, delta));
  INFO("remora log:\n" << proxy.log() << "\ncontrol log:\n" << control.log());
  // The clusters and the secrets there are arrive; `tls-up` warms for its roots, so the
  // listeners are not even asked for yet, and the proxy is not ready.
  REQUIRE(testing::waitFor([&] { return proxy.stat("sds.update_success") >= 1; }));
  CHECK(proxy.stat("cluster_manager.cds.update_success") >= 1);
  CHECK_FALSE(proxy.ready());
  CHECK(proxy.stat("listener_manager.lds.update_success") == 0);
  HttpResult dump = proxy.admin("/config_dump");
  CHECK(dump.body.find("tls-up") != std::string::npos);

  // After the timeout: ready, with both in service.
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }, 30000));
  CHECK(testing::waitFor([&] {
    return proxy.log().find("secret 'server-cert' did not arrive within initial_fetch_timeout") !=
           std::string::npos;
  }));
  CHECK(proxy.log().find("secret 'up-roots' did not arrive within initial_fetch_timeout") !=
        std::string::npos);
  REQUIRE(testing::waitFor([&] {
    int fd = testing::connectTcp("127.0.0.1", tls_port, 200);
    if (fd < 0) return false;
    close(fd);
    fd = testing::connectTcp("127.0.0.1", plain_port, 200);
    if (fd < 0) return false;
    close(fd);
    return true;
  }));

  std::string cluster_stat =
      "cluster.tls-up.client_ssl_socket_factory.upstream_context_secrets_not_ready";
  std::string listener_stat =
      cat("listener.127.0.0.1_", tls_port,
          ".server_ssl_socket_factory.downstream_context_secrets_not_ready");
  // The cluster without its roots: never a connection without verification, a 503 UF.
  HttpResult r = ProxyUnderTest::hostHttp(plain_port, "GET", "/through");
  CHECK(r.status == 503);
  CHECK(proxy.stat(cluster_stat) >= 1);
  // The listener without its certificate refuses the handshake; nothing reaches the app.
  std::string url = cat("https://", kServerName, ":", tls_port, "/direct");
  std::vector<std::string> curl{"curl",       "-sS",
                                "--max-time", "10",
                                "--resolve",  cat(kServerName, ":", tls_port, ":127.0.0.1"),
                                "--cacert",   dir + "/ca.pem",
                                "--cert",     dir + "/client.pem",
                                "--key",      dir + "/client.key",
                                url};
  std::string out;
  CHECK(runCommand(curl, &out) != 0);
  CHECK(proxy.stat(listener_stat) == 1);
  CHECK(app.requests().empty());

  // The secrets come: both heal, and the whole chain works: plain-in -> tls-up (mTLS) ->
  // tls-in -> app.
  int64_t sds_updates = proxy.stat("sds.update_success");
  writeFile(resources + "/server-cert.yaml", certSecret("server-cert", server));
  writeFile(resources + "/up-roots.yaml", caSecret("up-roots", ca));
  REQUIRE(testing::waitFor([&] { return proxy.stat("sds.update_success") > sds_updates; }));
  int status = 0;
  CHECK(testing::waitFor([&] {
    status = ProxyUnderTest::hostHttp(plain_port, "GET", "/through").status;
    return status == 200;
  }));
  INFO("last status " << status);
  out.clear();
  CHECK(runCommand(curl, &out) == 0);
  CHECK(out == "hello GET /direct");
  CHECK(proxy.stat(listener_stat) == 1);
  CHECK(proxy.stat("sds.update_rejected") == 0);
  std::string log;
  CHECK(testing::waitFor([&] {
    std::ifstream in(dir + "/plain.log");
    std::stringstream ss;
    ss << in.rdbuf();
    log = ss.str();
    return log.find("/through 200") != std::string::npos;
  }));
  INFO(log);
  CHECK(log.rfind("/through 503 UF\n", 0) == 0);  // the first request, before the secrets
}

}  // namespace
}  // namespace remora::integration
