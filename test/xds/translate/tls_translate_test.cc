// Translation of TLS transport sockets and SDS Secrets: inline, file and environment PEM, SDS
// names over ADS and from the local identity (Istio's sds-grpc), validation contexts with SAN
// matchers, TLS parameters and ALPN come through; every setting remora does not implement, and
// every PEM it cannot use, is NACKed naming the field.
#include "xds/translate/tls.h"

#include <openssl/evp.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "filters/registry.h"
#include "proxy/common/strings.h"
#include "test/common/test_certs.h"
#include "test/xds/translate/translate_test_util.h"
#include "xds/translate/translate.h"
#include "xds/translate/validate.h"

namespace remora::xds {
namespace {

using config::SanMatch;
using config::StringMatch;
using config::TlsVersion;
using envoy::config::cluster::v3::Cluster;
using envoy::config::core::v3::TransportSocket;
using envoy::config::listener::v3::Listener;
using envoy::extensions::transport_sockets::tls::v3::Secret;

using testutil::errorOf;
using testutil::parse;

constexpr const char* kUpstream =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
constexpr const char* kDownstream =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
// Istio's sds_config for the local identity's "default" and "ROOTCA" (the agent's SDS server).
constexpr const char* kIstioSds =
    "{api_config_source: {api_type: GRPC, set_node_on_first_message_only: true, "
    "transport_api_version: V3, grpc_services: [{envoy_grpc: {cluster_name: sds-grpc}}]}, "
    "resource_api_version: V3, initial_fetch_timeout: 0s}";
constexpr const char* kAds = "{ads: {}, resource_api_version: V3}";

// PEM as a YAML double-quoted scalar.
std::string q(const std::string& pem) {
  std::string out = "\"";
  for (char c : pem) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Certificates shared by the tests of this file (made once: key generation is not free).
struct Pki {
  testing::TestCert ca = testing::makeRootCa("tls translate root");
  testing::TestCert leaf = testing::issueLeaf(ca, "spiffe://cluster.local/ns/a/sa/client");
  // inline_string DataSources for the leaf and the CA.
  std::string chain() const { return cat("{inline_string: ", q(leaf.cert_pem), "}"); }
  std::string key() const { return cat("{inline_string: ", q(leaf.key_pem), "}"); }
  std::string ca_pem() const { return cat("{inline_string: ", q(ca.cert_pem), "}"); }
  std::string certificate() const {
    return cat("{certificate_chain: ", chain(), ", private_key: ", key(), "}");
  }
};
const Pki& pki() {
  static const Pki* p = new Pki;
  return *p;
}

TransportSocket socket(const char* type, const std::string& body) {
  return parse<TransportSocket>(
      cat("name: envoy.transport_sockets.tls\ntyped_config:\n  '@type': ", type, "\n", body));
}
absl::StatusOr<config::UpstreamTlsConfig> upstream(const std::string& body,
                                                   TranslateNotes* notes = nullptr) {
  return translateUpstreamTls(socket(kUpstream, body), "ts", notes);
}
absl::StatusOr<config::DownstreamTlsConfig> downstream(const std::string& body,
                                                       TranslateNotes* notes = nullptr) {
  return translateDownstreamTls(socket(kDownstream, body), "ts", notes);
}
absl::StatusOr<config::SecretConfig> secret(const std::string& yaml,
                                            TranslateNotes* notes = nullptr) {
  Secret s = parse<Secret>(yaml);
  return translateSecret(s, resourceLabel("secret", s.name()), notes);
}

template <typename T>
std::string nack(const absl::StatusOr<T>& r) {
  INFO("translation succeeded where it must fail");
  REQUIRE_FALSE(r.ok());
  return errorOf(r.status());
}

StringMatch match(StringMatch::Kind kind, std::string value, bool ignore_case = false) {
  StringMatch m;
  m.kind = kind;
  m.value = std::move(value);
  m.ignore_case = ignore_case;
  return m;
}

// A fresh directory under /tmp, removed with what it holds.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/remora-tls-translate-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path + "/" + name) << text;
    return path + "/" + name;
  }
};

// --- What translates ---

TEST_CASE("TLS: an upstream context with inline PEM, SNI, ALPN and a URI SAN", "[xds][tls]") {
  const Pki& p = pki();
  auto r = upstream(cat(R"(  sni: reviews.default.svc.cluster.local
  common_tls_context:
    alpn_protocols: [h2, http/1.1]
    tls_certificates: [)",
                        p.certificate(), R"(]
    validation_context:
      trusted_ca: )",
                        p.ca_pem(), R"(
      match_typed_subject_alt_names:
      - {san_type: URI, matcher: {exact: "spiffe://cluster.local/ns/b/sa/reviews"}}
)"));
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->sni == "reviews.default.svc.cluster.local");
  const auto& c = r->common;
  CHECK(c.alpn == std::vector<std::string>{"h2", "http/1.1"});
  REQUIRE(c.certificate);
  CHECK(c.certificate->cert_chain_pem == p.leaf.cert_pem);
  CHECK(c.certificate->private_key_pem == p.leaf.key_pem);
  REQUIRE(c.validation);
  CHECK(c.validation->trusted_ca_pem == p.ca.cert_pem);
  REQUIRE(c.validation->match_sans.size() == 1);
  CHECK(c.validation->match_sans[0] ==
        SanMatch{SanMatch::Type::Uri,
                 match(StringMatch::Kind::Exact, "spiffe://cluster.local/ns/b/sa/reviews")});
  CHECK(c.certificate_sds.empty());
  CHECK(c.validation_sds.empty());
  CHECK(c.secrets_ready());
  // Defaults: TLS 1.2 to 1.3, OpenSSL's suites and curves chosen by remora.
  CHECK(c.min_version == TlsVersion::V1_2);
  CHECK(c.max_version == TlsVersion::V1_3);
  CHECK(c.cipher_suites.empty());
  CHECK(c.ecdh_curves.empty());
}

TEST_CASE("TLS: an upstream context without validation trusts any server (as Envoy does)",
          "[xds][tls]") {
  auto r = upstream("  common_tls_context: {}\n");
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK_FALSE(r->common.validation);
  CHECK_FALSE(r->common.certificate);
  // An empty UpstreamTlsContext is TLS too.
  CHECK(upstream("").ok());
  // max_session_keys only sizes a cache: noted and ignored.
  TranslateNotes notes;
  REQUIRE(upstream("  max_session_keys: 10\n", &notes).ok());
  CHECK(notes.ignored == std::vector<std::string>{"ts.typed_config.max_session_keys"});
}

TEST_CASE("TLS: a downstream context requiring client certificates", "[xds][tls]") {
  const Pki& p = pki();
  auto r = downstream(cat(R"(  require_client_certificate: true
  disable_stateless_session_resumption: true
  disable_stateful_session_resumption: true
  common_tls_context:
    alpn_protocols: [h2]
    tls_certificates: [)",
                          p.certificate(), R"(]
    validation_context: {trusted_ca: )",
                          p.ca_pem(), "}\n"));
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->require_client_certificate);
  CHECK(r->disable_stateless_session_resumption);
  CHECK(r->disable_stateful_session_resumption);
  REQUIRE(r->common.certificate);
  CHECK(r->common.certificate->cert_chain_pem == p.leaf.cert_pem);
  CHECK(r->common.validation->trusted_ca_pem == p.ca.cert_pem);
  CHECK(r->common.alpn == std::vector<std::string>{"h2"});
  // require_client_certificate: false is the default.
  auto plain =
      downstream(cat("  require_client_certificate: false\n  common_tls_context: "
                     "{tls_certificates: [",
                     p.certificate(), "]}\n"));
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->require_client_certificate);
}

TEST_CASE("TLS: PEM from a file (read at translation) and from an environment variable",
          "[xds][tls]") {
  const Pki& p = pki();
  TempDir dir;
  std::string chain = dir.write("cert.pem", p.leaf.cert_pem);
  std::string key = dir.write("key.pem", p.leaf.key_pem);
  std::string ca = dir.write("ca.pem", p.ca.cert_pem);
  auto r =
      downstream(cat("  common_tls_context:\n    tls_certificates: [{certificate_chain: "
                     "{filename: ",
                     chain, "}, private_key: {filename: ", key,
                     "}}]\n    validation_context: {trusted_ca: {filename: ", ca, "}}\n"));
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->common.certificate->cert_chain_pem == p.leaf.cert_pem);
  CHECK(r->common.certificate->private_key_pem == p.leaf.key_pem);
  CHECK(r->common.validation->trusted_ca_pem == p.ca.cert_pem);

  CHECK(nack(upstream(cat("  common_tls_context: {validation_context: {trusted_ca: {filename: ",
                          dir.path, "/missing.pem}}}\n"))) ==
        cat("ts.typed_config.common_tls_context.validation_context.trusted_ca.filename: cannot "
            "read '",
            dir.path, "/missing.pem'"));

  ::setenv("REMORA_TLS_TEST_CA", p.ca.cert_pem.c_str(), 1);
  auto env = upstream(
      "  common_tls_context: {validation_context: {trusted_ca: {environment_variable: "
      "REMORA_TLS_TEST_CA}}}\n");
  ::unsetenv("REMORA_TLS_TEST_CA");
  INFO(env.status().ToString());
  REQUIRE(env.ok());
  CHECK(env->common.validation->trusted_ca_pem == p.ca.cert_pem);
  CHECK(nack(upstream("  common_tls_context: {validation_context: {trusted_ca: "
                      "{environment_variable: REMORA_TLS_TEST_UNSET}}}\n")) ==
        "ts.typed_config.common_tls_context.validation_context.trusted_ca.environment_variable: "
        "'REMORA_TLS_TEST_UNSET' is not set");
}

TEST_CASE("TLS: SDS secrets named over ADS are left as names, marked for ADS", "[xds][tls]") {
  auto r = downstream(cat(R"(  require_client_certificate: true
  common_tls_context:
    tls_certificate_sds_secret_configs: [{name: server-cert, sds_config: )",
                          kAds, R"(}]
    validation_context_sds_secret_config: {name: mesh-ca, sds_config: )",
                          kAds, "}\n"));
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  const auto& c = r->common;
  CHECK(c.certificate_sds == "server-cert");
  CHECK(c.certificate_sds_ads);
  CHECK(c.validation_sds == "mesh-ca");
  CHECK(c.validation_sds_ads);
  CHECK_FALSE(c.certificate);
  CHECK_FALSE(c.validation);
  CHECK_FALSE(c.secrets_ready());  // warms until the secrets are filled in
}

TEST_CASE("TLS: Istio's sds-grpc names 'default' and 'ROOTCA' come from the local identity",
          "[xds][tls]") {
  // Istio's outbound cluster: its workload certificate and the mesh's roots from the agent,
  // SAN matching in a combined validation context.
  auto r = upstream(cat(R"(  sni: outbound_.9080_._.reviews.default.svc.cluster.local
  common_tls_context:
    alpn_protocols: [istio-peer-exchange, istio]
    tls_params: {tls_minimum_protocol_version: TLSv1_2, tls_maximum_protocol_version: TLSv1_3}
    tls_certificate_sds_secret_configs: [{name: default, sds_config: )",
                        kIstioSds, R"(}]
    combined_validation_context:
      default_validation_context:
        match_typed_subject_alt_names:
        - {san_type: URI, matcher: {exact: "spiffe://cluster.local/ns/default/sa/bookinfo-reviews"}}
      validation_context_sds_secret_config: {name: ROOTCA, sds_config: )",
                        kIstioSds, "}\n"));
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  const auto& c = r->common;
  CHECK(c.certificate_sds == "default");
  CHECK_FALSE(c.certificate_sds_ads);
  CHECK(c.validation_sds == "ROOTCA");
  CHECK_FALSE(c.validation_sds_ads);
  // The SAN matchers stay; the trust bundle comes from the secret.
  REQUIRE(c.validation);
  CHECK(c.validation->trusted_ca_pem.empty());
  REQUIRE(c.validation->match_sans.size() == 1);
  CHECK(c.validation->match_sans[0].matcher.value ==
        "spiffe://cluster.local/ns/default/sa/bookinfo-reviews");
  CHECK(c.alpn == std::vector<std::string>{"istio-peer-exchange", "istio"});
  CHECK_FALSE(c.secrets_ready());

  // A name without sds_config is a static (bootstrap) secret: not fetched over ADS.
  auto stat = upstream(
      "  common_tls_context: {tls_certificate_sds_secret_configs: [{name: bootstrap-cert}]}\n");
  INFO(stat.status().ToString());
  REQUIRE(stat.ok());
  CHECK(stat->common.certificate_sds == "bootstrap-cert");
  CHECK_FALSE(stat->common.certificate_sds_ads);
}

TEST_CASE("TLS: a combined validation context over ADS", "[xds][tls]") {
  auto r = downstream(cat(R"(  common_tls_context:
    tls_certificate_sds_secret_configs: [{name: cert, sds_config: )",
                          kAds, R"(}]
    combined_validation_context:
      default_validation_context:
        match_typed_subject_alt_names:
        - {san_type: DNS, matcher: {suffix: .svc.cluster.local}}
        - {san_type: URI, matcher: {prefix: "spiffe://cluster.local/ns/a/"}}
      validation_context_sds_secret_config: {name: roots, sds_config: )",
                          kAds, "}\n"));
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->common.validation_sds == "roots");
  CHECK(r->common.validation_sds_ads);
  REQUIRE(r->common.validation);
  CHECK(r->common.validation->match_sans ==
        std::vector<SanMatch>{
            {SanMatch::Type::Dns, match(StringMatch::Kind::Suffix, ".svc.cluster.local")},
            {SanMatch::Type::Uri, match(StringMatch::Kind::Prefix, "spiffe://cluster.local/ns/a/")},
        });
}

TEST_CASE("TLS: SAN matchers of every type and every string match", "[xds][tls]") {
  const Pki& p = pki();
  auto r = upstream(cat(R"(  common_tls_context:
    validation_context:
      trusted_ca: )",
                        p.ca_pem(), R"(
      match_typed_subject_alt_names:
      - {san_type: DNS, matcher: {exact: reviews.default.svc}}
      - {san_type: DNS, matcher: {suffix: .example.com, ignore_case: true}}
      - {san_type: URI, matcher: {prefix: "spiffe://cluster.local/"}}
      - {san_type: URI, matcher: {safe_regex: {regex: "spiffe://cluster\\.local/ns/[a-z]+/sa/.*"}}}
      - {san_type: EMAIL, matcher: {contains: "@example.com"}}
      - {san_type: IP_ADDRESS, matcher: {exact: 192.0.2.10}}
)"));
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->common.validation->match_sans ==
        std::vector<SanMatch>{
            {SanMatch::Type::Dns, match(StringMatch::Kind::Exact, "reviews.default.svc")},
            {SanMatch::Type::Dns, match(StringMatch::Kind::Suffix, ".example.com", true)},
            {SanMatch::Type::Uri, match(StringMatch::Kind::Prefix, "spiffe://cluster.local/")},
            {SanMatch::Type::Uri,
             match(StringMatch::Kind::Regex, "spiffe://cluster\\.local/ns/[a-z]+/sa/.*")},
            {SanMatch::Type::Email, match(StringMatch::Kind::Contains, "@example.com")},
            {SanMatch::Type::IpAddress, match(StringMatch::Kind::Exact, "192.0.2.10")},
        });
}

TEST_CASE("TLS: tls_params versions, cipher suites and curves", "[xds][tls]") {
  auto r = upstream(R"(  common_tls_context:
    tls_params:
      tls_minimum_protocol_version: TLSv1_3
      tls_maximum_protocol_version: TLSv1_3
      cipher_suites: [ECDHE-ECDSA-AES256-GCM-SHA384, ECDHE-RSA-AES256-GCM-SHA384]
      ecdh_curves: [P-256, P-384]
)");
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->common.min_version == TlsVersion::V1_3);
  CHECK(r->common.max_version == TlsVersion::V1_3);
  CHECK(r->common.cipher_suites ==
        std::vector<std::string>{"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384"});
  CHECK(r->common.ecdh_curves == std::vector<std::string>{"P-256", "P-384"});
  // TLS_AUTO keeps the defaults; a maximum of 1.2 alone is fine.
  auto twelve = upstream(
      "  common_tls_context: {tls_params: {tls_minimum_protocol_version: TLS_AUTO, "
      "tls_maximum_protocol_version: TLSv1_2}}\n");
  REQUIRE(twelve.ok());
  CHECK(twelve->common.min_version == TlsVersion::V1_2);
  CHECK(twelve->common.max_version == TlsVersion::V1_2);
}

TEST_CASE("TLS: Secrets - a certificate, a validation context, from inline PEM", "[xds][tls]") {
  const Pki& p = pki();
  auto cert = secret(cat("name: server-cert\ntls_certificate: ", p.certificate()));
  INFO(cert.status().ToString());
  REQUIRE(cert.ok());
  CHECK(cert->name == "server-cert");
  REQUIRE(cert->tls_certificate);
  CHECK(cert->tls_certificate->cert_chain_pem == p.leaf.cert_pem);
  CHECK(cert->tls_certificate->private_key_pem == p.leaf.key_pem);
  CHECK_FALSE(cert->validation_context);

  auto roots = secret(cat("name: mesh-ca\nvalidation_context: {trusted_ca: ", p.ca_pem(),
                          ", match_typed_subject_alt_names: [{san_type: URI, matcher: {prefix: "
                          "\"spiffe://cluster.local/\"}}]}"));
  INFO(roots.status().ToString());
  REQUIRE(roots.ok());
  REQUIRE(roots->validation_context);
  CHECK(roots->validation_context->trusted_ca_pem == p.ca.cert_pem);
  CHECK(roots->validation_context->match_sans.size() == 1);
  CHECK_FALSE(roots->tls_certificate);

  // A chain of leaf and CA, and inline_bytes (base64 in YAML/JSON).
  auto chain = secret(cat("name: chain\ntls_certificate: {certificate_chain: {inline_string: ",
                          q(p.leaf.cert_pem + p.ca.cert_pem), "}, private_key: ", p.key(), "}"));
  REQUIRE(chain.ok());
  CHECK(chain->tls_certificate->cert_chain_pem == p.leaf.cert_pem + p.ca.cert_pem);
  auto bytes = secret(cat(
      "name: b\nvalidation_context: {trusted_ca: {inline_bytes: ", base64(p.ca.cert_pem), "}}"));
  INFO(bytes.status().ToString());
  REQUIRE(bytes.ok());
  CHECK(bytes->validation_context->trusted_ca_pem == p.ca.cert_pem);
}

// --- What is NACKed ---

TEST_CASE("TLS: settings remora does not implement are NACKed by field path", "[xds][tls]") {
  const Pki& p = pki();
  std::string cert = cat("tls_certificates: [", p.certificate(), "]");
  std::string ca = cat("trusted_ca: ", p.ca_pem());
  const std::string cc = "ts.typed_config.common_tls_context";
  struct Case {
    bool down;
    std::string body;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {false, "  common_tls_context: {key_log: {path: /tmp/keys.log}}\n",
            cc + ".key_log: not supported by remora"},
           {false,
            "  common_tls_context: {tls_certificate_provider_instance: {instance_name: google, "
            "certificate_name: default}}\n",
            cc + ".tls_certificate_provider_instance: not supported by remora"},
           {false,
            cat("  common_tls_context: {validation_context: {", ca, ", crl: ", p.ca_pem(), "}}\n"),
            cc + ".validation_context.crl: not supported by remora"},
           {false,
            cat("  common_tls_context: {validation_context: {", ca,
                ", allow_expired_certificate: true}}\n"),
            cc + ".validation_context.allow_expired_certificate: not supported by remora"},
           {false,
            cat("  common_tls_context: {validation_context: {", ca,
                ", trust_chain_verification: ACCEPT_UNTRUSTED}}\n"),
            cc + ".validation_context.trust_chain_verification: not supported by remora"},
           {false,
            cat("  common_tls_context: {validation_context: {", ca,
                ", verify_certificate_spki: [NvqYIYSbgK2vCJpQhObf77vv+bQWtc5ek5RIOwPiC9A=]}}\n"),
            cc + ".validation_context.verify_certificate_spki: not supported by remora"},
           {false,
            cat("  common_tls_context: {validation_context: {", ca,
                ", verify_certificate_hash: "
                "[df6ff72fe9116521268f6f2dd4966f51df479883fe7037b39f75916ac3049d1a]}}\n"),
            cc + ".validation_context.verify_certificate_hash: not supported by remora"},
           {false,
            cat("  common_tls_context: {validation_context: {", ca,
                ", custom_validator_config: {name: envoy.tls.cert_validator.spiffe}}}\n"),
            cc + ".validation_context.custom_validator_config: not supported by remora"},
           {false, "  common_tls_context: {tls_params: {tls_minimum_protocol_version: TLSv1_1}}\n",
            cc + ".tls_params.tls_minimum_protocol_version: remora never negotiates below "
                 "TLSv1_2"},
           {false, "  common_tls_context: {tls_params: {tls_maximum_protocol_version: TLSv1_0}}\n",
            cc + ".tls_params.tls_maximum_protocol_version: remora never negotiates below "
                 "TLSv1_2"},
           {false,
            "  common_tls_context: {tls_params: {tls_minimum_protocol_version: TLSv1_3, "
            "tls_maximum_protocol_version: TLSv1_2}}\n",
            cc + ".tls_params: tls_maximum_protocol_version is below "
                 "tls_minimum_protocol_version"},
           {false,
            "  common_tls_context: {tls_params: {signature_algorithms: "
            "[ecdsa_secp256r1_sha256]}}\n",
            cc + ".tls_params.signature_algorithms: not supported by remora"},
           // OpenSSL would skip an unknown suite in a list that has a known one; Envoy refuses.
           {false,
            "  common_tls_context: {tls_params: {cipher_suites: [ECDHE-ECDSA-AES128-GCM-SHA256, "
            "ECDHE-ECDSA-AES128-GCM-SHA999]}}\n",
            cc + ".tls_params.cipher_suites: 'ECDHE-ECDSA-AES128-GCM-SHA999' is not a cipher "
                 "suite remora knows"},
           {false,
            "  common_tls_context: {tls_params: {cipher_suites: ['[ECDHE-ECDSA-AES128-GCM-SHA256|"
            "ECDHE-ECDSA-CHACHA20-POLY1305]']}}\n",
            cc + ".tls_params.cipher_suites: '[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-"
                 "POLY1305]' is not a cipher suite remora knows"},
           {false, "  common_tls_context: {tls_params: {ecdh_curves: [X25519, P-999]}}\n",
            cc + ".tls_params.ecdh_curves: 'P-999' is not a curve remora knows"},
           {false, "  common_tls_context: {alpn_protocols: [h2, '']}\n",
            cc + ".alpn_protocols: '' is not a valid protocol"},
           {false, "  allow_renegotiation: true\n",
            "ts.typed_config.allow_renegotiation: not supported by remora"},
           {false, "  common_tls_context: {custom_handshaker: {name: x}}\n",
            cc + ".custom_handshaker: not supported by remora"},
           {true, cat("  require_sni: true\n  common_tls_context: {", cert, "}\n"),
            "ts.typed_config.require_sni: not supported by remora"},
           {true,
            cat("  session_ticket_keys: {keys: [{inline_string: ", std::string(80, 'k'),
                "}]}\n  common_tls_context: {", cert, "}\n"),
            "ts.typed_config.session_ticket_keys: not supported by remora"},
           {true,
            cat("  session_ticket_keys_sds_secret_config: {name: tickets, sds_config: ", kAds,
                "}\n  common_tls_context: {", cert, "}\n"),
            "ts.typed_config.session_ticket_keys_sds_secret_config: not supported by remora"},
           {true, cat("  ocsp_staple_policy: MUST_STAPLE\n  common_tls_context: {", cert, "}\n"),
            "ts.typed_config.ocsp_staple_policy: not supported by remora"},
       }) {
    INFO(c.body);
    std::string err = c.down ? nack(downstream(c.body)) : nack(upstream(c.body));
    CHECK(err == c.error);
  }
}

TEST_CASE("TLS: SDS from anything but ADS is NACKed unless it names the local identity",
          "[xds][tls]") {
  const std::string cc = "ts.typed_config.common_tls_context";
  CHECK(nack(upstream(
            "  common_tls_context: {tls_certificate_sds_secret_configs: [{name: "
            "my-cert, sds_config: {path_config_source: {path: /etc/sds/cert.yaml}}}]}\n")) ==
        cc + ".tls_certificate_sds_secret_configs[0].sds_config: secret 'my-cert': only ads is "
             "supported as a config source (other sources serve only the local identity's "
             "'default' and 'ROOTCA')");
  CHECK(nack(upstream(cat("  common_tls_context: {validation_context_sds_secret_config: {name: "
                          "mesh-roots, sds_config: ",
                          kIstioSds, "}}\n"))) ==
        cc + ".validation_context_sds_secret_config.sds_config: secret 'mesh-roots': only ads is "
             "supported as a config source (other sources serve only the local identity's "
             "'default' and 'ROOTCA')");
  CHECK(nack(upstream(cat("  common_tls_context: {combined_validation_context: "
                          "{default_validation_context: {}, validation_context_sds_secret_config: "
                          "{name: roots, sds_config: ",
                          kIstioSds, "}}}\n"))) ==
        cc + ".combined_validation_context.validation_context_sds_secret_config.sds_config: "
             "secret 'roots': only ads is supported as a config source (other sources serve only "
             "the local identity's 'default' and 'ROOTCA')");
  CHECK(nack(upstream("  common_tls_context: {tls_certificate_sds_secret_configs: [{sds_config: "
                      "{ads: {}}}]}\n")) ==
        cc + ".tls_certificate_sds_secret_configs[0].name: a secret name is required");
}

TEST_CASE("TLS: PEM that OpenSSL cannot read is NACKed where it is", "[xds][tls]") {
  const Pki& p = pki();
  const std::string cc = "ts.typed_config.common_tls_context";
  CHECK(nack(upstream(cat("  common_tls_context: {tls_certificates: [{certificate_chain: "
                          "{inline_string: not-a-certificate}, private_key: ",
                          p.key(), "}]}\n"))) ==
        cc + ".tls_certificates[0].certificate_chain: no PEM certificate");
  CHECK(
      nack(upstream(cat("  common_tls_context: {tls_certificates: [{certificate_chain: ", p.chain(),
                        ", private_key: {inline_string: ", q(p.leaf.cert_pem), "}}]}\n"))) ==
      cc + ".tls_certificates[0].private_key: no PEM private key");
  // A truncated certificate.
  std::string cut = p.leaf.cert_pem.substr(0, p.leaf.cert_pem.size() / 2);
  CHECK(nack(upstream(cat("  common_tls_context: {validation_context: {trusted_ca: "
                          "{inline_string: ",
                          q(cut), "}}}\n"))) ==
        cc + ".validation_context.trusted_ca: no PEM certificate");
  CHECK(nack(upstream(cat("  common_tls_context: {tls_certificates: [{private_key: ", p.key(),
                          "}]}\n"))) == cc + ".tls_certificates[0]: certificate_chain is required");
  CHECK(nack(upstream(cat("  common_tls_context: {tls_certificates: [{certificate_chain: {}, "
                          "private_key: ",
                          p.key(), "}]}\n"))) ==
        cc + ".tls_certificates[0].certificate_chain: empty data source");
  CHECK(
      nack(upstream(cat("  common_tls_context: {tls_certificates: [{certificate_chain: ", p.chain(),
                        "}]}\n"))) == cc + ".tls_certificates[0]: private_key is required");
  CHECK(
      nack(upstream(cat("  common_tls_context: {tls_certificates: [{certificate_chain: ", p.chain(),
                        ", private_key: ", p.key(), ", password: {inline_string: secret}}]}\n"))) ==
      cc + ".tls_certificates[0].password: not supported by remora");
}

TEST_CASE("TLS: contexts that cannot work are NACKed", "[xds][tls]") {
  const Pki& p = pki();
  const std::string cc = "ts.typed_config.common_tls_context";
  // Requiring client certificates with nothing to verify them against.
  CHECK(nack(downstream(cat("  require_client_certificate: true\n  common_tls_context: "
                            "{tls_certificates: [",
                            p.certificate(), "]}\n"))) ==
        "ts.typed_config.require_client_certificate: needs a validation context with a "
        "trusted_ca to verify clients against");
  // A server without a certificate.
  CHECK(nack(downstream(cat("  common_tls_context: {validation_context: {trusted_ca: ", p.ca_pem(),
                            "}}\n"))) == cc + ": a server needs a certificate (tls_certificates or "
                                              "tls_certificate_sds_secret_configs)");
  // Two certificates, inline or inline and SDS.
  CHECK(nack(downstream(cat("  common_tls_context: {tls_certificates: [", p.certificate(), ", ",
                            p.certificate(), "]}\n"))) ==
        cc + ": more than one certificate is not supported");
  CHECK(nack(upstream(cat("  common_tls_context: {tls_certificates: [", p.certificate(),
                          "], tls_certificate_sds_secret_configs: [{name: x, sds_config: ", kAds,
                          "}]}\n"))) == cc + ": more than one certificate is not supported");
  // SAN matching without roots, and an OTHER_NAME SAN (remora matches four types).
  CHECK(nack(upstream("  common_tls_context: {validation_context: {match_typed_subject_alt_names: "
                      "[{san_type: URI, matcher: {exact: spiffe://a/b}}]}}\n")) ==
        cc + ": match_typed_subject_alt_names needs a trusted_ca to verify against");
  CHECK(
      nack(upstream(cat("  common_tls_context: {validation_context: {trusted_ca: ", p.ca_pem(),
                        ", match_typed_subject_alt_names: [{san_type: URI, matcher: {exact: "
                        "a}}, {san_type: OTHER_NAME, matcher: {exact: upn@example.com}}]}}\n"))) ==
      cc + ".validation_context.match_typed_subject_alt_names[1].san_type: OTHER_NAME is not "
           "supported (DNS, URI, EMAIL, IP_ADDRESS are)");
  // As Envoy's control planes send it, with the OID it needs: refused at the OID.
  CHECK(nack(upstream(cat("  common_tls_context: {validation_context: {trusted_ca: ", p.ca_pem(),
                          ", match_typed_subject_alt_names: [{san_type: OTHER_NAME, oid: "
                          "1.3.6.1.4.1.311.20.2.3, matcher: {exact: upn@example.com}}]}}\n"))) ==
        cc + ".validation_context.match_typed_subject_alt_names[0].oid: not supported by remora");
  CHECK(nack(upstream(cat("  common_tls_context: {validation_context: {trusted_ca: ", p.ca_pem(),
                          ", match_typed_subject_alt_names: [{san_type: URI, matcher: {prefix: "
                          "''}}]}}\n")))
            .starts_with(cc + ".validation_context.match_typed_subject_alt_names[0].matcher"));
  // An inline trust bundle beside the SDS one in a combined context.
  CHECK(nack(upstream(cat("  common_tls_context: {combined_validation_context: "
                          "{default_validation_context: {trusted_ca: ",
                          p.ca_pem(), "}, validation_context_sds_secret_config: {name: ROOTCA, ",
                          "sds_config: ", kIstioSds, "}}}\n"))) ==
        cc + ".combined_validation_context.default_validation_context.trusted_ca: the trust "
             "bundle comes from the SDS secret; an inline one as well is not supported");
  // The wrong context for the place.
  CHECK(nack(translateUpstreamTls(socket(kDownstream, cat("  common_tls_context: "
                                                          "{tls_certificates: [",
                                                          p.certificate(), "]}\n")),
                                  "ts", nullptr)) ==
        "ts.typed_config: a cluster's TLS needs an UpstreamTlsContext");
  CHECK(nack(translateDownstreamTls(socket(kUpstream, ""), "ts", nullptr)) ==
        "ts.typed_config: a filter chain's TLS needs a DownstreamTlsContext");
}

TEST_CASE("TLS: Secrets remora cannot use are NACKed naming the secret and the field",
          "[xds][tls]") {
  const Pki& p = pki();
  CHECK(nack(secret(cat("name: tickets\nsession_ticket_keys: {keys: [{inline_string: ",
                        std::string(80, 'k'), "}]}"))) ==
        "secret 'tickets'.session_ticket_keys: not supported by remora");
  CHECK(nack(secret("name: token\ngeneric_secret: {secret: {inline_string: hunter2}}")) ==
        "secret 'token'.generic_secret: not supported by remora");
  CHECK(nack(secret(cat("tls_certificate: ", p.certificate()))) ==
        "secret ''.name: a secret needs a name");
  CHECK(nack(secret("name: empty")) ==
        "secret 'empty': a secret needs a tls_certificate or a validation_context");
  CHECK(nack(secret("name: no-roots\nvalidation_context: {match_typed_subject_alt_names: "
                    "[{san_type: DNS, matcher: {exact: a}}]}")) ==
        "secret 'no-roots'.validation_context.trusted_ca: a trust bundle is required");
  CHECK(nack(secret(cat("name: bad\ntls_certificate: {certificate_chain: {inline_string: "
                        "garbage}, private_key: ",
                        p.key(), "}"))) ==
        "secret 'bad'.tls_certificate.certificate_chain: no PEM certificate");
  CHECK(nack(secret(cat("name: bad-key\ntls_certificate: {certificate_chain: ", p.chain(),
                        ", private_key: {inline_string: ",
                        q("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
                        "}}"))) ==
        "secret 'bad-key'.tls_certificate.private_key: no PEM private key");
  CHECK(nack(secret(cat("name: crl\nvalidation_context: {trusted_ca: ", p.ca_pem(),
                        ", crl: ", p.ca_pem(), "}"))) ==
        "secret 'crl'.validation_context.crl: not supported by remora");
  CHECK(nack(secret(cat("name: watched\ntls_certificate: {certificate_chain: ", p.chain(),
                        ", private_key: ", p.key(), ", watched_directory: {path: /etc/certs}}"))) ==
        "secret 'watched'.tls_certificate.watched_directory: not supported by remora");
}

TEST_CASE("TLS: whole resources - paths run from the cluster and the listener", "[xds][tls]") {
  const Pki& p = pki();
  auto c = translateCluster(parse<Cluster>(cat(R"(name: outbound|9080||reviews
type: EDS
eds_cluster_config: {eds_config: {ads: {}}}
transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    '@type': )",
                                               kUpstream, R"(
    common_tls_context:
      tls_certificate_sds_secret_configs: [{name: client-cert, sds_config: )",
                                               kAds, R"(}]
      validation_context: {trusted_ca: )",
                                               p.ca_pem(), "}\n")),
                            nullptr);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  REQUIRE(c->tls);
  CHECK(c->tls->common.certificate_sds == "client-cert");
  CHECK(c->tls->common.validation->trusted_ca_pem == p.ca.cert_pem);

  auto bad = translateCluster(parse<Cluster>(cat(R"(name: a
type: EDS
eds_cluster_config: {eds_config: {ads: {}}}
transport_socket:
  name: envoy.transport_sockets.tls
  typed_config:
    '@type': )",
                                                 kUpstream, R"(
    common_tls_context: {key_log: {path: /tmp/k}}
)")),
                              nullptr);
  CHECK(nack(bad) ==
        "cluster 'a'.transport_socket.typed_config.common_tls_context.key_log: not supported by "
        "remora");

  auto l = translateListener(parse<Listener>(cat(R"(name: inbound
address: {socket_address: {address: 0.0.0.0, port_value: 15006}}
listener_filters:
- name: envoy.filters.listener.tls_inspector
  typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector}
filter_chains:
- filter_chain_match: {transport_protocol: tls}
  transport_socket:
    name: envoy.transport_sockets.tls
    typed_config:
      '@type': )",
                                                 kDownstream, R"(
      require_sni: true
      common_tls_context: {tls_certificate_sds_secret_configs: [{name: default, sds_config: )",
                                                 kIstioSds, R"(}]}
  filters:
  - name: envoy.filters.network.tcp_proxy
    typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: in, cluster: app}
)")),
                             nullptr);
  CHECK(nack(l) ==
        "listener 'inbound'.filter_chains[0].transport_socket.typed_config.require_sni: not "
        "supported by remora");
}

}  // namespace
}  // namespace remora::xds

namespace remora::xds {
namespace {

// `remora --mode validate` on TLS resources: Secrets are checked, and a listener's SDS names are
// filled from the Secrets beside it or left to when it is served.
TEST_CASE("TLS: validation of Secrets and of listeners whose certificates come by SDS",
          "[xds][tls]") {
  const Pki& p = pki();
  auto filters = remora::filters::networkFilters();
  auto listenerNaming = [](const std::string& cert, const std::string& source) {
    return cat(R"('@type': type.googleapis.com/envoy.config.listener.v3.Listener
name: tls-in
address: {socket_address: {address: 127.0.0.1, port_value: 8443}}
filter_chains:
- transport_socket:
    name: envoy.transport_sockets.tls
    typed_config:
      '@type': )",
               kDownstream, R"(
      common_tls_context: {tls_certificate_sds_secret_configs: [{name: )",
               cert, ", sds_config: ", source, R"(}]}
  filters:
  - name: envoy.filters.network.tcp_proxy
    typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: in, cluster: app}
)");
  };
  auto secretDoc = [&](const std::string& name, const std::string& cert_pem,
                       const std::string& key_pem) {
    return cat("'@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret\n",
               "name: ", name,
               "\ntls_certificate: {certificate_chain: {inline_string: ", q(cert_pem),
               "}, private_key: {inline_string: ", q(key_pem), "}}\n");
  };
  // Istio's inbound listener: its certificate comes from the local identity when served.
  auto istio = validateResources(listenerNaming("default", kIstioSds), filters);
  INFO(istio.text());
  CHECK(istio.ok());
  // Over ADS, with the Secret in the same file: built with it.
  auto both = validateResources(cat(listenerNaming("server-cert", kAds), "---\n",
                                    secretDoc("server-cert", p.leaf.cert_pem, p.leaf.key_pem)),
                                filters);
  INFO(both.text());
  CHECK(both.ok());
  CHECK(both.text() ==
        "ACCEPT listener 'tls-in'\nACCEPT secret 'server-cert'\n2 accepted, 0 rejected\n");
  // A Secret whose key is not the certificate's: the listener that would use it is refused.
  testing::TestCert other = testing::issueLeaf(p.ca, "spiffe://cluster.local/ns/x/sa/y");
  auto mismatch = validateResources(cat(listenerNaming("server-cert", kAds), "---\n",
                                        secretDoc("server-cert", p.leaf.cert_pem, other.key_pem)),
                                    filters);
  INFO(mismatch.text());
  REQUIRE(mismatch.lines.size() == 2);
  CHECK_FALSE(mismatch.lines[0].ok);
  CHECK(mismatch.lines[0].message.starts_with(
      "listener 'tls-in': filter_chains[0].transport_socket: "));
  CHECK(mismatch.lines[1].ok);
  // A broken Secret is refused naming its field.
  auto broken = validateResources(secretDoc("bad", "garbage", p.leaf.key_pem), filters);
  REQUIRE(broken.lines.size() == 1);
  CHECK_FALSE(broken.lines[0].ok);
  CHECK(broken.lines[0].resource == "secret 'bad'");
  CHECK(broken.lines[0].message ==
        "secret 'bad'.tls_certificate.certificate_chain: no PEM certificate");
}

}  // namespace
}  // namespace remora::xds
