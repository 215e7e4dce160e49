// TLS contexts and secrets: what remora implements is translated, security-relevant settings
// it does not implement are refused by field path.
#include "xds/translate/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "proxy/common/strings.h"
#include "xds/translate/http.h"

namespace remora::xds {
namespace {

namespace tlsv3 = envoy::extensions::transport_sockets::tls::v3;

absl::Status error(std::string_view path, std::string_view what) {
  return absl::InvalidArgumentError(cat(path, ": ", what));
}

// A DataSource: inline, a file (read now, as Envoy does), or an environment variable.
absl::StatusOr<std::string> dataSource(const envoy::config::core::v3::DataSource& ds,
                                       const std::string& path, TranslateNotes* notes) {
  using DS = envoy::config::core::v3::DataSource;
  if (auto s = checkFields(ds, path,
                           {"filename", "inline_bytes", "inline_string", "environment_variable"},
                           {}, notes);
      !s.ok()) {
    return s;
  }
  switch (ds.specifier_case()) {
    case DS::kInlineBytes:
      return ds.inline_bytes();
    case DS::kInlineString:
      return ds.inline_string();
    case DS::kFilename: {
      std::ifstream f(ds.filename(), std::ios::binary);
      if (!f) return error(fieldPath(path, "filename"), cat("cannot read '", ds.filename(), "'"));
      std::stringstream ss;
      ss << f.rdbuf();
      return ss.str();
    }
    case DS::kEnvironmentVariable: {
      const char* v = std::getenv(ds.environment_variable().c_str());
      if (v == nullptr) {
        return error(fieldPath(path, "environment_variable"),
                     cat("'", ds.environment_variable(), "' is not set"));
      }
      return std::string(v);
    }
    default:
      return error(path, "empty data source");
  }
}

// PEM that OpenSSL can read: certificates (at least one) or a private key.
absl::Status checkCertificates(const std::string& pem, const std::string& path) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  int n = 0;
  while (X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr)) {
    X509_free(x);
    ++n;
  }
  BIO_free(b);
  ERR_clear_error();
  if (n == 0) return error(path, "no PEM certificate");
  return absl::OkStatus();
}

absl::Status checkKey(const std::string& pem, const std::string& path) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  ERR_clear_error();
  if (k == nullptr) return error(path, "no PEM private key");
  EVP_PKEY_free(k);
  return absl::OkStatus();
}

absl::StatusOr<config::TlsCertificate> tlsCertificate(const tlsv3::TlsCertificate& c,
                                                      const std::string& path,
                                                      TranslateNotes* notes) {
  // pkcs12, watched_directory, private_key_provider, password and OCSP/SCT stapling are not
  // implemented.
  if (auto s = checkFields(c, path, {"certificate_chain", "private_key"}, {}, notes); !s.ok()) {
    return s;
  }
  if (!c.has_certificate_chain()) return error(path, "certificate_chain is required");
  if (!c.has_private_key()) return error(path, "private_key is required");
  config::TlsCertificate out;
  auto chain = dataSource(c.certificate_chain(), fieldPath(path, "certificate_chain"), notes);
  if (!chain.ok()) return chain.status();
  auto key = dataSource(c.private_key(), fieldPath(path, "private_key"), notes);
  if (!key.ok()) return key.status();
  if (auto s = checkCertificates(*chain, fieldPath(path, "certificate_chain")); !s.ok()) return s;
  if (auto s = checkKey(*key, fieldPath(path, "private_key")); !s.ok()) return s;
  out.cert_chain_pem = std::move(*chain);
  out.private_key_pem = std::move(*key);
  return out;
}

absl::StatusOr<config::ValidationContext> validationContext(
    const tlsv3::CertificateValidationContext& v, const std::string& path, TranslateNotes* notes) {
  // CRLs, SPKI/hash pinning, expired or untrusted chains accepted, custom validators, system
  // roots and SCTs would each change whom remora trusts: refused.
  if (auto s = checkFields(v, path, {"trusted_ca", "match_typed_subject_alt_names"}, {}, notes);
      !s.ok()) {
    return s;
  }
  config::ValidationContext out;
  if (v.has_trusted_ca()) {
    auto ca = dataSource(v.trusted_ca(), fieldPath(path, "trusted_ca"), notes);
    if (!ca.ok()) return ca.status();
    if (auto s = checkCertificates(*ca, fieldPath(path, "trusted_ca")); !s.ok()) return s;
    out.trusted_ca_pem = std::move(*ca);
  }
  for (int i = 0; i < v.match_typed_subject_alt_names_size(); ++i) {
    const auto& m = v.match_typed_subject_alt_names(i);
    std::string mpath = indexPath(path, "match_typed_subject_alt_names", static_cast<size_t>(i));
    if (auto s = checkFields(m, mpath, {"san_type", "matcher"}, {}, notes); !s.ok()) return s;
    config::SanMatch sm;
    switch (m.san_type()) {
      case tlsv3::SubjectAltNameMatcher::DNS:
        sm.type = config::SanMatch::Type::Dns;
        break;
      case tlsv3::SubjectAltNameMatcher::URI:
        sm.type = config::SanMatch::Type::Uri;
        break;
      case tlsv3::SubjectAltNameMatcher::EMAIL:
        sm.type = config::SanMatch::Type::Email;
        break;
      case tlsv3::SubjectAltNameMatcher::IP_ADDRESS:
        sm.type = config::SanMatch::Type::IpAddress;
        break;
      default:
        return error(fieldPath(mpath, "san_type"),
                     cat(tlsv3::SubjectAltNameMatcher::SanType_Name(m.san_type()),
                         " is not supported (DNS, URI, EMAIL, IP_ADDRESS are)"));
    }
    auto matcher = translateStringMatch(m.matcher(), fieldPath(mpath, "matcher"), notes);
    if (!matcher.ok()) return matcher.status();
    sm.matcher = *matcher;
    out.match_sans.push_back(std::move(sm));
  }
  return out;
}

// An SdsSecretConfig: the secret's name, over ADS (with the source's initial_fetch_timeout),
// or (any other config source) from the local identity provider, which serves Istio's two
// names only.
struct SdsRef {
  std::string name;
  bool ads = false;
  config::Duration fetch_timeout{std::chrono::seconds(15)};
};

absl::StatusOr<SdsRef> sdsName(const tlsv3::SdsSecretConfig& sds, const std::string& path,
                               TranslateNotes* notes) {
  if (auto s = checkFields(sds, path, {"name", "sds_config"}, {}, notes); !s.ok()) return s;
  if (sds.name().empty()) return error(fieldPath(path, "name"), "a secret name is required");
  SdsRef out;
  out.name = sds.name();
  const auto& src = sds.sds_config();
  bool local = sds.name() == kLocalCertificateSecret || sds.name() == kLocalTrustSecret;
  if (src.has_ads()) {
    out.ads = true;
    auto timeout = adsSourceFetchTimeout(src, fieldPath(path, "sds_config"), "secrets", notes);
    if (!timeout.ok()) return timeout.status();
    out.fetch_timeout = *timeout;
  } else if (sds.has_sds_config() && !local) {
    return error(fieldPath(path, "sds_config"),
                 cat("secret '", sds.name(),
                     "': only ads is supported as a config source (other sources serve only the "
                     "local identity's '",
                     kLocalCertificateSecret, "' and '", kLocalTrustSecret, "')"));
  }
  return out;
}

// One entry of tls_params.cipher_suites, as OpenSSL reads it alone. OpenSSL skips the names it
// does not know in a list as long as one is known, so a list is checked name by name here:
// Envoy refuses a list with an unknown suite, and so does remora.
bool knownCipherSuite(const std::string& name) {
  std::string_view n = name;
  if (!n.empty() && (n[0] == '!' || n[0] == '-' || n[0] == '+')) n.remove_prefix(1);  // modifiers
  if (n.empty() || n.find(':') != std::string_view::npos) return false;
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  bool ok = ctx != nullptr && SSL_CTX_set_cipher_list(ctx, std::string(n).c_str()) == 1;
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

bool knownCurve(const std::string& name) {
  if (name.empty() || name.find(':') != std::string::npos) return false;
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  bool ok = ctx != nullptr && SSL_CTX_set1_groups_list(ctx, name.c_str()) == 1;
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

config::TlsVersion tlsVersion(tlsv3::TlsParameters::TlsProtocol p) {
  switch (p) {
    case tlsv3::TlsParameters::TLSv1_0:
      return config::TlsVersion::V1_0;
    case tlsv3::TlsParameters::TLSv1_1:
      return config::TlsVersion::V1_1;
    case tlsv3::TlsParameters::TLSv1_2:
      return config::TlsVersion::V1_2;
    case tlsv3::TlsParameters::TLSv1_3:
      return config::TlsVersion::V1_3;
    default:
      return config::TlsVersion::Auto;
  }
}

absl::StatusOr<config::CommonTlsConfig> commonTls(const tlsv3::CommonTlsContext& c,
                                                  const std::string& path, bool server,
                                                  TranslateNotes* notes) {
  // Certificate providers, custom handshakers and certificate selectors are not implemented;
  // key_log would write session keys to disk: refused.
  if (auto s = checkFields(c, path,
                           {"tls_params", "tls_certificates", "tls_certificate_sds_secret_configs",
                            "validation_context", "validation_context_sds_secret_config",
                            "combined_validation_context", "alpn_protocols"},
                           {}, notes);
      !s.ok()) {
    return s;
  }
  config::CommonTlsConfig out;
  if (c.has_tls_params()) {
    const auto& p = c.tls_params();
    std::string ppath = fieldPath(path, "tls_params");
    if (auto s = checkFields(p, ppath,
                             {"tls_minimum_protocol_version", "tls_maximum_protocol_version",
                              "cipher_suites", "ecdh_curves"},
                             {}, notes);
        !s.ok()) {
      return s;
    }
    auto min = tlsVersion(p.tls_minimum_protocol_version());
    auto max = tlsVersion(p.tls_maximum_protocol_version());
    if (min == config::TlsVersion::V1_0 || min == config::TlsVersion::V1_1) {
      return error(fieldPath(ppath, "tls_minimum_protocol_version"),
                   "remora never negotiates below TLSv1_2");
    }
    if (max == config::TlsVersion::V1_0 || max == config::TlsVersion::V1_1) {
      return error(fieldPath(ppath, "tls_maximum_protocol_version"),
                   "remora never negotiates below TLSv1_2");
    }
    if (min != config::TlsVersion::Auto) out.min_version = min;
    if (max != config::TlsVersion::Auto) out.max_version = max;
    if (out.max_version < out.min_version) {
      return error(ppath, "tls_maximum_protocol_version is below tls_minimum_protocol_version");
    }
    for (const auto& cs : p.cipher_suites()) {
      if (!knownCipherSuite(cs)) {
        return error(fieldPath(ppath, "cipher_suites"),
                     cat("'", cs, "' is not a cipher suite remora knows"));
      }
      out.cipher_suites.push_back(cs);
    }
    for (const auto& cv : p.ecdh_curves()) {
      if (!knownCurve(cv)) {
        return error(fieldPath(ppath, "ecdh_curves"),
                     cat("'", cv, "' is not a curve remora knows"));
      }
      out.ecdh_curves.push_back(cv);
    }
  }
  if (c.tls_certificates_size() + c.tls_certificate_sds_secret_configs_size() > 1) {
    return error(path, "more than one certificate is not supported");
  }
  if (c.tls_certificates_size() == 1) {
    auto cert =
        tlsCertificate(c.tls_certificates(0), indexPath(path, "tls_certificates", 0), notes);
    if (!cert.ok()) return cert.status();
    out.certificate = std::move(*cert);
  }
  if (c.tls_certificate_sds_secret_configs_size() == 1) {
    auto name = sdsName(c.tls_certificate_sds_secret_configs(0),
                        indexPath(path, "tls_certificate_sds_secret_configs", 0), notes);
    if (!name.ok()) return name.status();
    out.certificate_sds = name->name;
    out.certificate_sds_ads = name->ads;
    out.certificate_sds_fetch_timeout = name->fetch_timeout;
  }
  if (c.has_validation_context()) {
    auto v =
        validationContext(c.validation_context(), fieldPath(path, "validation_context"), notes);
    if (!v.ok()) return v.status();
    out.validation = std::move(*v);
  } else if (c.has_validation_context_sds_secret_config()) {
    auto name = sdsName(c.validation_context_sds_secret_config(),
                        fieldPath(path, "validation_context_sds_secret_config"), notes);
    if (!name.ok()) return name.status();
    out.validation_sds = name->name;
    out.validation_sds_ads = name->ads;
    out.validation_sds_fetch_timeout = name->fetch_timeout;
  } else if (c.has_combined_validation_context()) {
    const auto& cv = c.combined_validation_context();
    std::string cpath = fieldPath(path, "combined_validation_context");
    if (auto s = checkFields(cv, cpath,
                             {"default_validation_context", "validation_context_sds_secret_config"},
                             {}, notes);
        !s.ok()) {
      return s;
    }
    auto v = validationContext(cv.default_validation_context(),
                               fieldPath(cpath, "default_validation_context"), notes);
    if (!v.ok()) return v.status();
    if (!v->trusted_ca_pem.empty()) {
      return error(fieldPath(cpath, "default_validation_context.trusted_ca"),
                   "the trust bundle comes from the SDS secret; an inline one as well is not "
                   "supported");
    }
    out.validation = std::move(*v);
    auto name = sdsName(cv.validation_context_sds_secret_config(),
                        fieldPath(cpath, "validation_context_sds_secret_config"), notes);
    if (!name.ok()) return name.status();
    out.validation_sds = name->name;
    out.validation_sds_ads = name->ads;
    out.validation_sds_fetch_timeout = name->fetch_timeout;
  }
  for (const auto& a : c.alpn_protocols()) {
    if (a.empty() || a.size() > 255) {
      return error(fieldPath(path, "alpn_protocols"), cat("'", a, "' is not a valid protocol"));
    }
    out.alpn.push_back(a);
  }
  if (server && !out.certificate && out.certificate_sds.empty()) {
    return error(path,
                 "a server needs a certificate (tls_certificates or "
                 "tls_certificate_sds_secret_configs)");
  }
  bool trust =
      (out.validation && !out.validation->trusted_ca_pem.empty()) || !out.validation_sds.empty();
  if (out.validation && !out.validation->match_sans.empty() && !trust) {
    return error(path, "match_typed_subject_alt_names needs a trusted_ca to verify against");
  }
  return out;
}

}  // namespace

bool isTlsTransportSocket(const envoy::config::core::v3::TransportSocket& ts) {
  return ts.has_typed_config() && (ts.typed_config().Is<tlsv3::UpstreamTlsContext>() ||
                                   ts.typed_config().Is<tlsv3::DownstreamTlsContext>());
}

absl::StatusOr<config::UpstreamTlsConfig> translateUpstreamTls(
    const envoy::config::core::v3::TransportSocket& ts, const std::string& path,
    TranslateNotes* notes) {
  tlsv3::UpstreamTlsContext u;
  if (!ts.has_typed_config() || !ts.typed_config().Is<tlsv3::UpstreamTlsContext>() ||
      !ts.typed_config().UnpackTo(&u)) {
    return error(fieldPath(path, "typed_config"), "a cluster's TLS needs an UpstreamTlsContext");
  }
  std::string upath = fieldPath(path, "typed_config");
  // allow_renegotiation and enforce_rsa_key_usage change what is accepted: refused;
  // max_session_keys only sizes the session cache (remora keeps one).
  if (auto s = checkFields(u, upath, {"common_tls_context", "sni"}, {"max_session_keys"}, notes);
      !s.ok()) {
    return s;
  }
  config::UpstreamTlsConfig out;
  auto common =
      commonTls(u.common_tls_context(), fieldPath(upath, "common_tls_context"), false, notes);
  if (!common.ok()) return common.status();
  out.common = std::move(*common);
  out.sni = u.sni();
  return out;
}

absl::StatusOr<config::DownstreamTlsConfig> translateDownstreamTls(
    const envoy::config::core::v3::TransportSocket& ts, const std::string& path,
    TranslateNotes* notes) {
  tlsv3::DownstreamTlsContext d;
  if (!ts.has_typed_config() || !ts.typed_config().Is<tlsv3::DownstreamTlsContext>() ||
      !ts.typed_config().UnpackTo(&d)) {
    return error(fieldPath(path, "typed_config"),
                 "a filter chain's TLS needs a DownstreamTlsContext");
  }
  std::string dpath = fieldPath(path, "typed_config");
  // require_sni, session ticket keys, OCSP stapling and session_timeout are not implemented.
  if (auto s = checkFields(
          d, dpath,
          {"common_tls_context", "require_client_certificate",
           "disable_stateless_session_resumption", "disable_stateful_session_resumption"},
          {}, notes);
      !s.ok()) {
    return s;
  }
  config::DownstreamTlsConfig out;
  auto common =
      commonTls(d.common_tls_context(), fieldPath(dpath, "common_tls_context"), true, notes);
  if (!common.ok()) return common.status();
  out.common = std::move(*common);
  out.require_client_certificate =
      d.has_require_client_certificate() && d.require_client_certificate().value();
  out.disable_stateless_session_resumption = d.disable_stateless_session_resumption();
  out.disable_stateful_session_resumption = d.disable_stateful_session_resumption();
  bool trust = (out.common.validation && !out.common.validation->trusted_ca_pem.empty()) ||
               !out.common.validation_sds.empty();
  if (out.require_client_certificate && !trust) {
    return error(fieldPath(dpath, "require_client_certificate"),
                 "needs a validation context with a trusted_ca to verify clients against");
  }
  return out;
}

absl::StatusOr<config::SecretConfig> translateSecret(const tlsv3::Secret& secret,
                                                     const std::string& path,
                                                     TranslateNotes* notes) {
  // Session ticket keys and generic secrets are not used by anything remora implements.
  if (auto s =
          checkFields(secret, path, {"name", "tls_certificate", "validation_context"}, {}, notes);
      !s.ok()) {
    return s;
  }
  if (secret.name().empty()) return error(fieldPath(path, "name"), "a secret needs a name");
  config::SecretConfig out;
  out.name = secret.name();
  if (secret.has_tls_certificate()) {
    auto c = tlsCertificate(secret.tls_certificate(), fieldPath(path, "tls_certificate"), notes);
    if (!c.ok()) return c.status();
    out.tls_certificate = std::move(*c);
  } else if (secret.has_validation_context()) {
    auto v = validationContext(secret.validation_context(), fieldPath(path, "validation_context"),
                               notes);
    if (!v.ok()) return v.status();
    if (v->trusted_ca_pem.empty()) {
      return error(fieldPath(path, "validation_context.trusted_ca"), "a trust bundle is required");
    }
    out.validation_context = std::move(*v);
  } else {
    return error(path, "a secret needs a tls_certificate or a validation_context");
  }
  return out;
}

}  // namespace remora::xds
