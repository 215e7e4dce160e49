// remora-control's certificate authority: signs short-lived workload certificates (X.509-SVIDs)
// whose only identity is a SPIFFE ID in a URI SAN, with a root it generated and keeps in a CA
// directory, or with an operator's root or intermediate. Publishes a trust bundle that holds
// more than one root while a root rotation overlaps.
//
// CA directory layout (the directory is 0700, keys 0600):
//   root-cert.pem      the root that signs (self-signed)
//   root-key.pem       its private key
//   retired-roots.pem  earlier roots kept in the trust bundle until their overlap ends; each
//                      certificate follows a "keep-until: <unix seconds>" line
//   token-key.pem      the EC P-256 key that signs bootstrap tokens (see token.h)
//   .lock              flock(2) held while files are created or rotated
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "certs/spiffe.h"
#include "certs/x509.h"

namespace remora::certs {

struct CaOptions {
  std::string trust_domain = "cluster.local";
  std::chrono::seconds default_ttl{std::chrono::hours(24)};
  std::chrono::seconds max_ttl{std::chrono::hours(24 * 90)};  // Istio's default maximum
};

// Leaf certificates start this much before they are signed, for clocks behind ours.
inline constexpr std::chrono::seconds kClockSkewBackdate{60};

struct IssuedCertificate {
  // PEM: the leaf, the intermediates up to the root, then the trust bundle's roots with the
  // root the leaf chains to last (Istio's order: the last certificate is the root).
  std::vector<std::string> cert_chain;
  std::string serial_hex;
  SystemTime not_before;
  SystemTime not_after;
};

class CertificateAuthority {
 public:
  // `signer` signs with `key`. `others` are the rest of the chain and bundle in any order:
  // intermediates between the signer and its root, the root, and further roots to publish
  // (during a rotation). The signer must be a CA whose chain verifies to one of the roots now.
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> create(X509Ptr signer, PkeyPtr key,
                                                                      std::vector<X509Ptr> others,
                                                                      CaOptions options,
                                                                      SystemTime now);
  // An operator's CA: the signing certificate, its key, and a chain file with the intermediates
  // above it and the root (empty when the signer is the root).
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> fromFiles(
      const std::string& cert_path, const std::string& key_path, const std::string& chain_path,
      CaOptions options, SystemTime now);

  // Signs a PEM CSR for `identity` (which a credential proved): InvalidArgument for a malformed
  // CSR, a bad CSR signature or an unsupported key; PermissionDenied when the CSR asks for a
  // URI SAN other than the identity. The certificate carries only the identity. `ttl` 0 means
  // the default; it is capped by the maximum and by the signer's (and its chain's) notAfter.
  absl::StatusOr<IssuedCertificate> sign(std::string_view csr_pem, const SpiffeId& identity,
                                         std::chrono::seconds ttl, SystemTime now) const;

  const CaOptions& options() const { return options_; }
  const X509* signer() const { return signer_.get(); }
  // The trust bundle: every root, the signing one last.
  std::vector<const X509*> roots() const;
  std::string trustBundlePem() const;

 private:
  CertificateAuthority() = default;

  CaOptions options_;
  X509Ptr signer_;
  PkeyPtr key_;
  std::vector<X509Ptr> intermediates_;  // from the signer's issuer upwards, roots excluded
  std::vector<X509Ptr> roots_;          // the one the signer chains to is last
  SystemTime chain_not_after_;          // the earliest notAfter of signer, intermediates, root
};

// A self-signed root for `trust_domain` (O=<trust domain>), valid for `ttl`.
absl::StatusOr<X509Ptr> makeRootCertificate(EVP_PKEY* key, const std::string& trust_domain,
                                            std::chrono::seconds ttl, SystemTime now);

inline constexpr std::chrono::seconds kRootTtl{std::chrono::hours(24 * 365 * 10)};

// Creates the CA directory's root and token key when missing (first start), under its lock.
absl::Status initCaDir(const std::string& dir, KeyType root_key_type,
                       const std::string& trust_domain, SystemTime now);
// The CA of an initialised directory: its root signs; retired roots still in their overlap
// join the bundle. `*next_change` (if given) is when the next retired root leaves it.
absl::StatusOr<std::unique_ptr<CertificateAuthority>> loadCaDir(const std::string& dir,
                                                                CaOptions options, SystemTime now,
                                                                SystemTime* next_change = nullptr);
// Replaces the directory's root with a new one; the old root stays in the bundle for `overlap`
// (it should outlast the longest certificate it signed). Returns the new root's subject.
absl::StatusOr<std::string> rotateRoot(const std::string& dir, KeyType key_type,
                                       const std::string& trust_domain,
                                       std::chrono::seconds overlap, SystemTime now);
// The bootstrap-token signing key of the directory (created when missing).
absl::StatusOr<PkeyPtr> loadOrCreateTokenKey(const std::string& dir);

// A CA directory in use by a server: the CA is reloaded when the root files change (a
// `rotate-root` by another process) or a retired root's overlap ends. Thread-safe.
class CaDirectory {
 public:
  static absl::StatusOr<std::unique_ptr<CaDirectory>> open(const std::string& dir,
                                                           CaOptions options,
                                                           KeyType root_key_type);
  // The CA in force. A failed reload keeps the previous CA (and is logged once per change).
  std::shared_ptr<const CertificateAuthority> current(SystemTime now);

 private:
  struct Fingerprint {
    std::vector<int64_t> values;
    bool operator==(const Fingerprint&) const = default;
  };
  Fingerprint fingerprint() const;

  std::string dir_;
  CaOptions options_;
  std::mutex mu_;
  std::shared_ptr<const CertificateAuthority> ca_;  // guarded by mu_
  Fingerprint seen_;                                // guarded by mu_
  SystemTime next_change_;                          // guarded by mu_
};

}  // namespace remora::certs
