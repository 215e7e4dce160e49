// remora-control's certificate authority: signs short-lived workload certificates (X.509-SVIDs)
// whose only identity is a SPIFFE ID in a URI SAN, with a root it generated and keeps in a CA
// directory, or with an operator's root or intermediate. Publishes a trust bundle that holds
// more than one root while a root rotation is under way.
//
// A root rotation has two steps, so that no proxy ever meets a peer whose root it does not
// trust yet: the new root is first *staged* (published in the trust bundle of every chain
// issued, while the old root keeps signing), and *activated* (signs from then on) once every
// live proxy has renewed at least once, either when its propagation period ends or by an
// explicit activate-root. The old root then stays in the bundle until its overlap ends.
//
// CA directory layout (the directory is 0700, keys 0600):
//   root-cert.pem         the root that signs (self-signed)
//   root-key.pem          its private key
//   staged-root-cert.pem  a root published in the bundle that does not sign yet: an
//                         "activate-at: <unix seconds>" line and an "overlap: <seconds>" line
//                         (how long the current root stays in the bundle once it activates),
//                         then the certificate
//   staged-root-key.pem   its private key (written before the certificate)
//   retired-roots.pem     earlier roots kept in the trust bundle until their overlap ends; each
//                         certificate follows a "keep-until: <unix seconds>" line
//   token-key.pem         the EC P-256 key that signs bootstrap tokens (see token.h)
//   .lock                 flock(2) held while files are created or rotated
//
// A staged root whose activate-at has passed signs without anything rewriting the files (every
// reader computes the same state from the files and the clock, so a restarted server continues
// where it was); the next rotate-root or activate-root moves the files into place.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
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

// Names a server certificate carries besides its SPIFFE ID (remora-control's own certificate
// for its gRPC port): DNS names (a leading "*." allowed) and IP addresses.
struct ServerNames {
  std::vector<std::string> dns;
  std::vector<std::string> ips;
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

  // A certificate for `public_key` without a CSR (remora-control's serving certificate, whose
  // key it made itself): the SPIFFE ID and `server` names as SANs; lifetime and chain as sign().
  // InvalidArgument for a malformed DNS name or IP address.
  absl::StatusOr<IssuedCertificate> issue(EVP_PKEY* public_key, const SpiffeId& identity,
                                          const ServerNames& server, std::chrono::seconds ttl,
                                          SystemTime now) const;

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
// The CA of an initialised directory: its root signs (or the staged root, once its activate-at
// has passed); a staged root and retired roots still in their overlap join the bundle.
// `*next_change` (if given) is when the state changes next: a staged root activates or a
// retired root leaves the bundle.
absl::StatusOr<std::unique_ptr<CertificateAuthority>> loadCaDir(const std::string& dir,
                                                                CaOptions options, SystemTime now,
                                                                SystemTime* next_change = nullptr);

// The rotation state of a CA directory, for operators (`remora-control ca status`).
struct CaDirState {
  std::string signer;  // subject of the root that signs now
  struct Staged {
    std::string subject;
    SystemTime activate_at;
    std::chrono::seconds overlap;
  };
  std::optional<Staged> staged;  // a staged root that does not sign yet
  struct Retired {
    std::string subject;
    SystemTime keep_until;
  };
  std::vector<Retired> retired;  // roots still in the bundle that no longer sign
};
absl::StatusOr<CaDirState> caDirState(const std::string& dir, SystemTime now);

// Step one: makes a new root and publishes it in the trust bundle; the current root keeps
// signing until `now + propagation` (make it at least the longest certificate lifetime issued,
// so every proxy renews, and so learns the new root, before a peer presents a certificate it
// signed). Once the new root signs, the old one stays in the bundle for `overlap` (it should
// outlast the longest certificate it signed). `propagation` 0 activates at once (a one-step
// rotation: proxies that have not renewed since refuse peers with new certificates until they
// do). FailedPrecondition while another staged root has not activated yet. A staged root that
// has activated is moved into place first. Returns the new root's subject.
absl::StatusOr<std::string> stageRoot(const std::string& dir, KeyType key_type,
                                      const std::string& trust_domain,
                                      std::chrono::seconds propagation,
                                      std::chrono::seconds overlap, SystemTime now);
// Step two, ahead of time: the staged root signs from `now`; the previous root stays in the
// bundle for `overlap` if given, else for the overlap recorded when it was staged. Also moves a
// staged root that already activated by time into place (its overlap counted from then).
// FailedPrecondition when no root is staged. Returns the subject of the root that now signs.
absl::StatusOr<std::string> activateStagedRoot(const std::string& dir, SystemTime now,
                                               std::optional<std::chrono::seconds> overlap = {});
// Both steps at once: stageRoot with no propagation period.
absl::StatusOr<std::string> rotateRoot(const std::string& dir, KeyType key_type,
                                       const std::string& trust_domain,
                                       std::chrono::seconds overlap, SystemTime now);
// The bootstrap-token signing key of the directory (created when missing).
absl::StatusOr<PkeyPtr> loadOrCreateTokenKey(const std::string& dir);

// A CA directory in use by a server: the CA is reloaded when the root files change (a
// `rotate-root` or `activate-root` by another process), when a staged root's activation time
// comes, or when a retired root's overlap ends. Thread-safe.
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
