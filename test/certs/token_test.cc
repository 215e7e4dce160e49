// Bootstrap and Kubernetes service-account tokens: what they prove and every way to be refused.
#include "certs/token.h"

#include <catch2/catch.hpp>

#include "certs/jwt.h"
#include "test/certs/certs_testing.h"

namespace remora::certs {
namespace {

using testing::makeJwt;
using testing::unixNow;

constexpr const char* kIssuer = "https://kubernetes.default.svc.cluster.local";

std::string ts(int64_t t) { return std::to_string(t); }

struct Keys {
  PkeyPtr bootstrap = *generateKey(KeyType::EcdsaP256);
  PkeyPtr k8s_rsa = *generateKey(KeyType::Rsa2048);
  PkeyPtr k8s_ec = *generateKey(KeyType::EcdsaP256);
  PkeyPtr stranger = *generateKey(KeyType::EcdsaP256);

  // A verifier that trusts both kinds, with the Kubernetes keys loaded from PEM as from a file.
  TokenVerifier verifier() const {
    auto bootstrap_copy = parsePrivateKeyPem(privateKeyPem(bootstrap.get()));
    auto k8s_keys = parsePublicKeysPem(publicKeyPem(k8s_rsa.get()) + publicKeyPem(k8s_ec.get()));
    KubernetesTokenConfig k8s{std::move(*k8s_keys), kIssuer, "istio-ca"};
    return TokenVerifier(std::move(*bootstrap_copy), std::move(k8s));
  }
};

// The claims of a projected service-account token, as the API server writes them.
struct K8sClaims {
  int64_t now = unixNow();
  std::string iss = kIssuer;
  std::string aud = R"(["istio-ca"])";
  int64_t exp = now + 3600;
  int64_t nbf = now;
  std::string sub = "system:serviceaccount:shop:cart";
  std::string kubernetes = R"({"namespace":"shop","pod":{"name":"cart-1","uid":"u"},)"
                           R"("serviceaccount":{"name":"cart","uid":"v"}})";

  std::string json() const {
    return R"({"iss":")" + iss + R"(","aud":)" + aud + R"(,"exp":)" + ts(exp) + R"(,"iat":)" +
           ts(now) + R"(,"nbf":)" + ts(nbf) + R"(,"sub":")" + sub + R"(","kubernetes.io":)" +
           kubernetes + "}";
  }
};

TEST_CASE("a minted bootstrap token proves its namespace and service account", "[token]") {
  Keys keys;
  auto now = std::chrono::system_clock::now();
  auto token =
      mintBootstrapToken(keys.bootstrap.get(), "default", "reviews", std::chrono::hours(1), now);
  REQUIRE(token.ok());
  auto id = keys.verifier().verify(*token, now);
  REQUIRE(id.ok());
  CHECK(id->ns == "default");
  CHECK(id->service_account == "reviews");
  CHECK(id->issuer == "remora-control");
  // Its header names the key, its claims say what the CA checks.
  auto jwt = parseJwt(*token);
  REQUIRE(jwt.ok());
  CHECK(jwt->kid == keyId(keys.bootstrap.get()));
  CHECK(jwt->claims.fields().at("aud").string_value() == "remora-ca");
  CHECK(jwt->claims.fields().at("sub").string_value() == "system:serviceaccount:default:reviews");
  // Names that cannot be in a SPIFFE ID are not minted.
  CHECK_FALSE(
      mintBootstrapToken(keys.bootstrap.get(), "a/b", "c", std::chrono::hours(1), now).ok());
}

TEST_CASE("expired and not-yet-valid tokens are refused, within the clock-skew allowance",
          "[token]") {
  Keys keys;
  auto verifier = keys.verifier();
  auto now = std::chrono::system_clock::now();
  auto token = mintBootstrapToken(keys.bootstrap.get(), "default", "reviews",
                                  std::chrono::seconds(600), now);
  REQUIRE(token.ok());
  CHECK(verifier
            .verify(*token,
                    now + std::chrono::seconds(600) + kTokenClockSkew - std::chrono::seconds(2))
            .ok());
  auto expired = verifier.verify(
      *token, now + std::chrono::seconds(600) + kTokenClockSkew + std::chrono::seconds(2));
  REQUIRE_FALSE(expired.ok());
  CHECK(expired.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK_THAT(std::string(expired.status().message()), Catch::Contains("expired at"));

  K8sClaims later;
  later.nbf = later.now + 3000;
  std::string future = makeJwt(R"({"alg":"RS256"})", later.json(), keys.k8s_rsa.get(), "RS256");
  auto early = verifier.verify(future, now);
  REQUIRE_FALSE(early.ok());
  CHECK_THAT(std::string(early.status().message()), Catch::Contains("not valid before"));

  std::string no_exp =
      makeJwt(R"({"alg":"ES256"})",
              R"({"iss":"remora-control","aud":"remora-ca","sub":"system:serviceaccount:a:b"})",
              keys.bootstrap.get(), "ES256");
  CHECK_THAT(std::string(verifier.verify(no_exp, now).status().message()),
             Catch::Contains("no \"exp\""));
}

TEST_CASE("tokens signed by another key, unsigned or HMAC-signed prove nothing", "[token]") {
  Keys keys;
  auto verifier = keys.verifier();
  auto now = std::chrono::system_clock::now();
  auto forged =
      mintBootstrapToken(keys.stranger.get(), "default", "reviews", std::chrono::hours(1), now);
  REQUIRE(forged.ok());
  auto r = verifier.verify(*forged, now);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK_THAT(std::string(r.status().message()), Catch::Contains("does not verify"));

  int64_t t = unixNow();
  std::string claims = K8sClaims().json();
  // "header.payload." with an empty signature.
  std::string none = makeJwt(R"({"alg":"none"})", claims, nullptr, "none", "");
  CHECK_THAT(std::string(verifier.verify(none, now).status().message()),
             Catch::Contains("'none' is refused"));
  // HS256 "signed" with the RSA public key as the HMAC secret: the classic confusion attack.
  std::string hs = makeJwt(R"({"alg":"HS256"})", claims, nullptr, "HS256", "mac");
  CHECK_THAT(std::string(verifier.verify(hs, now).status().message()), Catch::Contains("HMAC"));
  // A Kubernetes-issuer token signed by a key the operator did not list.
  std::string stranger = makeJwt(R"({"alg":"ES256"})", claims, keys.stranger.get(), "ES256");
  CHECK_FALSE(verifier.verify(stranger, now).ok());
  // A token claiming the bootstrap issuer but signed with a Kubernetes key.
  std::string cross = makeJwt(
      R"({"alg":"ES256"})",
      R"({"iss":"remora-control","aud":"remora-ca","sub":"system:serviceaccount:a:b","exp":)" +
          ts(t + 600) + "}",
      keys.k8s_ec.get(), "ES256");
  CHECK_FALSE(verifier.verify(cross, now).ok());
}

TEST_CASE("Kubernetes tokens: identity from the kubernetes.io claim or sub", "[token]") {
  Keys keys;
  auto verifier = keys.verifier();
  auto now = std::chrono::system_clock::now();
  int64_t t = unixNow();

  std::string rs =
      makeJwt(R"({"alg":"RS256","kid":"k1"})", K8sClaims().json(), keys.k8s_rsa.get(), "RS256");
  auto id = verifier.verify(rs, now);
  REQUIRE(id.ok());
  CHECK(id->ns == "shop");
  CHECK(id->service_account == "cart");
  CHECK(id->issuer == kIssuer);

  // ES256, audience as a plain string, identity only in sub.
  std::string sub_only = R"({"iss":")" + std::string(kIssuer) + R"(","aud":"istio-ca","exp":)" +
                         ts(t + 600) + R"(,"sub":"system:serviceaccount:billing:invoices"})";
  auto id2 =
      verifier.verify(makeJwt(R"({"alg":"ES256"})", sub_only, keys.k8s_ec.get(), "ES256"), now);
  REQUIRE(id2.ok());
  CHECK(id2->ns == "billing");
  CHECK(id2->service_account == "invoices");

  // sub and kubernetes.io disagree.
  K8sClaims mixed;
  mixed.sub = "system:serviceaccount:shop:admin";
  auto m = verifier.verify(makeJwt(R"({"alg":"RS256"})", mixed.json(), keys.k8s_rsa.get(), "RS256"),
                           now);
  REQUIRE_FALSE(m.ok());
  CHECK_THAT(std::string(m.status().message()), Catch::Contains("but \"kubernetes.io\" names"));

  // Neither.
  std::string anonymous = R"({"iss":")" + std::string(kIssuer) + R"(","aud":"istio-ca","exp":)" +
                          ts(t + 600) + R"(,"sub":"alice"})";
  CHECK_THAT(
      std::string(
          verifier.verify(makeJwt(R"({"alg":"ES256"})", anonymous, keys.k8s_ec.get(), "ES256"), now)
              .status()
              .message()),
      Catch::Contains("no service account"));
}

TEST_CASE("wrong audience or issuer is refused", "[token]") {
  Keys keys;
  auto verifier = keys.verifier();
  auto now = std::chrono::system_clock::now();
  K8sClaims api_aud;
  api_aud.aud = R"(["https://kubernetes.default.svc"])";
  std::string wrong_aud =
      makeJwt(R"({"alg":"RS256"})", api_aud.json(), keys.k8s_rsa.get(), "RS256");
  auto a = verifier.verify(wrong_aud, now);
  REQUIRE_FALSE(a.ok());
  CHECK(a.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK_THAT(std::string(a.status().message()), Catch::Contains("does not include 'istio-ca'"));
  K8sClaims numeric_aud;
  numeric_aud.aud = "[1]";
  CHECK_FALSE(
      verifier
          .verify(makeJwt(R"({"alg":"RS256"})", numeric_aud.json(), keys.k8s_rsa.get(), "RS256"),
                  now)
          .ok());

  K8sClaims other_iss;
  other_iss.iss = "https://evil";
  auto i = verifier.verify(
      makeJwt(R"({"alg":"RS256"})", other_iss.json(), keys.k8s_rsa.get(), "RS256"), now);
  REQUIRE_FALSE(i.ok());
  CHECK_THAT(std::string(i.status().message()), Catch::Contains("issuer 'https://evil'"));
  // A claim quoted in an error cannot break the log line it ends up in.
  K8sClaims newline_iss;
  newline_iss.iss = R"(https://evil\n[error] forged log line)";
  auto n = verifier.verify(
      makeJwt(R"({"alg":"RS256"})", newline_iss.json(), keys.k8s_rsa.get(), "RS256"), now);
  CHECK_THAT(std::string(n.status().message()),
             Catch::Contains("issuer 'https://evil?[error] forged log line'"));

  // A verifier without Kubernetes keys refuses Kubernetes tokens.
  TokenVerifier bootstrap_only(*parsePrivateKeyPem(privateKeyPem(keys.bootstrap.get())),
                               std::nullopt);
  CHECK_FALSE(
      bootstrap_only
          .verify(makeJwt(R"({"alg":"RS256"})", K8sClaims().json(), keys.k8s_rsa.get(), "RS256"),
                  now)
          .ok());
}

TEST_CASE("malformed tokens and claims are refused with a reason", "[token]") {
  Keys keys;
  auto verifier = keys.verifier();
  auto now = std::chrono::system_clock::now();
  K8sClaims list_claim;
  list_claim.kubernetes = "[1]";
  for (const auto& [token, why] : std::vector<std::pair<std::string, std::string>>{
           {"", "empty token"},
           {"not-a-jwt", "3 (JWS compact form)"},
           {base64UrlEncode(R"({"alg":"ES256"})") + ".e30.%%%", "invalid base64url"},
           {base64UrlEncode(R"({"alg":"ES256"})") + "." + base64UrlEncode("{not json}") + ".c2ln",
            "payload is not a JSON object"},
           {makeJwt(R"({"alg":"ES256"})", R"({"aud":"x"})", keys.k8s_ec.get(), "ES256"),
            "no \"iss\""},
           {makeJwt(R"({"alg":"RS256"})",
                    R"({"iss":")" + std::string(kIssuer) + R"(","aud":"istio-ca","exp":"soon"})",
                    keys.k8s_rsa.get(), "RS256"),
            "\"exp\" is not a number"},
           {makeJwt(R"({"alg":"RS256"})", list_claim.json(), keys.k8s_rsa.get(), "RS256"),
            "\"kubernetes.io\" is not an object"},
       }) {
    INFO(token);
    auto r = verifier.verify(token, now);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kUnauthenticated);
    CHECK_THAT(std::string(r.status().message()), Catch::Contains(why));
  }
}

TEST_CASE("Kubernetes keys load from PEM public keys and certificates", "[token]") {
  testing::TempDir tmp;
  auto ec = generateKey(KeyType::EcdsaP256);
  std::string keys_path = tmp.write("sa.pub", publicKeyPem(ec->get()));
  auto cfg = loadKubernetesTokenConfig(keys_path, kIssuer, "istio-ca");
  REQUIRE(cfg.ok());
  CHECK(cfg->keys.size() == 1);
  CHECK_FALSE(loadKubernetesTokenConfig(tmp.file("missing"), kIssuer, "istio-ca").ok());
  CHECK_FALSE(loadKubernetesTokenConfig(tmp.write("bad", "hello"), kIssuer, "istio-ca").ok());
  CHECK_FALSE(loadKubernetesTokenConfig(keys_path, "", "istio-ca").ok());
}

}  // namespace
}  // namespace remora::certs
