// Bootstrap and Kubernetes service-account tokens (see token.h).
#include "certs/token.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <cmath>
#include <ctime>

#include "absl/status/status.h"
#include "certs/jwt.h"
#include "certs/spiffe.h"
#include "proxy/common/strings.h"

namespace remora::certs {
namespace {

constexpr std::string_view kServiceAccountPrefix = "system:serviceaccount:";

using Fields = google::protobuf::Map<std::string, google::protobuf::Value>;

absl::Status unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(cat("token rejected: ", why));
}

const google::protobuf::Value* field(const Fields& f, const std::string& name) {
  auto it = f.find(name);
  return it == f.end() ? nullptr : &it->second;
}

std::string rfc3339(double unix_seconds) {
  if (!std::isfinite(unix_seconds) || std::fabs(unix_seconds) > 1e11) return "(out of range)";
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// A NumericDate claim (seconds since the epoch); absent is nullopt, any other type an error.
absl::StatusOr<std::optional<double>> numericDate(const Fields& f, const std::string& name) {
  const google::protobuf::Value* v = field(f, name);
  if (v == nullptr) return std::optional<double>();
  if (!v->has_number_value() || !std::isfinite(v->number_value())) {
    return unauthenticated(cat("claim \"", name, "\" is not a number"));
  }
  return std::optional<double>(v->number_value());
}

// "system:serviceaccount:<ns>:<sa>"
bool parseServiceAccountSubject(std::string_view sub, std::string* ns, std::string* sa) {
  if (!sub.starts_with(kServiceAccountPrefix)) return false;
  std::vector<std::string_view> parts = split(sub.substr(kServiceAccountPrefix.size()), ':');
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) return false;
  *ns = std::string(parts[0]);
  *sa = std::string(parts[1]);
  return true;
}

// The namespace and service account a Kubernetes token names, from "kubernetes.io" and/or sub.
absl::Status kubernetesIdentity(const Fields& claims, TokenIdentity* id) {
  std::string k8s_ns, k8s_sa, sub_ns, sub_sa;
  bool have_k8s = false, have_sub = false;
  if (const auto* k = field(claims, "kubernetes.io"); k != nullptr) {
    if (!k->has_struct_value()) return unauthenticated("claim \"kubernetes.io\" is not an object");
    const Fields& kf = k->struct_value().fields();
    const auto* ns = field(kf, "namespace");
    const auto* sa = field(kf, "serviceaccount");
    const google::protobuf::Value* name = sa != nullptr && sa->has_struct_value()
                                              ? field(sa->struct_value().fields(), "name")
                                              : nullptr;
    if (ns == nullptr || !ns->has_string_value() || name == nullptr || !name->has_string_value()) {
      return unauthenticated(
          "claim \"kubernetes.io\" lacks namespace or serviceaccount.name strings");
    }
    k8s_ns = ns->string_value();
    k8s_sa = name->string_value();
    have_k8s = true;
  }
  if (const auto* sub = field(claims, "sub"); sub != nullptr && sub->has_string_value()) {
    have_sub = parseServiceAccountSubject(sub->string_value(), &sub_ns, &sub_sa);
  }
  if (have_k8s && have_sub && (k8s_ns != sub_ns || k8s_sa != sub_sa)) {
    return unauthenticated(cat("sub names ", printable(sub_ns), "/", printable(sub_sa),
                               " but \"kubernetes.io\" names ", printable(k8s_ns), "/",
                               printable(k8s_sa)));
  }
  if (!have_k8s && !have_sub) {
    return unauthenticated(
        "no service account in the token (neither a \"kubernetes.io\" claim nor sub "
        "\"system:serviceaccount:<ns>:<sa>\")");
  }
  id->ns = have_k8s ? k8s_ns : sub_ns;
  id->service_account = have_k8s ? k8s_sa : sub_sa;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<KubernetesTokenConfig> loadKubernetesTokenConfig(const std::string& keys_path,
                                                                std::string issuer,
                                                                std::string audience) {
  if (issuer.empty()) return absl::InvalidArgumentError("Kubernetes token issuer is empty");
  if (audience.empty()) return absl::InvalidArgumentError("Kubernetes token audience is empty");
  auto pem = readFile(keys_path);
  if (!pem.ok()) return pem.status();
  auto keys = parsePublicKeysPem(*pem);
  if (!keys.ok()) {
    return absl::InvalidArgumentError(cat("'", keys_path, "': ", keys.status().message()));
  }
  return KubernetesTokenConfig{std::move(*keys), std::move(issuer), std::move(audience)};
}

TokenVerifier::TokenVerifier(PkeyPtr bootstrap_key, std::optional<KubernetesTokenConfig> kubernetes)
    : bootstrap_key_(std::move(bootstrap_key)), kubernetes_(std::move(kubernetes)) {}

absl::StatusOr<TokenIdentity> TokenVerifier::verify(std::string_view token, SystemTime now) const {
  if (token.empty()) return unauthenticated("empty token");
  auto jwt = parseJwt(token);
  if (!jwt.ok()) return unauthenticated(jwt.status().message());
  const Fields& claims = jwt->claims.fields();

  // The (not yet verified) issuer only chooses the keys and rules to check the token with.
  const auto* iss = field(claims, "iss");
  if (iss == nullptr || !iss->has_string_value()) return unauthenticated("no \"iss\" claim");
  const std::string& issuer = iss->string_value();
  bool bootstrap = bootstrap_key_ != nullptr && issuer == kBootstrapIssuer;
  bool kubernetes = !bootstrap && kubernetes_.has_value() && issuer == kubernetes_->issuer;
  if (!bootstrap && !kubernetes) {
    std::string trusted;
    if (bootstrap_key_ != nullptr) trusted = cat("'", kBootstrapIssuer, "'");
    if (kubernetes_) append(&trusted, trusted.empty() ? "" : ", ", "'", kubernetes_->issuer, "'");
    return unauthenticated(cat("issuer '", printable(issuer), "' is not trusted (trusted: ",
                               trusted.empty() ? "none" : trusted, ")"));
  }
  std::vector<const EVP_PKEY*> keys;
  if (bootstrap) {
    keys.push_back(bootstrap_key_.get());
  } else {
    for (const auto& k : kubernetes_->keys) keys.push_back(k.get());
  }
  if (auto s = verifyJwtSignature(*jwt, keys); !s.ok()) return unauthenticated(s.message());

  double now_s = static_cast<double>(std::chrono::system_clock::to_time_t(now));
  double skew = static_cast<double>(kTokenClockSkew.count());
  auto exp = numericDate(claims, "exp");
  if (!exp.ok()) return exp.status();
  if (!exp->has_value()) return unauthenticated("no \"exp\" claim (tokens must expire)");
  if (now_s >= **exp + skew) {
    return unauthenticated(cat("expired at ", rfc3339(**exp), " (now ", rfc3339(now_s), ")"));
  }
  auto nbf = numericDate(claims, "nbf");
  if (!nbf.ok()) return nbf.status();
  if (nbf->has_value() && now_s + skew < **nbf) {
    return unauthenticated(cat("not valid before ", rfc3339(**nbf), " (now ", rfc3339(now_s), ")"));
  }
  auto iat = numericDate(claims, "iat");
  if (!iat.ok()) return iat.status();
  if (iat->has_value() && now_s + skew < **iat) {
    return unauthenticated(cat("issued in the future, at ", rfc3339(**iat)));
  }

  const std::string& want_aud = bootstrap ? std::string(kBootstrapAudience) : kubernetes_->audience;
  const auto* aud = field(claims, "aud");
  bool aud_ok = false;
  std::string got;
  if (aud != nullptr && aud->has_string_value()) {
    aud_ok = aud->string_value() == want_aud;
    got = aud->string_value();
  } else if (aud != nullptr && aud->has_list_value()) {
    for (const auto& v : aud->list_value().values()) {
      if (!v.has_string_value()) continue;
      aud_ok = aud_ok || v.string_value() == want_aud;
      append(&got, got.empty() ? "" : ",", v.string_value());
    }
  }
  if (!aud_ok) {
    return unauthenticated(
        cat("audience '", printable(got), "' does not include '", want_aud, "'"));
  }

  TokenIdentity id;
  id.issuer = issuer;
  if (bootstrap) {
    const auto* sub = field(claims, "sub");
    if (sub == nullptr || !sub->has_string_value() ||
        !parseServiceAccountSubject(sub->string_value(), &id.ns, &id.service_account)) {
      return unauthenticated("sub is not \"system:serviceaccount:<ns>:<sa>\"");
    }
  } else if (auto s = kubernetesIdentity(claims, &id); !s.ok()) {
    return s;
  }
  // Names must be usable in a SPIFFE ID.
  if (auto parsed = parseSpiffeId(cat("spiffe://x/ns/", id.ns, "/sa/", id.service_account));
      !parsed.ok()) {
    return unauthenticated(cat("namespace '", printable(id.ns), "' or service account '",
                               printable(id.service_account), "' is invalid"));
  }
  return id;
}

absl::StatusOr<std::string> mintBootstrapToken(EVP_PKEY* key, std::string_view ns,
                                               std::string_view service_account,
                                               std::chrono::seconds ttl, SystemTime now) {
  if (auto parsed = parseSpiffeId(cat("spiffe://x/ns/", ns, "/sa/", service_account));
      !parsed.ok()) {
    return absl::InvalidArgumentError(
        cat("namespace '", ns, "' or service account '", service_account, "' is invalid"));
  }
  if (ttl.count() <= 0) return absl::InvalidArgumentError("token TTL must be positive");
  double iat = static_cast<double>(std::chrono::system_clock::to_time_t(now));
  google::protobuf::Struct claims;
  auto& f = *claims.mutable_fields();
  f["iss"].set_string_value(std::string(kBootstrapIssuer));
  f["aud"].set_string_value(std::string(kBootstrapAudience));
  f["sub"].set_string_value(cat(kServiceAccountPrefix, ns, ":", service_account));
  f["iat"].set_number_value(iat);
  f["exp"].set_number_value(iat + static_cast<double>(ttl.count()));
  return signJwtEs256(claims, key, keyId(key));
}

std::string keyId(const EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return "";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(len), digest);
  OPENSSL_free(der);
  return base64UrlEncode(std::string_view(reinterpret_cast<char*>(digest), 16));
}

}  // namespace remora::certs
