// The ADS client's resource state for SDS: clusters and listeners whose TLS contexts name
// secrets over ADS warm until the secrets arrive, then carry their PEM; a rotated secret is a
// changed context; the local identity's and the bootstrap's secrets take precedence; a changed
// listener keeps its previous version while its new secret is on the way.
#include <catch2/catch.hpp>

#include "proxy/common/strings.h"
#include "test/common/test_certs.h"
#include "xds/client/config_state.h"
#include "xds/common/load.h"

namespace remora::xds {
namespace {

using google::protobuf::Any;
using google::protobuf::RepeatedPtrField;

Any any(const std::string& yaml) {
  Any a;
  auto st = parseMessage(yaml, &a);
  INFO(st.ToString());
  REQUIRE(st.ok());
  return a;
}

absl::Status sotw(ConfigState& s, ResourceType type, const std::string& version,
                  std::initializer_list<std::string> yamls) {
  RepeatedPtrField<Any> list;
  for (const auto& y : yamls) *list.Add() = any(y);
  return s.applySotw(type, version, list, 1000, nullptr);
}

absl::Status deltaRemove(ConfigState& s, ResourceType type, const std::string& name) {
  RepeatedPtrField<envoy::service::discovery::v3::Resource> none;
  RepeatedPtrField<std::string> removed;
  *removed.Add() = name;
  return s.applyDelta(type, none, removed, 1000, nullptr);
}

config::ProxyConfig applyAndCommit(ConfigState& s) {
  config::ProxyConfig cfg = s.assemble();
  s.commitActive(cfg);
  s.pruneRoutes();
  return cfg;
}

// PEM as a YAML double-quoted scalar.
std::string q(const std::string& pem) {
  std::string out = "\"";
  for (char c : pem) out += c == '\n' ? std::string("\\n") : std::string(1, c);
  return out + "\"";
}

constexpr const char* kAds = "{ads: {}, resource_api_version: V3}";
constexpr const char* kIstioSds =
    "{api_config_source: {api_type: GRPC, transport_api_version: V3, grpc_services: "
    "[{envoy_grpc: {cluster_name: sds-grpc}}]}}";

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

// A STATIC cluster (no EDS to wait for) whose TLS names a certificate and roots by SDS.
std::string tlsCluster(const std::string& name, const std::string& cert, const std::string& roots,
                       const std::string& source = kAds) {
  return cat(
      R"('@type': type.googleapis.com/envoy.config.cluster.v3.Cluster
name: )",
      name, R"(
type: STATIC
connect_timeout: 1s
load_assignment: {cluster_name: )",
      name,
      R"(, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 192.0.2.10, port_value: 8443}}}}]}]}
transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
    sni: backend.example
    common_tls_context:
      tls_certificate_sds_secret_configs: [{name: )",
      cert, ", sds_config: ", source, R"(}]
      combined_validation_context:
        default_validation_context:
          match_typed_subject_alt_names: [{san_type: URI, matcher: {exact: "spiffe://td/ns/b/sa/backend"}}]
        validation_context_sds_secret_config: {name: )",
      roots, ", sds_config: ", source, "}\n");
}

// A TLS-terminating tcp_proxy listener whose certificate (and optionally roots) are SDS names.
std::string tlsListener(const std::string& name, int port, const std::string& cert,
                        const std::string& roots = "") {
  std::string validation =
      roots.empty() ? std::string()
                    : cat("\n        validation_context_sds_secret_config: {name: ", roots,
                          ", sds_config: ", kAds, "}");
  return cat(R"('@type': type.googleapis.com/envoy.config.listener.v3.Listener
name: )",
             name, R"(
address: {socket_address: {address: 127.0.0.1, port_value: )",
             port, R"(}}
filter_chains:
- transport_socket:
    name: envoy.transport_sockets.tls
    typed_config:
      '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
      common_tls_context:
        tls_certificate_sds_secret_configs: [{name: )",
             cert, ", sds_config: ", kAds, "}]", validation, R"(
  filters:
  - name: envoy.filters.network.tcp_proxy
    typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: in, cluster: app}
)");
}

const config::ClusterConfig* findCluster(const config::ProxyConfig& c, const std::string& name) {
  for (const auto& x : c.clusters) {
    if (x.name == name) return &x;
  }
  return nullptr;
}
const config::ListenerConfig* findListener(const config::ProxyConfig& c, const std::string& name) {
  for (const auto& x : c.listeners) {
    if (x.name == name) return &x;
  }
  return nullptr;
}
const config::CommonTlsConfig& listenerTls(const config::ListenerConfig& l) {
  REQUIRE(l.filter_chains.size() == 1);
  REQUIRE(l.filter_chains[0].tls);
  return l.filter_chains[0].tls->common;
}

struct Pki {
  testing::TestCert ca = testing::makeRootCa("sds root");
  testing::TestCert ca2 = testing::makeRootCa("sds root 2");
  testing::TestCert client = testing::issueLeaf(ca, "spiffe://td/ns/a/sa/client");
  testing::TestCert client2 = testing::issueLeaf(ca, "spiffe://td/ns/a/sa/client");
  testing::TestCert server = testing::issueLeaf(ca, "spiffe://td/ns/b/sa/backend");
  testing::TestCert server2 = testing::issueLeaf(ca, "spiffe://td/ns/b/sa/backend");
};
const Pki& pki() {
  static const Pki* p = new Pki;
  return *p;
}

TEST_CASE("SDS: a cluster warms until its ADS secrets arrive, then carries their PEM",
          "[xds][sds]") {
  const Pki& p = pki();
  ConfigState s;
  REQUIRE(sotw(s, ResourceType::Cluster, "c1",
               {tlsCluster("backend", "client-cert", "mesh-roots"),
                tlsCluster("local-identity", "default", "ROOTCA", kIstioSds)})
              .ok());
  // Only the names with sds_config.ads are fetched over ADS.
  CHECK(s.adsSecretNames() == std::set<std::string>{"client-cert", "mesh-roots"});
  config::ProxyConfig cfg = applyAndCommit(s);
  CHECK(findCluster(cfg, "backend") == nullptr);
  CHECK(findCluster(cfg, "local-identity") == nullptr);  // waits for the identity provider

  // One of two secrets is not enough.
  REQUIRE(sotw(s, ResourceType::Secret, "s1", {certSecret("client-cert", p.client)}).ok());
  cfg = applyAndCommit(s);
  CHECK(findCluster(cfg, "backend") == nullptr);

  REQUIRE(sotw(s, ResourceType::Secret, "s2",
               {certSecret("client-cert", p.client), caSecret("mesh-roots", p.ca)})
              .ok());
  cfg = applyAndCommit(s);
  const config::ClusterConfig* c = findCluster(cfg, "backend");
  REQUIRE(c != nullptr);
  REQUIRE(c->tls);
  const auto& tls = c->tls->common;
  CHECK(tls.secrets_ready());
  REQUIRE(tls.certificate);
  CHECK(tls.certificate->cert_chain_pem == p.client.cert_pem);
  CHECK(tls.certificate->private_key_pem == p.client.key_pem);
  REQUIRE(tls.validation);
  CHECK(tls.validation->trusted_ca_pem == p.ca.cert_pem);
  // The combined context's SAN matcher stays beside the roots from the secret.
  REQUIRE(tls.validation->match_sans.size() == 1);
  CHECK(tls.validation->match_sans[0].matcher.value == "spiffe://td/ns/b/sa/backend");
  CHECK(c->tls->sni == "backend.example");
  // The secrets are listed for /config_dump.
  CHECK(cfg.secrets.size() == 2);
  CHECK(findCluster(cfg, "local-identity") == nullptr);
}

TEST_CASE("SDS: a rotated secret changes the assembled cluster", "[xds][sds]") {
  const Pki& p = pki();
  ConfigState s;
  REQUIRE(
      sotw(s, ResourceType::Cluster, "c1", {tlsCluster("backend", "client-cert", "roots")}).ok());
  REQUIRE(sotw(s, ResourceType::Secret, "s1",
               {certSecret("client-cert", p.client), caSecret("roots", p.ca)})
              .ok());
  config::ProxyConfig before = applyAndCommit(s);
  REQUIRE(findCluster(before, "backend") != nullptr);

  // A new certificate, then new roots: each is a different context (a new SSL_CTX).
  REQUIRE(sotw(s, ResourceType::Secret, "s2",
               {certSecret("client-cert", p.client2), caSecret("roots", p.ca)})
              .ok());
  config::ProxyConfig after = applyAndCommit(s);
  const config::ClusterConfig* c = findCluster(after, "backend");
  REQUIRE(c != nullptr);
  CHECK(c->tls->common.certificate->cert_chain_pem == p.client2.cert_pem);
  CHECK(c->tls->common.certificate->private_key_pem == p.client2.key_pem);
  CHECK_FALSE(*c->tls == *findCluster(before, "backend")->tls);

  REQUIRE(sotw(s, ResourceType::Secret, "s3",
               {certSecret("client-cert", p.client2), caSecret("roots", p.ca2)})
              .ok());
  config::ProxyConfig third = applyAndCommit(s);
  c = findCluster(third, "backend");
  REQUIRE(c != nullptr);
  CHECK(c->tls->common.validation->trusted_ca_pem == p.ca2.cert_pem);
  CHECK(c->tls->common.validation->match_sans.size() == 1);

  // An unchanged secret resent (SotW) changes nothing.
  REQUIRE(sotw(s, ResourceType::Secret, "s4",
               {certSecret("client-cert", p.client2), caSecret("roots", p.ca2)})
              .ok());
  CHECK(*findCluster(applyAndCommit(s), "backend")->tls == *c->tls);
}

TEST_CASE("SDS: local identity secrets override static ones, static ones override ADS",
          "[xds][sds]") {
  const Pki& p = pki();
  // The bootstrap has a static secret named like one the cluster asks ADS for.
  config::ProxyConfig bootstrap;
  config::SecretConfig fixed;
  fixed.name = "client-cert";
  fixed.tls_certificate = config::TlsCertificate{p.client2.cert_pem, p.client2.key_pem};
  bootstrap.secrets.push_back(fixed);
  ConfigState s(bootstrap);
  REQUIRE(sotw(s, ResourceType::Cluster, "c1",
               {tlsCluster("backend", "client-cert", "roots"),
                tlsCluster("istio", "default", "ROOTCA", kIstioSds),
                tlsCluster("over-ads", "default", "ROOTCA")})
              .ok());
  // "default" and "ROOTCA" named over ADS are asked for; over sds-grpc they are not.
  CHECK(s.adsSecretNames() == std::set<std::string>{"client-cert", "roots", "default", "ROOTCA"});
  REQUIRE(sotw(s, ResourceType::Secret, "s1",
               {certSecret("client-cert", p.client), caSecret("roots", p.ca),
                certSecret("default", p.server), caSecret("ROOTCA", p.ca)})
              .ok());
  config::ProxyConfig cfg = applyAndCommit(s);
  // The static secret wins over the one from ADS.
  REQUIRE(findCluster(cfg, "backend") != nullptr);
  CHECK(findCluster(cfg, "backend")->tls->common.certificate->cert_chain_pem == p.client2.cert_pem);
  // Before the identity provider delivers, ADS's "default" serves both.
  REQUIRE(findCluster(cfg, "istio") != nullptr);
  CHECK(findCluster(cfg, "istio")->tls->common.certificate->cert_chain_pem == p.server.cert_pem);

  // The local identity's certificate and roots take precedence over everything.
  config::SecretConfig mine;
  mine.name = "default";
  mine.tls_certificate = config::TlsCertificate{p.server2.cert_pem, p.server2.key_pem};
  config::SecretConfig roots;
  roots.name = "ROOTCA";
  roots.validation_context = config::ValidationContext{p.ca2.cert_pem, {}};
  s.setLocalSecret(mine);
  s.setLocalSecret(roots);
  cfg = applyAndCommit(s);
  for (const char* name : {"istio", "over-ads"}) {
    INFO(name);
    const config::ClusterConfig* c = findCluster(cfg, name);
    REQUIRE(c != nullptr);
    CHECK(c->tls->common.certificate->cert_chain_pem == p.server2.cert_pem);
    CHECK(c->tls->common.validation->trusted_ca_pem == p.ca2.cert_pem);
  }
  CHECK(s.findSecret("default")->tls_certificate->cert_chain_pem == p.server2.cert_pem);
  CHECK(s.findSecret("client-cert")->tls_certificate->cert_chain_pem == p.client2.cert_pem);
  CHECK(s.findSecret("nothing") == nullptr);
}

TEST_CASE("SDS: a listener naming a missing secret stays out until it arrives", "[xds][sds]") {
  const Pki& p = pki();
  ConfigState s;
  REQUIRE(sotw(s, ResourceType::Listener, "l1", {tlsListener("tls-in", 8443, "server-cert")}).ok());
  CHECK(s.adsSecretNames() == std::set<std::string>{"server-cert"});
  config::ProxyConfig cfg = applyAndCommit(s);
  CHECK(findListener(cfg, "tls-in") == nullptr);
  CHECK(s.activeListenerResources().empty());

  // Another secret arriving does not help.
  REQUIRE(sotw(s, ResourceType::Secret, "s1", {certSecret("other", p.client)}).ok());
  CHECK(findListener(applyAndCommit(s), "tls-in") == nullptr);

  REQUIRE(sotw(s, ResourceType::Secret, "s2", {certSecret("server-cert", p.server)}).ok());
  cfg = applyAndCommit(s);
  const config::ListenerConfig* l = findListener(cfg, "tls-in");
  REQUIRE(l != nullptr);
  const auto& tls = listenerTls(*l);
  REQUIRE(tls.certificate);
  CHECK(tls.certificate->cert_chain_pem == p.server.cert_pem);
  CHECK(s.activeListenerResources().at("tls-in")->version == "l1");
}

TEST_CASE("SDS: a changed listener keeps its previous version until its new secret arrives",
          "[xds][sds]") {
  const Pki& p = pki();
  ConfigState s;
  REQUIRE(sotw(s, ResourceType::Listener, "l1", {tlsListener("tls-in", 8443, "cert-a")}).ok());
  REQUIRE(sotw(s, ResourceType::Secret, "s1", {certSecret("cert-a", p.server)}).ok());
  REQUIRE(findListener(applyAndCommit(s), "tls-in") != nullptr);

  // Version 2 wants another certificate and client verification against roots.
  REQUIRE(sotw(s, ResourceType::Listener, "l2", {tlsListener("tls-in", 8443, "cert-b", "roots-b")})
              .ok());
  CHECK(s.adsSecretNames() == std::set<std::string>{"cert-a", "cert-b", "roots-b"});
  config::ProxyConfig cfg = applyAndCommit(s);
  const config::ListenerConfig* l = findListener(cfg, "tls-in");
  REQUIRE(l != nullptr);  // make before break: version 1 serves
  CHECK(listenerTls(*l).certificate_sds == "cert-a");
  CHECK(listenerTls(*l).certificate->cert_chain_pem == p.server.cert_pem);
  CHECK(s.activeListenerResources().at("tls-in")->version == "l1");

  // Version 1's secret rotates meanwhile: the version in force gets it.
  REQUIRE(sotw(s, ResourceType::Secret, "s2", {certSecret("cert-a", p.server2)}).ok());
  cfg = applyAndCommit(s);
  l = findListener(cfg, "tls-in");
  REQUIRE(l != nullptr);
  CHECK(listenerTls(*l).certificate_sds == "cert-a");
  CHECK(listenerTls(*l).certificate->cert_chain_pem == p.server2.cert_pem);

  REQUIRE(sotw(s, ResourceType::Secret, "s3",
               {certSecret("cert-b", p.client), caSecret("roots-b", p.ca)})
              .ok());
  cfg = applyAndCommit(s);
  l = findListener(cfg, "tls-in");
  REQUIRE(l != nullptr);
  CHECK(listenerTls(*l).certificate_sds == "cert-b");
  CHECK(listenerTls(*l).certificate->cert_chain_pem == p.client.cert_pem);
  CHECK(listenerTls(*l).validation->trusted_ca_pem == p.ca.cert_pem);
  CHECK(s.activeListenerResources().at("tls-in")->version == "l2");
  // cert-a is no longer named by anything in force.
  CHECK(s.adsSecretNames() == std::set<std::string>{"cert-b", "roots-b"});
}

TEST_CASE("SDS: a secret the server removes does not strip a context in force of its PEM",
          "[xds][sds]") {
  // Envoy keeps an SDS secret the server removes while a context uses it; so does remora, with
  // the secrets the context was applied with. Serving the cluster with its trust bundle gone
  // would turn verification of the upstream off.
  const Pki& p = pki();
  ConfigState s;
  std::string cluster = cat(R"('@type': type.googleapis.com/envoy.config.cluster.v3.Cluster
name: backend
type: STATIC
connect_timeout: 1s
load_assignment: {cluster_name: backend, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 192.0.2.10, port_value: 8443}}}}]}]}
transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
    common_tls_context:
      validation_context_sds_secret_config: {name: roots, sds_config: )",
                            kAds, "}\n");
  REQUIRE(sotw(s, ResourceType::Cluster, "c1", {cluster}).ok());
  REQUIRE(sotw(s, ResourceType::Secret, "s1", {caSecret("roots", p.ca)}).ok());
  config::ProxyConfig cfg = applyAndCommit(s);
  REQUIRE(findCluster(cfg, "backend") != nullptr);
  CHECK(findCluster(cfg, "backend")->tls->common.validation->trusted_ca_pem == p.ca.cert_pem);

  REQUIRE(deltaRemove(s, ResourceType::Secret, "roots").ok());
  cfg = applyAndCommit(s);
  const config::ClusterConfig* c = findCluster(cfg, "backend");
  REQUIRE(c != nullptr);
  REQUIRE(c->tls);
  REQUIRE(c->tls->common.validation);
  CHECK(c->tls->common.validation->trusted_ca_pem == p.ca.cert_pem);
  // Still asked for, and taken when it comes back.
  CHECK(s.adsSecretNames().count("roots") == 1);
  REQUIRE(sotw(s, ResourceType::Secret, "s3", {caSecret("roots", p.ca2)}).ok());
  CHECK(findCluster(applyAndCommit(s), "backend")->tls->common.validation->trusted_ca_pem ==
        p.ca2.cert_pem);
  // The same for a listener's certificate.
  REQUIRE(sotw(s, ResourceType::Listener, "l1", {tlsListener("tls-in", 8443, "cert-a")}).ok());
  REQUIRE(sotw(s, ResourceType::Secret, "s2", {certSecret("cert-a", p.server)}).ok());
  REQUIRE(findListener(applyAndCommit(s), "tls-in") != nullptr);
  REQUIRE(deltaRemove(s, ResourceType::Secret, "cert-a").ok());
  cfg = applyAndCommit(s);
  const config::ListenerConfig* l = findListener(cfg, "tls-in");
  REQUIRE(l != nullptr);
  REQUIRE(listenerTls(*l).certificate);
  CHECK(listenerTls(*l).certificate->cert_chain_pem == p.server.cert_pem);
  // A listener that never had its secret is still not served.
  REQUIRE(sotw(s, ResourceType::Listener, "l2",
               {tlsListener("tls-in", 8443, "cert-a"), tlsListener("never", 8444, "cert-z")})
              .ok());
  cfg = applyAndCommit(s);
  CHECK(findListener(cfg, "tls-in") != nullptr);
  CHECK(findListener(cfg, "never") == nullptr);
}

TEST_CASE("SDS: a broken Secret is rejected naming it, and the previous one stays", "[xds][sds]") {
  const Pki& p = pki();
  ConfigState s;
  REQUIRE(
      sotw(s, ResourceType::Cluster, "c1", {tlsCluster("backend", "client-cert", "roots")}).ok());
  REQUIRE(sotw(s, ResourceType::Secret, "s1",
               {certSecret("client-cert", p.client), caSecret("roots", p.ca)})
              .ok());
  applyAndCommit(s);
  ConfigState next = s;  // what the client stages before applying
  auto st = sotw(next, ResourceType::Secret, "s2",
                 {cat("'@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
                      "Secret\nname: client-cert\ntls_certificate: {certificate_chain: "
                      "{inline_string: garbage}, private_key: {inline_string: ",
                      q(p.client.key_pem), "}}\n")});
  REQUIRE_FALSE(st.ok());
  CHECK(st.message() ==
        "secret 'client-cert'.tls_certificate.certificate_chain: no PEM certificate");
  CHECK(findCluster(s.assemble(), "backend")->tls->common.certificate->cert_chain_pem ==
        p.client.cert_pem);
  CHECK(s.versions(ResourceType::Secret) ==
        std::map<std::string, std::string>{{"client-cert", "s1"}, {"roots", "s1"}});
}

TEST_CASE(
    "SDS: pending secrets keep clusters and listeners warming - given up on, they serve with a "
    "context that is not ready, until the secret arrives",
    "[xds][sds]") {
  const Pki& p = pki();
  ConfigState s;
  REQUIRE(
      sotw(s, ResourceType::Cluster, "c1", {tlsCluster("backend", "client-cert", "roots")}).ok());
  REQUIRE(sotw(s, ResourceType::Listener, "l1", {tlsListener("tls-in", 8443, "server-cert")}).ok());
  CHECK(s.pendingSecrets() == std::set<std::string>{"client-cert", "roots", "server-cert"});
  CHECK(s.warmingClusters() == std::vector<std::string>{"backend"});
  CHECK(s.warmingListeners() == std::vector<std::string>{"tls-in"});

  // One arrives; the others time out.
  REQUIRE(sotw(s, ResourceType::Secret, "s1", {certSecret("client-cert", p.client)}).ok());
  CHECK(s.pendingSecrets() == std::set<std::string>{"roots", "server-cert"});
  CHECK(s.warmingClusters() == std::vector<std::string>{"backend"});
  s.markSecretAbsent("roots");
  s.markSecretAbsent("server-cert");
  s.markSecretAbsent("client-cert");  // arrived already: no effect
  CHECK(s.pendingSecrets().empty());
  CHECK(s.warmingClusters().empty());
  CHECK(s.warmingListeners().empty());
  config::ProxyConfig cfg = applyAndCommit(s);
  const config::ClusterConfig* c = findCluster(cfg, "backend");
  REQUIRE(c != nullptr);
  CHECK(c->tls->common.secrets_timed_out);
  CHECK(c->tls->common.secrets_ready());
  // Never a cluster with its trust bundle left out and verification thereby off: the context
  // built from it refuses every handshake.
  CHECK(c->tls->common.validation->trusted_ca_pem.empty());
  const config::ListenerConfig* l = findListener(cfg, "tls-in");
  REQUIRE(l != nullptr);
  CHECK(listenerTls(*l).secrets_timed_out);
  CHECK_FALSE(listenerTls(*l).certificate);
  CHECK(cfg.secrets.size() == 1);  // the placeholders are not secrets
  CHECK(s.findSecret("roots")->absent);

  // The late secrets heal both.
  REQUIRE(sotw(s, ResourceType::Secret, "s2",
               {certSecret("client-cert", p.client), caSecret("roots", p.ca),
                certSecret("server-cert", p.server)})
              .ok());
  cfg = applyAndCommit(s);
  c = findCluster(cfg, "backend");
  REQUIRE(c != nullptr);
  CHECK_FALSE(c->tls->common.secrets_timed_out);
  CHECK(c->tls->common.validation->trusted_ca_pem == p.ca.cert_pem);
  l = findListener(cfg, "tls-in");
  REQUIRE(l != nullptr);
  CHECK_FALSE(listenerTls(*l).secrets_timed_out);
  REQUIRE(listenerTls(*l).certificate);
  CHECK(listenerTls(*l).certificate->cert_chain_pem == p.server.cert_pem);
  CHECK_FALSE(s.findSecret("roots")->absent);
}

TEST_CASE("SDS: a given-up secret no longer named is forgotten, and waited for afresh",
          "[xds][sds]") {
  ConfigState s;
  REQUIRE(sotw(s, ResourceType::Listener, "l1", {tlsListener("tls-in", 8443, "server-cert")}).ok());
  s.markSecretAbsent("server-cert");
  CHECK(s.pendingSecrets().empty());
  REQUIRE(sotw(s, ResourceType::Listener, "l2", {}).ok());
  applyAndCommit(s);
  s.pruneSecrets();
  CHECK(s.findSecret("server-cert") == nullptr);
  REQUIRE(sotw(s, ResourceType::Listener, "l3", {tlsListener("tls-in", 8443, "server-cert")}).ok());
  CHECK(s.pendingSecrets() == std::set<std::string>{"server-cert"});
  CHECK(s.warmingListeners() == std::vector<std::string>{"tls-in"});
}

}  // namespace
}  // namespace remora::xds
