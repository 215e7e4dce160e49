// JWS parsing, base64url and ES256/RS256 signatures.
#include "certs/jwt.h"

#include <catch2/catch.hpp>

#include "test/certs/certs_testing.h"

namespace remora::certs {
namespace {

using testing::makeJwt;

TEST_CASE("base64url round-trips every length and refuses what JWS forbids", "[jwt]") {
  std::string data;
  for (int i = 0; i < 70; ++i) {
    auto back = base64UrlDecode(base64UrlEncode(data));
    REQUIRE(back.ok());
    CHECK(*back == data);
    data.push_back(static_cast<char>(i * 37 + 251));
  }
  CHECK(base64UrlEncode("\xfb\xff") == "-_8");
  CHECK(*base64UrlDecode("-_8") == "\xfb\xff");
  CHECK(base64UrlDecode("YQ==").status().message() == "base64url must not be padded");
  CHECK_FALSE(base64UrlDecode("a+b/").ok());   // standard base64's alphabet
  CHECK_FALSE(base64UrlDecode("abcde").ok());  // 5 characters cannot encode whole bytes
  CHECK_FALSE(base64UrlDecode("YR").ok());     // non-zero bits after the last byte
  CHECK(*base64UrlDecode("YQ") == "a");
}

TEST_CASE("ECDSA signatures convert between JWS r||s and DER", "[jwt]") {
  std::string raw(64, '\0');
  for (int i = 0; i < 64; ++i) raw[i] = static_cast<char>(i + 1);
  raw[0] = '\x80';  // high bit: DER needs a leading zero
  raw[32] = '\0';   // leading zero: DER drops it
  auto der = ecdsaRawToDer(raw);
  REQUIRE(der.ok());
  auto back = ecdsaDerToRaw(*der, 32);
  REQUIRE(back.ok());
  CHECK(*back == raw);
  CHECK_FALSE(ecdsaDerToRaw("not der", 32).ok());
}

TEST_CASE("parseJwt names what is wrong with a malformed token", "[jwt]") {
  const std::string claims = base64UrlEncode(R"({"iss":"x"})");
  const std::string es = base64UrlEncode(R"({"alg":"ES256"})");
  struct Case {
    std::string token;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {"abc", "3"},
           {es + "." + claims, "3"},
           {es + "." + claims + ".c2ln.x.y", "not 3"},
           {"!!." + claims + ".c2ln", "JWT header: invalid base64url"},
           {base64UrlEncode("not json") + "." + claims + ".c2ln", "header is not a JSON object"},
           {base64UrlEncode("[1]") + "." + claims + ".c2ln", "header is not a JSON object"},
           {base64UrlEncode("{}") + "." + claims + ".c2ln", "no \"alg\""},
           {base64UrlEncode(R"({"alg":"none"})") + "." + claims + ".", "'none' is refused"},
           {base64UrlEncode(R"({"alg":"HS256"})") + "." + claims + ".c2ln", "HMAC"},
           {base64UrlEncode(R"({"alg":"PS256"})") + "." + claims + ".c2ln", "not supported"},
           {base64UrlEncode(R"({"alg":"ES256","crit":["b64"]})") + "." + claims + ".c2ln", "crit"},
           {es + "." + base64UrlEncode("{") + ".c2ln", "payload is not a JSON object"},
           {es + ".a=b." + "c2ln", "JWT payload"},
           {es + "." + claims + ".", "signature is empty"},
           {es + "." + claims + ".c2ln=", "JWT signature"},
           {std::string(20000, 'a'), "longer than"},
       }) {
    INFO(c.token);
    auto jwt = parseJwt(c.token);
    REQUIRE_FALSE(jwt.ok());
    CHECK(jwt.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(jwt.status().message()), Catch::Contains(c.error));
  }
}

TEST_CASE("ES256 tokens we sign verify with our key only", "[jwt]") {
  auto key = generateKey(KeyType::EcdsaP256);
  auto other = generateKey(KeyType::EcdsaP256);
  REQUIRE(key.ok());
  REQUIRE(other.ok());
  google::protobuf::Struct claims;
  (*claims.mutable_fields())["sub"].set_string_value("me");
  auto token = signJwtEs256(claims, key->get(), "kid-1");
  REQUIRE(token.ok());
  auto jwt = parseJwt(*token);
  REQUIRE(jwt.ok());
  CHECK(jwt->alg == "ES256");
  CHECK(jwt->kid == "kid-1");
  CHECK(jwt->claims.fields().at("sub").string_value() == "me");
  CHECK(jwt->signature.size() == 64);
  CHECK(verifyJwtSignature(*jwt, {key->get()}).ok());
  CHECK(verifyJwtSignature(*jwt, {other->get(), key->get()}).ok());
  auto wrong = verifyJwtSignature(*jwt, {other->get()});
  CHECK(wrong.code() == absl::StatusCode::kUnauthenticated);
  CHECK_THAT(std::string(wrong.message()), Catch::Contains("does not verify"));

  // The same signature over a changed payload fails.
  std::string tampered = *token;
  size_t dot = tampered.find('.');
  std::string payload = base64UrlEncode(R"({"sub":"admin"})");
  tampered.replace(dot + 1, tampered.find('.', dot + 1) - dot - 1, payload);
  auto t = parseJwt(tampered);
  REQUIRE(t.ok());
  CHECK_FALSE(verifyJwtSignature(*t, {key->get()}).ok());
}

TEST_CASE("RS256 verifies with RSA keys, and keys of the wrong type are not tried", "[jwt]") {
  auto rsa = generateKey(KeyType::Rsa2048);
  auto ec = generateKey(KeyType::EcdsaP256);
  REQUIRE(rsa.ok());
  REQUIRE(ec.ok());
  std::string token = makeJwt(R"({"alg":"RS256","typ":"JWT"})", R"({"a":1})", rsa->get(), "RS256");
  auto jwt = parseJwt(token);
  REQUIRE(jwt.ok());
  CHECK(verifyJwtSignature(*jwt, {ec->get(), rsa->get()}).ok());
  auto no_rsa = verifyJwtSignature(*jwt, {ec->get()});
  CHECK_THAT(std::string(no_rsa.message()), Catch::Contains("no RSA key"));

  // An RS256 header over an ECDSA signature (algorithm confusion) does not verify.
  std::string confused = makeJwt(R"({"alg":"RS256"})", R"({"a":1})", ec->get(), "RS256");
  auto c = parseJwt(confused);
  REQUIRE(c.ok());
  CHECK_FALSE(verifyJwtSignature(*c, {ec->get(), rsa->get()}).ok());
  // An ES256 signature that is not 64 bytes is refused before any key is tried.
  std::string short_sig = makeJwt(R"({"alg":"ES256"})", R"({"a":1})", nullptr, "ES256", "short");
  auto s = parseJwt(short_sig);
  REQUIRE(s.ok());
  CHECK_THAT(std::string(verifyJwtSignature(*s, {ec->get()}).message()), Catch::Contains("not 64"));
}

}  // namespace
}  // namespace remora::certs
