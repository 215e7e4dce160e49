// remora-control's CA used by a client nobody here wrote: grpc-js calls Istio's
// CreateCertificate with a CSR made by the openssl CLI, as an Istio-style agent would.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <catch2/catch.hpp>
#include <cstdlib>

#include "certs/x509.h"
#include "test/certs/certs_testing.h"

namespace remora::certs {
namespace {

using testing::ControlPlane;
using testing::TempDir;

struct CallResult {
  int code = -1;
  std::string details;
  std::vector<std::string> cert_chain;
};

CallResult callWithGrpcJs(const ControlPlane& cp, const std::string& csr_file,
                          const std::string& token_file, int validity) {
  setenv("NODE_PATH", (remora::testing::sourceDir() + "/xds/proto/node_modules").c_str(), 1);
  std::string out;
  int rc = testing::run({"node", remora::testing::sourceDir() + "/test/certs/istio_ca_client.js",
                         cp.address(), csr_file, token_file, std::to_string(validity)},
                        &out);
  INFO(out);
  REQUIRE(rc == 0);
  google::protobuf::Struct json;
  REQUIRE(google::protobuf::util::JsonStringToMessage(out.substr(0, out.find('\n')), &json).ok());
  CallResult r;
  r.code = static_cast<int>(json.fields().at("code").number_value());
  r.details = json.fields().at("details").string_value();
  for (const auto& v : json.fields().at("cert_chain").list_value().values()) {
    r.cert_chain.push_back(v.string_value());
  }
  return r;
}

std::string opensslCsr(const TempDir& tmp, const std::string& name, const std::string& uri) {
  std::string out;
  int rc = testing::run(
      {"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", tmp.file(name + ".key"), "-out", tmp.file(name + ".csr"), "-subj",
       "/O=istio-agent", "-addext", "subjectAltName=URI:" + uri},
      &out);
  INFO(out);
  REQUIRE(rc == 0);
  return tmp.file(name + ".csr");
}

TEST_CASE("interop: a grpc-js Istio-style agent gets a certificate from remora-control",
          "[identity][interop]") {
  TempDir tmp;
  ControlPlane cp(tmp, {"--ca-dir", tmp.file("ca")});
  const std::string uri = "spiffe://cluster.local/ns/default/sa/agent";
  std::string csr = opensslCsr(tmp, "agent", uri);
  std::string token = tmp.write("token", testing::issueToken(tmp.file("ca"), "default", "agent"));

  CallResult ok = callWithGrpcJs(cp, csr, token, 3600);
  INFO(ok.details);
  INFO(cp.log());
  REQUIRE(ok.code == 0);
  REQUIRE(ok.cert_chain.size() == 2);  // leaf, root (last, as Istio's agent expects)
  CHECK(ok.cert_chain[1] == testing::slurp(tmp.file("ca/root-cert.pem")));
  tmp.write("leaf.pem", ok.cert_chain[0]);
  tmp.write("root.pem", ok.cert_chain.back());
  std::string out;
  CHECK(testing::run({"openssl", "verify", "-purpose", "sslserver", "-CAfile", tmp.file("root.pem"),
                      tmp.file("leaf.pem")},
                     &out) == 0);
  // The leaf is for the agent's own key and identity, for the hour it asked for.
  CHECK(testing::run(
            {"openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", tmp.file("leaf.pem")},
            &out) == 0);
  CHECK_THAT(out, Catch::Contains("URI:" + uri));
  std::string leaf_pub, key_pub;
  testing::run({"openssl", "x509", "-noout", "-pubkey", "-in", tmp.file("leaf.pem")}, &leaf_pub);
  testing::run({"openssl", "pkey", "-pubout", "-in", tmp.file("agent.key")}, &key_pub);
  CHECK(leaf_pub == key_pub);
  auto leaf = parseCertsPem(ok.cert_chain[0]);
  REQUIRE(leaf.ok());
  auto left = notAfter(leaf->front().get()) - std::chrono::system_clock::now();
  CHECK(std::chrono::duration_cast<std::chrono::seconds>(left).count() == Approx(3600).margin(5));

  // Refusals carry gRPC's codes.
  CallResult no_token = callWithGrpcJs(cp, csr, "-", 0);
  CHECK(no_token.code == 16);  // UNAUTHENTICATED
  CHECK_THAT(no_token.details, Catch::Contains("authorization"));
  CallResult other = callWithGrpcJs(
      cp, opensslCsr(tmp, "admin", "spiffe://cluster.local/ns/kube-system/sa/admin"), token, 0);
  CHECK(other.code == 7);  // PERMISSION_DENIED
  CallResult garbage = callWithGrpcJs(cp, tmp.write("garbage.csr", "not a csr"), token, 0);
  CHECK(garbage.code == 3);  // INVALID_ARGUMENT
  CHECK(garbage.cert_chain.empty());

  auto stats = cp.stats();
  CHECK(stats["control_plane.ca.certs_issued"] == 1);
  CHECK(stats["control_plane.ca.denied_unauthenticated"] == 1);
  CHECK(stats["control_plane.ca.denied_identity"] == 1);
  CHECK(stats["control_plane.ca.denied_invalid_csr"] == 1);
}

}  // namespace
}  // namespace remora::certs
