// TLS on listeners (DownstreamTlsContext) and clusters (UpstreamTlsContext), and the Secrets
// they name (SDS). Certificates and trust bundles are carried as PEM; a context that names a
// secret gets the secret's content filled in when the configuration is assembled, so two
// versions of a context compare equal exactly when they would make the same SSL_CTX.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "proxy/config/http_config.h"

namespace remora::config {

// envoy.extensions.transport_sockets.tls.v3.TlsCertificate: a chain and its private key.
struct TlsCertificate {
  std::string cert_chain_pem;
  std::string private_key_pem;
  bool operator==(const TlsCertificate&) const = default;
};

// envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher.
struct SanMatch {
  enum class Type { Dns, Uri, Email, IpAddress };
  Type type = Type::Uri;
  StringMatch matcher;
  bool operator==(const SanMatch&) const = default;
};

// envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext.
struct ValidationContext {
  std::string trusted_ca_pem;  // the trust bundle: one or more roots
  // The peer's certificate must carry a SAN that one of these matches (none: any name).
  std::vector<SanMatch> match_sans;
  bool operator==(const ValidationContext&) const = default;
};

enum class TlsVersion { Auto, V1_0, V1_1, V1_2, V1_3 };

// envoy.extensions.transport_sockets.tls.v3.CommonTlsContext.
struct CommonTlsConfig {
  TlsVersion min_version = TlsVersion::V1_2;  // TLS 1.2 at least, always
  TlsVersion max_version = TlsVersion::V1_3;
  std::vector<std::string> cipher_suites;  // TLS 1.2 suites, OpenSSL names; empty: defaults
  std::vector<std::string> ecdh_curves;    // empty: X25519, P-256
  std::vector<std::string> alpn;

  // Inline, or by SDS name (then filled in from the secret when assembled).
  std::optional<TlsCertificate> certificate;
  std::string certificate_sds;
  // Trust and SAN matching: inline, or by SDS name; with combined_validation_context the
  // secret gives the trust bundle and `validation.match_sans` come from the default context.
  std::optional<ValidationContext> validation;
  std::string validation_sds;
  // The SDS secrets come over ADS (sds_config.ads); otherwise from the local identity
  // provider or the bootstrap's static secrets.
  bool certificate_sds_ads = false;
  bool validation_sds_ads = false;
  // Their sds_config.initial_fetch_timeout (0: what uses them warms until they arrive).
  Duration certificate_sds_fetch_timeout{std::chrono::seconds(15)};
  Duration validation_sds_fetch_timeout{std::chrono::seconds(15)};
  // Set when assembled: an SDS secret over ADS did not arrive within initial_fetch_timeout.
  // The listener or cluster then serves (as Envoy's does) with a context that fails every
  // handshake at once, never with the secret left out.
  bool secrets_timed_out = false;
  // Whether the SDS secrets were found when assembled (false: the context warms), or given
  // up on.
  bool secrets_ready() const {
    return secrets_timed_out || ((certificate_sds.empty() || certificate.has_value()) &&
                                 (validation_sds.empty() ||
                                  (validation.has_value() && !validation->trusted_ca_pem.empty())));
  }
  bool operator==(const CommonTlsConfig&) const = default;
};

struct UpstreamTlsConfig {
  CommonTlsConfig common;
  std::string sni;
  bool operator==(const UpstreamTlsConfig&) const = default;
};

struct DownstreamTlsConfig {
  CommonTlsConfig common;
  bool require_client_certificate = false;
  bool disable_stateless_session_resumption = false;
  bool disable_stateful_session_resumption = false;
  bool operator==(const DownstreamTlsConfig&) const = default;
};

// envoy.extensions.transport_sockets.tls.v3.Secret.
struct SecretConfig {
  std::string name;
  std::optional<TlsCertificate> tls_certificate;
  std::optional<ValidationContext> validation_context;
  // A placeholder, not a secret: the initial fetch of this name over ADS timed out.
  bool absent = false;
  bool operator==(const SecretConfig&) const = default;
};

}  // namespace remora::config
