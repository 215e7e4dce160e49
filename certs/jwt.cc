// JWS compact tokens (see jwt.h).
#include "certs/jwt.h"

#include <google/protobuf/util/json_util.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <array>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "proxy/common/strings.h"

namespace remora::certs {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr size_t kMaxTokenBytes = 16 * 1024;

constexpr std::array<int8_t, 256> decodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kDecode = decodeTable();

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

absl::StatusOr<google::protobuf::Struct> parseJsonObject(const std::string& json,
                                                         std::string_view what) {
  google::protobuf::Struct out;
  auto status = google::protobuf::util::JsonStringToMessage(json, &out);
  if (!status.ok()) {
    return absl::InvalidArgumentError(cat("JWT ", what, " is not a JSON object"));
  }
  return out;
}

bool isP256(const EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char group[64] = {0};
  size_t len = 0;
  return EVP_PKEY_get_group_name(key, group, sizeof(group), &len) == 1 &&
         std::string_view(group) == "prime256v1";
}

bool verifyOne(const EVP_PKEY* key, std::string_view data, std::string_view sig) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok =
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, const_cast<EVP_PKEY*>(key)) ==
          1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace

std::string base64UrlEncode(std::string_view data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(data[k])); };
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(v >> shift) & 63]);
  }
  if (data.size() - i == 1) {
    uint32_t v = byte(i) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (data.size() - i == 2) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

absl::StatusOr<std::string> base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return absl::InvalidArgumentError("base64url length is impossible");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int8_t v = kDecode[static_cast<unsigned char>(c)];
    if (v < 0) {
      return absl::InvalidArgumentError(
          c == '=' ? std::string("base64url must not be padded")
                   : cat("invalid base64url character 0x", absl::StrFormat("%02x", c & 0xff)));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) {
    return absl::InvalidArgumentError("base64url has non-zero trailing bits");
  }
  return out;
}

absl::StatusOr<std::string> ecdsaRawToDer(std::string_view raw) {
  if (raw.empty() || raw.size() % 2 != 0 || raw.size() > 132) {
    return absl::InvalidArgumentError(cat("ECDSA signature of ", raw.size(), " bytes"));
  }
  size_t n = raw.size() / 2;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  BIGNUM* r = BN_bin2bn(p, static_cast<int>(n), nullptr);
  BIGNUM* s = BN_bin2bn(p + n, static_cast<int>(n), nullptr);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, r, s);
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) return absl::InternalError("cannot encode an ECDSA signature");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

absl::StatusOr<std::string> ecdsaDerToRaw(std::string_view der, size_t field_bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (sig == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a DER ECDSA signature");
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  std::string out(field_bytes * 2, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  bool ok = BN_bn2binpad(r, o, static_cast<int>(field_bytes)) > 0 &&
            BN_bn2binpad(s, o + field_bytes, static_cast<int>(field_bytes)) > 0;
  ECDSA_SIG_free(sig);
  if (!ok) return absl::InvalidArgumentError("ECDSA signature values are too large");
  return out;
}

absl::StatusOr<Jwt> parseJwt(std::string_view token) {
  if (token.size() > kMaxTokenBytes) {
    return absl::InvalidArgumentError(
        cat("JWT of ", token.size(), " bytes is longer than ", kMaxTokenBytes));
  }
  std::vector<std::string_view> parts = split(token, '.');
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(
        cat("JWT has ", parts.size(), " dot-separated parts, not 3 (JWS compact form)"));
  }
  Jwt jwt;
  auto header_json = base64UrlDecode(parts[0]);
  if (!header_json.ok()) {
    return absl::InvalidArgumentError(cat("JWT header: ", header_json.status().message()));
  }
  auto header = parseJsonObject(*header_json, "header");
  if (!header.ok()) return header.status();
  jwt.header = std::move(*header);
  const auto& hf = jwt.header.fields();
  auto alg = hf.find("alg");
  if (alg == hf.end() || !alg->second.has_string_value()) {
    return absl::InvalidArgumentError("JWT header has no \"alg\" string");
  }
  jwt.alg = alg->second.string_value();
  if (jwt.alg == "none" || jwt.alg == "None" || jwt.alg == "NONE") {
    return absl::InvalidArgumentError("JWT alg 'none' is refused: unsigned tokens prove nothing");
  }
  if (jwt.alg.starts_with("HS")) {
    return absl::InvalidArgumentError(
        cat("JWT alg '", jwt.alg, "' is refused: HMAC tokens are not accepted, only ES256/RS256"));
  }
  if (jwt.alg != "ES256" && jwt.alg != "RS256") {
    return absl::InvalidArgumentError(
        cat("JWT alg '", jwt.alg, "' is not supported (ES256 and RS256 are)"));
  }
  if (hf.count("crit") != 0) {
    return absl::InvalidArgumentError("JWT header has \"crit\" extensions, none are understood");
  }
  if (auto kid = hf.find("kid"); kid != hf.end() && kid->second.has_string_value()) {
    jwt.kid = kid->second.string_value();
  }
  auto payload_json = base64UrlDecode(parts[1]);
  if (!payload_json.ok()) {
    return absl::InvalidArgumentError(cat("JWT payload: ", payload_json.status().message()));
  }
  auto claims = parseJsonObject(*payload_json, "payload");
  if (!claims.ok()) return claims.status();
  jwt.claims = std::move(*claims);
  auto sig = base64UrlDecode(parts[2]);
  if (!sig.ok()) return absl::InvalidArgumentError(cat("JWT signature: ", sig.status().message()));
  if (sig->empty()) return absl::InvalidArgumentError("JWT signature is empty");
  jwt.signature = std::move(*sig);
  jwt.signing_input = std::string(token.substr(0, parts[0].size() + 1 + parts[1].size()));
  return jwt;
}

absl::Status verifyJwtSignature(const Jwt& jwt, const std::vector<const EVP_PKEY*>& keys) {
  bool es = jwt.alg == "ES256";
  if (!es && jwt.alg != "RS256") {
    return absl::UnauthenticatedError(cat("JWT alg '", jwt.alg, "' is not supported"));
  }
  std::string sig = jwt.signature;
  if (es) {
    if (sig.size() != 64) {
      return absl::UnauthenticatedError(
          cat("ES256 signature is ", sig.size(), " bytes, not 64 (r||s)"));
    }
    auto der = ecdsaRawToDer(sig);
    if (!der.ok()) return absl::UnauthenticatedError(der.status().message());
    sig = std::move(*der);
  }
  size_t candidates = 0;
  for (const EVP_PKEY* key : keys) {
    if (es ? !isP256(key) : !isRsa(key)) continue;
    ++candidates;
    if (verifyOne(key, jwt.signing_input, sig)) return absl::OkStatus();
  }
  if (candidates == 0) {
    return absl::UnauthenticatedError(
        cat("no ", es ? "EC P-256" : "RSA", " key to verify a ", jwt.alg, " JWT"));
  }
  return absl::UnauthenticatedError(cat("JWT signature does not verify with any of the ",
                                        candidates, " trusted ", es ? "EC P-256" : "RSA",
                                        " key(s)"));
}

absl::StatusOr<std::string> signJwtEs256(const google::protobuf::Struct& claims, EVP_PKEY* key,
                                         const std::string& kid) {
  if (!isP256(key)) return absl::InvalidArgumentError("ES256 needs an EC P-256 key");
  google::protobuf::Struct header;
  (*header.mutable_fields())["alg"].set_string_value("ES256");
  (*header.mutable_fields())["typ"].set_string_value("JWT");
  if (!kid.empty()) (*header.mutable_fields())["kid"].set_string_value(kid);
  std::string header_json, claims_json;
  if (!google::protobuf::util::MessageToJsonString(header, &header_json).ok() ||
      !google::protobuf::util::MessageToJsonString(claims, &claims_json).ok()) {
    return absl::InternalError("cannot serialize JWT JSON");
  }
  std::string input = cat(base64UrlEncode(header_json), ".", base64UrlEncode(claims_json));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    return absl::InternalError(cat("ES256 signing: ", opensslErrors()));
  }
  std::string der(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return absl::InternalError(cat("ES256 signing: ", opensslErrors()));
  }
  der.resize(len);
  auto raw = ecdsaDerToRaw(der, 32);
  if (!raw.ok()) return raw.status();
  return cat(input, ".", base64UrlEncode(*raw));
}

}  // namespace remora::certs
