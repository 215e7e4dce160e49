// Bootstrap translation of the ADS server's TLS: google_grpc's ssl_credentials and channel
// arguments, and the envoy_grpc cluster's UpstreamTlsContext; what gRPC's TLS cannot honour is
// refused by field path, never dropped (which would connect in plaintext).
#include "xds/translate/bootstrap.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "proxy/common/strings.h"
#include "test/common/test_certs.h"
#include "test/xds/translate/translate_test_util.h"

namespace remora::xds {
namespace {

using testutil::errorOf;
using testutil::parse;

struct Files {
  Files() {
    char tmpl[] = "/tmp/remora-bootstrap-XXXXXX";
    dir = mkdtemp(tmpl);
    root = testing::makeRootCa("xds root");
    leaf = testing::issueLeaf(root, "spiffe://cluster.local/ns/a/sa/b", "client.example");
    other = testing::issueLeaf(root, "", "other.example");
    write("root.pem", root.cert_pem);
    write("client.pem", leaf.cert_pem);
    write("client.key", leaf.key_pem);
    write("other.key", other.key_pem);
    write("junk.pem", "not a certificate\n");
  }
  ~Files() { std::filesystem::remove_all(dir); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(path(name)) << text;
  }
  std::string path(const std::string& name) const { return dir + "/" + name; }

  std::string dir;
  testing::TestCert root, leaf, other;
};

// A bootstrap whose ADS server is `grpc_service` (a YAML flow mapping), with `clusters` as
// its static clusters.
absl::StatusOr<BootstrapConfig> translate(const std::string& grpc_service,
                                          const std::string& clusters = "[]") {
  auto b = parse<envoy::config::bootstrap::v3::Bootstrap>(
      cat("dynamic_resources:\n  ads_config: {api_type: GRPC, transport_api_version: V3, "
          "grpc_services: [",
          grpc_service, "]}\n  cds_config: {ads: {}, resource_api_version: V3}\n",
          "static_resources: {clusters: ", clusters, "}\n"));
  TranslateNotes notes;
  return translateBootstrap(b, &notes);
}

std::string googleGrpc(const std::string& extra) {
  return cat("{google_grpc: {target_uri: 'xds.example:15012', stat_prefix: ads", extra, "}}");
}

// The static xDS cluster "xds" on 127.0.0.1:15012 with `transport_socket` (YAML flow).
std::string xdsCluster(const std::string& transport_socket) {
  return cat(
      "[{name: xds, type: STATIC, connect_timeout: 1s, load_assignment: {cluster_name: xds, "
      "endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, "
      "port_value: 15012}}}}]}]}",
      transport_socket.empty() ? "" : cat(", transport_socket: ", transport_socket), "}]");
}

std::string upstreamTls(const std::string& body) {
  return cat(
      "{name: envoy.transport_sockets.tls, typed_config: {'@type': "
      "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext, ",
      body, "}}");
}

// PEM inside a YAML double-quoted scalar (where a raw line break would fold into a space).
std::string yamlQuoted(const std::string& pem) {
  std::string out = "\"";
  for (char c : pem) {
    if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

const char* kEnvoyGrpc = "{envoy_grpc: {cluster_name: xds}}";

TEST_CASE("bootstrap: google_grpc without channel_credentials is plaintext", "[bootstrap]") {
  auto bc = translate(googleGrpc(""));
  REQUIRE(bc.ok());
  CHECK_FALSE(bc->ads->tls.enabled());
  CHECK(bc->ads->target == "xds.example:15012");
}

TEST_CASE(
    "bootstrap: google_grpc ssl_credentials give the ADS channel its roots (a file stays a file, "
    "to be re-read), client certificate and server-name override",
    "[bootstrap]") {
  Files f;
  SECTION("roots from a file, a name override") {
    auto bc = translate(googleGrpc(
        cat(", channel_credentials: {ssl_credentials: {root_certs: {filename: ", f.path("root.pem"),
            "}}}, channel_args: {args: {grpc.ssl_target_name_override: {string_value: "
            "remora-control}}}")));
    INFO(bc.status().ToString());
    REQUIRE(bc.ok());
    const auto& tls = bc->ads->tls;
    CHECK(tls.enabled());
    CHECK(tls.root_certs_file == f.path("root.pem"));
    CHECK(tls.root_certs_pem.empty());
    CHECK(tls.server_name == "remora-control");
    CHECK_FALSE(tls.hasClientCertificate());
  }
  SECTION("inline roots, a client certificate from files") {
    auto bc = translate(googleGrpc(
        cat(", channel_credentials: {ssl_credentials: {root_certs: {inline_string: ",
            yamlQuoted(f.root.cert_pem), "}, cert_chain: {filename: ", f.path("client.pem"),
            "}, private_key: {filename: ", f.path("client.key"), "}}}")));
    INFO(bc.status().ToString());
    REQUIRE(bc.ok());
    const auto& tls = bc->ads->tls;
    CHECK(tls.root_certs_pem == f.root.cert_pem);
    CHECK(tls.cert_chain_file == f.path("client.pem"));
    CHECK(tls.private_key_file == f.path("client.key"));
    CHECK(tls.server_name.empty());
  }
}

TEST_CASE("bootstrap: ADS channel credentials remora cannot honour are refused, naming the field",
          "[bootstrap]") {
  Files f;
  const std::string gg = "bootstrap.dynamic_resources.ads_config.grpc_services[0].google_grpc";
  const std::string ssl = gg + ".channel_credentials.ssl_credentials";
  const std::string roots = cat("root_certs: {filename: ", f.path("root.pem"), "}");
  struct Case {
    std::string extra;
    std::string error;  // the start of the message
  };
  std::vector<Case> cases = {
      {", channel_credentials: {google_default: {}}",
       gg + ".channel_credentials.google_default: not supported"},
      {", channel_credentials: {local_credentials: {}}",
       gg + ".channel_credentials.local_credentials: not supported"},
      {", channel_credentials: {ssl_credentials: {}}",
       ssl + ".root_certs: is required (remora does not trust the system's roots"},
      {cat(", channel_credentials: {ssl_credentials: {", roots,
           "}}, call_credentials: [{access_token: x}]"),
       gg + ".call_credentials: not supported"},
      {cat(", channel_credentials: {ssl_credentials: {", roots,
           "}}, channel_args: {args: {grpc.keepalive_time_ms: {int_value: 1000}}}"),
       gg + ".channel_args.args['grpc.keepalive_time_ms']: not supported"},
      {", channel_args: {args: {grpc.ssl_target_name_override: {string_value: x}}}",
       gg + ".channel_args.args['grpc.ssl_target_name_override']: needs "
            "channel_credentials.ssl_credentials"},
      {", channel_credentials: {ssl_credentials: {root_certs: {filename: /nonexistent/root.pem}}}",
       ssl + ": root certificates: cannot open '/nonexistent/root.pem'"},
      {cat(", channel_credentials: {ssl_credentials: {root_certs: {filename: ", f.path("junk.pem"),
           "}}}"),
       ssl + ": root certificates '" + f.path("junk.pem") + "'"},
      {cat(", channel_credentials: {ssl_credentials: {", roots,
           ", cert_chain: {filename: ", f.path("client.pem"), "}}}"),
       ssl + ": cert_chain and private_key go together"},
      {cat(", channel_credentials: {ssl_credentials: {", roots, ", cert_chain: {filename: ",
           f.path("client.pem"), "}, private_key: {filename: ", f.path("other.key"), "}}}"),
       ssl + ": private key '" + f.path("other.key") + "' does not match the client certificate"},
  };
  for (const auto& c : cases) {
    auto bc = translate(googleGrpc(c.extra));
    INFO(c.extra);
    REQUIRE_FALSE(bc.ok());
    CHECK(errorOf(bc.status()).substr(0, c.error.size()) == c.error);
    INFO(errorOf(bc.status()));
  }
}

TEST_CASE(
    "bootstrap: an envoy_grpc xDS cluster's UpstreamTlsContext makes the ADS channel TLS "
    "(trusted_ca, sni, tls_certificates), and without one it stays plaintext",
    "[bootstrap]") {
  Files f;
  SECTION("plaintext cluster") {
    auto bc = translate(kEnvoyGrpc, xdsCluster(""));
    REQUIRE(bc.ok());
    CHECK_FALSE(bc->ads->tls.enabled());
  }
  SECTION("trusted_ca from a file, sni") {
    auto bc = translate(
        kEnvoyGrpc,
        xdsCluster(upstreamTls(cat("sni: remora-control, common_tls_context: {alpn_protocols: "
                                   "[h2], validation_context: {trusted_ca: {filename: ",
                                   f.path("root.pem"), "}}}"))));
    INFO(bc.status().ToString());
    REQUIRE(bc.ok());
    const auto& tls = bc->ads->tls;
    CHECK(tls.enabled());
    CHECK(tls.root_certs_file == f.path("root.pem"));
    CHECK(tls.server_name == "remora-control");
    CHECK(bc->ads->target == "127.0.0.1:15012");
    // The cluster is still a static cluster too (with its TLS).
    REQUIRE(bc->static_config.clusters.size() == 1);
    CHECK(bc->static_config.clusters[0].tls.has_value());
  }
  SECTION("inline trusted_ca and an inline client certificate") {
    auto bc = translate(
        kEnvoyGrpc,
        xdsCluster(upstreamTls(cat(
            "common_tls_context: {tls_certificates: [{certificate_chain: {inline_string: ",
            yamlQuoted(f.leaf.cert_pem), "}, private_key: {inline_string: ",
            yamlQuoted(f.leaf.key_pem), "}}], validation_context: {trusted_ca: {inline_string: ",
            yamlQuoted(f.root.cert_pem), "}}}"))));
    INFO(bc.status().ToString());
    REQUIRE(bc.ok());
    const auto& tls = bc->ads->tls;
    CHECK(tls.root_certs_pem == f.root.cert_pem);
    CHECK(tls.cert_chain_pem == f.leaf.cert_pem);
    CHECK(tls.private_key_pem == f.leaf.key_pem);
    CHECK(tls.server_name.empty());
  }
}

TEST_CASE(
    "bootstrap: an xDS cluster's TLS that gRPC cannot honour (SDS, SAN matchers, no trusted_ca, "
    "TLS parameters) is refused, naming the field - never plaintext instead",
    "[bootstrap]") {
  Files f;
  const std::string sock = "bootstrap.static_resources.clusters[0].transport_socket.typed_config";
  const std::string common = sock + ".common_tls_context";
  const std::string ca = cat("trusted_ca: {filename: ", f.path("root.pem"), "}");
  const std::string sds = "{ads: {}, resource_api_version: V3}";
  struct Case {
    std::string body;
    std::string error;
  };
  std::vector<Case> cases = {
      {cat("common_tls_context: {tls_certificate_sds_secret_configs: [{name: default, "
           "sds_config: ",
           sds, "}], validation_context: {", ca, "}}"),
       common + ".tls_certificate_sds_secret_configs: not supported"},
      {cat("common_tls_context: {validation_context_sds_secret_config: {name: ROOTCA, "
           "sds_config: ",
           sds, "}}"),
       common + ".validation_context_sds_secret_config: not supported"},
      {cat("common_tls_context: {validation_context: {", ca,
           ", match_typed_subject_alt_names: [{san_type: URI, matcher: {exact: "
           "'spiffe://cluster.local/ns/x/sa/y'}}]}}"),
       common + ".validation_context.match_typed_subject_alt_names: not supported"},
      {"common_tls_context: {}", common + ".validation_context.trusted_ca: is required"},
      {cat("common_tls_context: {tls_params: {tls_minimum_protocol_version: TLSv1_3}, "
           "validation_context: {",
           ca, "}}"),
       common + ".tls_params: not supported"},
      {cat("common_tls_context: {alpn_protocols: [h2, http/1.1], validation_context: {", ca, "}}"),
       common + ".alpn_protocols[1]: 'http/1.1': gRPC speaks h2 only"},
      {cat("common_tls_context: {validation_context: {trusted_ca: {filename: /nonexistent.pem}}}"),
       // (The cluster's own translation reads the file first.)
       "bootstrap.static_resources.clusters[0]: cluster 'xds'.transport_socket.typed_config."
       "common_tls_context.validation_context.trusted_ca.filename: cannot read "
       "'/nonexistent.pem'"},
      {cat("common_tls_context: {tls_certificates: [{certificate_chain: {filename: ",
           f.path("client.pem"), "}, private_key: {filename: ", f.path("other.key"),
           "}}], validation_context: {", ca, "}}"),
       common + ": private key '" + f.path("other.key") + "' does not match"},
  };
  for (const auto& c : cases) {
    auto bc = translate(kEnvoyGrpc, xdsCluster(upstreamTls(c.body)));
    INFO(c.body);
    REQUIRE_FALSE(bc.ok());
    INFO(errorOf(bc.status()));
    CHECK(errorOf(bc.status()).substr(0, c.error.size()) == c.error);
  }
}

}  // namespace
}  // namespace remora::xds
