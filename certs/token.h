// The credentials a workload presents to remora-control's CA: bearer JWTs that prove a
// namespace and service account. Two kinds are accepted:
//  - bootstrap tokens that remora-control mints itself (`remora-control issue-token`), ES256
//    with a key kept in its CA directory, issuer "remora-control", audience "remora-ca",
//    sub "system:serviceaccount:<ns>:<sa>";
//  - Kubernetes service-account tokens (RS256 or ES256), verified against public keys the
//    operator supplies, with the configured issuer and audience; the identity comes from the
//    "kubernetes.io" claim (namespace, serviceaccount.name) and/or sub, which must agree.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "certs/x509.h"

namespace remora::certs {

inline constexpr std::string_view kBootstrapIssuer = "remora-control";
inline constexpr std::string_view kBootstrapAudience = "remora-ca";
// Tolerated difference between our clock and the token issuer's, for exp, nbf and iat.
inline constexpr std::chrono::seconds kTokenClockSkew{30};

struct TokenIdentity {
  std::string ns;
  std::string service_account;
  std::string issuer;
};

struct KubernetesTokenConfig {
  std::vector<PkeyPtr> keys;  // the API server's service-account signing keys
  std::string issuer;         // e.g. "https://kubernetes.default.svc.cluster.local"
  std::string audience;       // e.g. "istio-ca"
};

// Reads public keys (PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE PEM blocks) from `keys_path`.
absl::StatusOr<KubernetesTokenConfig> loadKubernetesTokenConfig(const std::string& keys_path,
                                                                std::string issuer,
                                                                std::string audience);

class TokenVerifier {
 public:
  // Either kind may be off: no bootstrap key, or no Kubernetes configuration.
  TokenVerifier(PkeyPtr bootstrap_key, std::optional<KubernetesTokenConfig> kubernetes);

  // The identity a token proves. Every failure is Unauthenticated, with a message that says
  // why (and never contains the token).
  absl::StatusOr<TokenIdentity> verify(std::string_view token, SystemTime now) const;

  bool bootstrapEnabled() const { return bootstrap_key_ != nullptr; }
  bool kubernetesEnabled() const { return kubernetes_.has_value(); }

 private:
  PkeyPtr bootstrap_key_;
  std::optional<KubernetesTokenConfig> kubernetes_;
};

// A bootstrap token for ns/sa valid from `now` for `ttl`, signed with remora-control's token key.
absl::StatusOr<std::string> mintBootstrapToken(EVP_PKEY* key, std::string_view ns,
                                               std::string_view service_account,
                                               std::chrono::seconds ttl, SystemTime now);

// base64url of the first 16 bytes of SHA-256 over the key's SubjectPublicKeyInfo: the "kid" of
// the tokens it signs.
std::string keyId(const EVP_PKEY* key);

}  // namespace remora::certs
