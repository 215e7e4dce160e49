// Certificate authority and CA directory (see ca.h).
#include "certs/ca.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "absl/status/status.h"
#include "proxy/common/log.h"
#include "proxy/common/strings.h"

namespace remora::certs {
namespace {

constexpr const char* kRootCert = "root-cert.pem";
constexpr const char* kRootKey = "root-key.pem";
constexpr const char* kStagedCert = "staged-root-cert.pem";
constexpr const char* kStagedKey = "staged-root-key.pem";
constexpr const char* kRetiredRoots = "retired-roots.pem";
constexpr const char* kTokenKey = "token-key.pem";
constexpr const char* kLock = ".lock";
constexpr std::string_view kKeepUntil = "keep-until:";
constexpr std::string_view kActivateAt = "activate-at:";
constexpr std::string_view kOverlap = "overlap:";

std::string path(const std::string& dir, const char* name) { return cat(dir, "/", name); }

time_t toTimeT(SystemTime t) { return std::chrono::system_clock::to_time_t(t); }

std::string rfc3339(SystemTime t) {
  time_t tt = toTimeT(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// flock(2) on the directory's lock file for the lifetime of the object.
class DirLock {
 public:
  static absl::StatusOr<std::unique_ptr<DirLock>> acquire(const std::string& dir, bool exclusive) {
    std::string p = path(dir, kLock);
    int fd = open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return absl::InternalError(cat("cannot open '", p, "': ", strerror(errno)));
    while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return absl::InternalError(cat("cannot lock '", p, "': ", strerror(e)));
    }
    return std::unique_ptr<DirLock>(new DirLock(fd));
  }
  ~DirLock() { close(fd_); }  // releases the lock

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

absl::Status addExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, ctx, nid, value);
  if (ext == nullptr) {
    return absl::InternalError(
        cat("extension ", OBJ_nid2sn(nid), "=", value, ": ", opensslErrors()));
  }
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return absl::OkStatus();
}

// The SPIFFE ID as a URI SAN, then server names (DNS names and IP addresses, for a server
// certificate; already checked).
absl::Status addSans(X509* cert, const std::string& uri, const ServerNames& server) {
  GENERAL_NAMES* names = GENERAL_NAMES_new();
  auto push = [&](int type, ASN1_STRING* value) {
    GENERAL_NAME* name = GENERAL_NAME_new();
    GENERAL_NAME_set0_value(name, type, value);
    sk_GENERAL_NAME_push(names, name);
  };
  auto ia5 = [](const std::string& text) {
    ASN1_IA5STRING* s = ASN1_IA5STRING_new();
    ASN1_STRING_set(s, text.data(), static_cast<int>(text.size()));
    return s;
  };
  push(GEN_URI, ia5(uri));
  for (const auto& d : server.dns) push(GEN_DNS, ia5(d));
  for (const auto& ip : server.ips) {
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());
    if (octets == nullptr) {
      GENERAL_NAMES_free(names);
      ERR_clear_error();
      return absl::InvalidArgumentError(cat("'", printable(ip), "' is not an IP address"));
    }
    push(GEN_IPADD, octets);
  }
  // Critical: the subject is empty, so the SAN is the certificate's only name (RFC 5280 4.2.1.6).
  X509_EXTENSION* ext = X509V3_EXT_i2d(NID_subject_alt_name, 1, names);
  GENERAL_NAMES_free(names);
  if (ext == nullptr) return absl::InternalError(cat("subjectAltName: ", opensslErrors()));
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return absl::OkStatus();
}

// A DNS name a certificate may carry: labels of letters, digits and '-', dot-separated, with an
// optional leading "*." wildcard.
bool isDnsName(std::string_view name) {
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (label == 0 || label > 63 || name[i - 1] == '-' || name[i - label] == '-') return false;
      label = 0;
      continue;
    }
    char c = name[i];
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
    ++label;
  }
  return true;
}

// A positive random 128-bit serial number (RFC 5280 allows up to 20 octets).
void setRandomSerial(X509* cert) {
  unsigned char buf[16];
  bool zero = true;
  while (zero) {
    RAND_bytes(buf, sizeof(buf));
    zero = std::all_of(buf, buf + sizeof(buf), [](unsigned char c) { return c == 0; });
  }
  BIGNUM* bn = BN_bin2bn(buf, sizeof(buf), nullptr);
  ASN1_INTEGER* serial = BN_to_ASN1_INTEGER(bn, nullptr);
  X509_set_serialNumber(cert, serial);
  ASN1_INTEGER_free(serial);
  BN_free(bn);
}

// CSR keys we sign: EC P-256 or P-384, RSA 2048 to 8192 bits.
absl::Status checkCsrKey(const EVP_PKEY* key) {
  int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_RSA) {
    int bits = EVP_PKEY_get_bits(key);
    if (bits >= 2048 && bits <= 8192) return absl::OkStatus();
  } else if (id == EVP_PKEY_EC) {
    std::string d = describeKey(key);
    if (d == "EC prime256v1" || d == "EC secp384r1") return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      cat("CSR key ", describeKey(key), " is not supported (EC P-256, P-384 or RSA >= 2048)"));
}

struct RetiredRoot {
  SystemTime keep_until;
  X509Ptr cert;
};

// retired-roots.pem: "keep-until: <unix seconds>" then one certificate, repeated.
absl::StatusOr<std::vector<RetiredRoot>> parseRetiredRoots(const std::string& text) {
  std::vector<RetiredRoot> out;
  size_t pos = text.find(kKeepUntil);
  while (pos != std::string::npos) {
    size_t eol = text.find('\n', pos);
    std::string_view num = std::string_view(text).substr(
        pos + kKeepUntil.size(),
        (eol == std::string::npos ? text.size() : eol) - pos - kKeepUntil.size());
    while (!num.empty() && num.front() == ' ') num.remove_prefix(1);
    num = num.substr(0, num.find(' '));  // a comment may follow
    int64_t seconds = 0;
    if (!parseInt(num, &seconds)) {
      return absl::InvalidArgumentError(cat("bad keep-until value '", num, "'"));
    }
    size_t next = eol == std::string::npos ? eol : text.find(kKeepUntil, eol);
    std::string_view body =
        std::string_view(text).substr(eol == std::string::npos ? text.size() : eol,
                                      next == std::string::npos ? std::string::npos : next - eol);
    auto certs = parseCertsPem(body);
    if (!certs.ok() || certs->size() != 1) {
      return absl::InvalidArgumentError("each keep-until line must be followed by one certificate");
    }
    out.push_back({std::chrono::system_clock::from_time_t(static_cast<time_t>(seconds)),
                   std::move(certs->front())});
    pos = next;
  }
  return out;
}

std::string formatRetiredRoots(const std::vector<RetiredRoot>& roots) {
  std::string out;
  for (const auto& r : roots) {
    append(&out, kKeepUntil, " ", static_cast<int64_t>(toTimeT(r.keep_until)), "  (",
           rfc3339(r.keep_until), ", ", subjectString(r.cert.get()), ")\n", certPem(r.cert.get()));
  }
  return out;
}

struct StagedRoot {
  SystemTime activate_at;
  std::chrono::seconds overlap;
  X509Ptr cert;
};

// The integer on the line that starts with `name` ("activate-at: 1700000000  (comment)").
absl::StatusOr<int64_t> headerInt(std::string_view text, std::string_view name) {
  size_t pos = 0;
  while ((pos = text.find(name, pos)) != std::string_view::npos) {
    if (pos == 0 || text[pos - 1] == '\n') break;
    pos += name.size();
  }
  if (pos == std::string_view::npos) return absl::InvalidArgumentError(cat("no '", name, "' line"));
  std::string_view num = text.substr(pos + name.size());
  num = num.substr(0, num.find('\n'));
  while (!num.empty() && num.front() == ' ') num.remove_prefix(1);
  num = num.substr(0, num.find(' '));
  int64_t value = 0;
  if (!parseInt(num, &value) || value < 0) {
    return absl::InvalidArgumentError(cat("bad ", name, " value '", printable(num), "'"));
  }
  return value;
}

absl::StatusOr<StagedRoot> parseStagedRoot(const std::string& text) {
  auto at = headerInt(text, kActivateAt);
  if (!at.ok()) return at.status();
  auto overlap = headerInt(text, kOverlap);
  if (!overlap.ok()) return overlap.status();
  auto certs = parseCertsPem(text);
  if (!certs.ok()) return certs.status();
  if (certs->size() != 1) return absl::InvalidArgumentError("more than one certificate");
  return StagedRoot{std::chrono::system_clock::from_time_t(static_cast<time_t>(*at)),
                    std::chrono::seconds(*overlap), std::move(certs->front())};
}

std::string formatStagedRoot(const StagedRoot& s) {
  return cat(kActivateAt, " ", static_cast<int64_t>(toTimeT(s.activate_at)), "  (",
             rfc3339(s.activate_at), ")\n", kOverlap, " ", static_cast<int64_t>(s.overlap.count()),
             "\n", certPem(s.cert.get()));
}

absl::Status ensureDir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(cat("cannot create CA directory '", dir, "': ", strerror(errno)));
  }
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(cat("'", dir, "' is not a directory"));
  }
  if ((st.st_mode & 077) != 0) {
    REMORA_LOG(Warn, "CA directory '%s' was mode %o; setting 0700", dir, st.st_mode & 07777);
    if (chmod(dir.c_str(), 0700) != 0) {
      return absl::InternalError(cat("cannot chmod '", dir, "': ", strerror(errno)));
    }
  }
  return absl::OkStatus();
}

bool exists(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0;
}

absl::StatusOr<PkeyPtr> readKeyFile(const std::string& p) {
  auto pem = readFile(p);
  if (!pem.ok()) return pem.status();
  auto key = parsePrivateKeyPem(*pem);
  if (!key.ok()) return absl::InvalidArgumentError(cat("'", p, "': ", key.status().message()));
  return key;
}

absl::StatusOr<std::vector<X509Ptr>> readCertFile(const std::string& p) {
  auto pem = readFile(p);
  if (!pem.ok()) return pem.status();
  auto certs = parseCertsPem(*pem);
  if (!certs.ok()) return absl::InvalidArgumentError(cat("'", p, "': ", certs.status().message()));
  return certs;
}

// A new root key and certificate in the directory (the lock held). The key is written first:
// a crash in between leaves no certificate, and the next start makes both again.
absl::Status writeNewRoot(const std::string& dir, KeyType key_type, const std::string& trust_domain,
                          SystemTime now, std::string* subject) {
  auto key = generateKey(key_type);
  if (!key.ok()) return key.status();
  auto cert = makeRootCertificate(key->get(), trust_domain, kRootTtl, now);
  if (!cert.ok()) return cert.status();
  if (auto s = writeFileAtomic(path(dir, kRootKey), privateKeyPem(key->get()), 0600); !s.ok()) {
    return s;
  }
  if (subject != nullptr) *subject = subjectString(cert->get());
  return writeFileAtomic(path(dir, kRootCert), certPem(cert->get()), 0644);
}

absl::StatusOr<PkeyPtr> loadOrCreateTokenKeyLocked(const std::string& dir) {
  std::string p = path(dir, kTokenKey);
  if (exists(p)) return readKeyFile(p);
  auto key = generateKey(KeyType::EcdsaP256);
  if (!key.ok()) return key.status();
  if (auto s = writeFileAtomic(p, privateKeyPem(key->get()), 0600); !s.ok()) return s;
  REMORA_LOG(Info, "created the bootstrap token key in '%s'", dir);
  return key;
}

}  // namespace

// --- CertificateAuthority ---

absl::StatusOr<std::unique_ptr<CertificateAuthority>> CertificateAuthority::create(
    X509Ptr signer, PkeyPtr key, std::vector<X509Ptr> others, CaOptions options, SystemTime now) {
  if (X509_check_private_key(signer.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        cat("the CA key does not match the CA certificate '", subjectString(signer.get()), "'"));
  }
  if (X509_check_ca(signer.get()) < 1) {
    return absl::InvalidArgumentError(
        cat("'", subjectString(signer.get()), "' is not a CA certificate (basicConstraints)"));
  }
  std::vector<X509Ptr> roots, intermediates;
  if (isSelfSigned(signer.get())) roots.push_back(copyCert(signer.get()));
  for (auto& c : others) {
    bool dup = false;
    for (const auto& r : roots) dup = dup || X509_cmp(r.get(), c.get()) == 0;
    for (const auto& i : intermediates) dup = dup || X509_cmp(i.get(), c.get()) == 0;
    if (dup) continue;
    (isSelfSigned(c.get()) ? roots : intermediates).push_back(std::move(c));
  }
  if (roots.empty()) {
    return absl::InvalidArgumentError(
        cat("no root for '", subjectString(signer.get()),
            "': the chain must end with the self-signed root certificate"));
  }

  // Build the signer's chain to find its intermediates in order and the root it ends at.
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  for (const auto& r : roots) X509_STORE_add_cert(store.get(), r.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (const auto& i : intermediates) sk_X509_push(untrusted, i.get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), signer.get(), untrusted);
  X509_STORE_CTX_set_time(ctx.get(), 0, toTimeT(now));
  int verified = X509_verify_cert(ctx.get());
  std::unique_ptr<CertificateAuthority> ca(new CertificateAuthority());
  if (verified != 1) {
    std::string why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
    sk_X509_free(untrusted);
    ERR_clear_error();
    return absl::InvalidArgumentError(cat("the CA certificate '", subjectString(signer.get()),
                                          "' does not verify to a root: ", why));
  }
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  int n = sk_X509_num(chain);
  const X509* anchor = sk_X509_value(chain, n - 1);
  ca->chain_not_after_ = SystemTime::max();
  for (int i = 0; i < n; ++i) {
    const X509* c = sk_X509_value(chain, i);
    ca->chain_not_after_ = std::min(ca->chain_not_after_, notAfter(c));
    if (i > 0 && i < n - 1) ca->intermediates_.push_back(copyCert(c));
  }
  for (auto& r : roots) {
    if (X509_cmp(r.get(), anchor) != 0) ca->roots_.push_back(std::move(r));
  }
  ca->roots_.push_back(copyCert(anchor));
  sk_X509_free(untrusted);
  ca->options_ = std::move(options);
  ca->signer_ = std::move(signer);
  ca->key_ = std::move(key);
  return ca;
}

absl::StatusOr<std::unique_ptr<CertificateAuthority>> CertificateAuthority::fromFiles(
    const std::string& cert_path, const std::string& key_path, const std::string& chain_path,
    CaOptions options, SystemTime now) {
  auto certs = readCertFile(cert_path);
  if (!certs.ok()) return certs.status();
  auto key = readKeyFile(key_path);
  if (!key.ok()) return key.status();
  std::vector<X509Ptr> others;
  // Certificates after the first in the cert file are part of the chain too.
  for (size_t i = 1; i < certs->size(); ++i) others.push_back(std::move((*certs)[i]));
  if (!chain_path.empty()) {
    auto chain = readCertFile(chain_path);
    if (!chain.ok()) return chain.status();
    for (auto& c : *chain) others.push_back(std::move(c));
  }
  return create(std::move(certs->front()), std::move(*key), std::move(others), std::move(options),
                now);
}

std::vector<const X509*> CertificateAuthority::roots() const {
  std::vector<const X509*> out;
  for (const auto& r : roots_) out.push_back(r.get());
  return out;
}

std::string CertificateAuthority::trustBundlePem() const {
  std::string out;
  for (const auto& r : roots_) out += certPem(r.get());
  return out;
}

absl::StatusOr<IssuedCertificate> CertificateAuthority::sign(std::string_view csr_pem,
                                                             const SpiffeId& identity,
                                                             std::chrono::seconds ttl,
                                                             SystemTime now) const {
  auto csr = parseCsrPem(csr_pem);
  if (!csr.ok()) return csr.status();
  EVP_PKEY* pub = X509_REQ_get0_pubkey(csr->get());
  if (pub == nullptr) return absl::InvalidArgumentError("the CSR has no usable public key");
  if (X509_REQ_verify(csr->get(), pub) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the CSR's signature does not verify with its own key");
  }
  if (auto s = checkCsrKey(pub); !s.ok()) return s;
  std::string uri = identity.uri();
  for (const std::string& asked : csrUriSans(csr->get())) {
    if (asked != uri) {
      return absl::PermissionDeniedError(
          cat("the CSR asks for '", printable(asked), "' but the credential proves '", uri, "'"));
    }
  }

  return issue(pub, identity, ServerNames{}, ttl, now);
}

absl::StatusOr<IssuedCertificate> CertificateAuthority::issue(EVP_PKEY* pub,
                                                              const SpiffeId& identity,
                                                              const ServerNames& server,
                                                              std::chrono::seconds ttl,
                                                              SystemTime now) const {
  for (const auto& d : server.dns) {
    if (!isDnsName(d))
      return absl::InvalidArgumentError(cat("'", printable(d), "' is not a DNS name"));
  }
  const std::string uri = identity.uri();
  if (ttl.count() <= 0) ttl = options_.default_ttl;
  ttl = std::min(ttl, options_.max_ttl);
  SystemTime not_before = now - kClockSkewBackdate;
  SystemTime not_after = std::min(now + ttl, chain_not_after_);
  if (not_after <= now) {
    return absl::FailedPreconditionError(
        cat("the CA's chain expired at ", rfc3339(chain_not_after_)));
  }

  X509Ptr leaf(X509_new());
  X509_set_version(leaf.get(), X509_VERSION_3);
  setRandomSerial(leaf.get());
  X509_set_issuer_name(leaf.get(), X509_get_subject_name(signer_.get()));
  // The subject stays empty: the SPIFFE ID in the SAN is the only identity (X.509-SVID).
  ASN1_TIME_set(X509_getm_notBefore(leaf.get()), toTimeT(not_before));
  ASN1_TIME_set(X509_getm_notAfter(leaf.get()), toTimeT(not_after));
  X509_set_pubkey(leaf.get(), pub);

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, signer_.get(), leaf.get(), nullptr, nullptr, 0);
  const char* usage =
      isRsa(pub) ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature";
  for (auto [nid, value] : std::initializer_list<std::pair<int, const char*>>{
           {NID_basic_constraints, "critical,CA:FALSE"},
           {NID_key_usage, usage},
           {NID_ext_key_usage, "serverAuth,clientAuth"},
           {NID_subject_key_identifier, "hash"},
           {NID_authority_key_identifier, "keyid:always"}}) {
    if (auto s = addExtension(leaf.get(), &ctx, nid, value); !s.ok()) return s;
  }
  if (auto s = addSans(leaf.get(), uri, server); !s.ok()) return s;
  if (X509_sign(leaf.get(), key_.get(), EVP_sha256()) <= 0) {
    return absl::InternalError(cat("signing: ", opensslErrors()));
  }

  IssuedCertificate out;
  out.serial_hex = serialHex(leaf.get());
  out.not_before = notBefore(leaf.get());
  out.not_after = notAfter(leaf.get());
  out.cert_chain.push_back(certPem(leaf.get()));
  if (!isSelfSigned(signer_.get())) out.cert_chain.push_back(certPem(signer_.get()));
  for (const auto& i : intermediates_) out.cert_chain.push_back(certPem(i.get()));
  for (const auto& r : roots_) out.cert_chain.push_back(certPem(r.get()));
  return out;
}

// --- CA directory ---

absl::StatusOr<X509Ptr> makeRootCertificate(EVP_PKEY* key, const std::string& trust_domain,
                                            std::chrono::seconds ttl, SystemTime now) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  setRandomSerial(cert.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(trust_domain.c_str()), -1, -1,
                             0);
  // A distinct name per root keeps rotated roots apart in logs and tools.
  std::string cn = cat("remora root CA ", rfc3339(now));
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), toTimeT(now - kClockSkewBackdate));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), toTimeT(now + ttl));
  X509_set_pubkey(cert.get(), key);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : std::initializer_list<std::pair<int, const char*>>{
           {NID_basic_constraints, "critical,CA:TRUE"},
           {NID_key_usage, "critical,keyCertSign,cRLSign"},
           {NID_subject_key_identifier, "hash"},
           {NID_authority_key_identifier, "keyid:always"}}) {
    if (auto s = addExtension(cert.get(), &ctx, nid, value); !s.ok()) return s;
  }
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) {
    return absl::InternalError(cat("signing the root: ", opensslErrors()));
  }
  return cert;
}

absl::Status initCaDir(const std::string& dir, KeyType root_key_type,
                       const std::string& trust_domain, SystemTime now) {
  if (auto s = ensureDir(dir); !s.ok()) return s;
  auto lock = DirLock::acquire(dir, true);
  if (!lock.ok()) return lock.status();
  if (!exists(path(dir, kRootCert))) {
    std::string subject;
    if (auto s = writeNewRoot(dir, root_key_type, trust_domain, now, &subject); !s.ok()) return s;
    REMORA_LOG(Info, "created a self-signed root '%s' in '%s'", subject, dir);
  }
  return loadOrCreateTokenKeyLocked(dir).status();
}

namespace {

// What a CA directory's root files hold (read under its lock).
struct DirFiles {
  X509Ptr root;
  std::optional<StagedRoot> staged;
  // The staged certificate is already root-cert.pem: an activation stopped before it removed
  // the staged files (root-key.pem may still be the previous key).
  bool interrupted_activation = false;
  std::vector<RetiredRoot> retired;  // as written, ended overlaps included
};

absl::StatusOr<DirFiles> readDirFiles(const std::string& dir) {
  DirFiles f;
  auto certs = readCertFile(path(dir, kRootCert));
  if (!certs.ok()) return certs.status();
  f.root = std::move(certs->front());
  auto staged_text = readFile(path(dir, kStagedCert));
  if (staged_text.ok()) {
    auto staged = parseStagedRoot(*staged_text);
    if (!staged.ok()) {
      return absl::InvalidArgumentError(
          cat("'", path(dir, kStagedCert), "': ", staged.status().message()));
    }
    if (X509_cmp(staged->cert.get(), f.root.get()) == 0) {
      f.interrupted_activation = true;
    } else {
      f.staged = std::move(*staged);
    }
  } else if (!absl::IsNotFound(staged_text.status())) {
    return staged_text.status();
  }
  auto retired_text = readFile(path(dir, kRetiredRoots));
  if (retired_text.ok()) {
    auto retired = parseRetiredRoots(*retired_text);
    if (!retired.ok()) {
      return absl::InvalidArgumentError(
          cat("'", path(dir, kRetiredRoots), "': ", retired.status().message()));
    }
    f.retired = std::move(*retired);
  } else if (!absl::IsNotFound(retired_text.status())) {
    return retired_text.status();
  }
  return f;
}

// Who does what at `now`: every reader derives the same roles from the same files.
struct DirView {
  const X509* signer = nullptr;
  const StagedRoot* pending = nullptr;                      // staged, published, not signing yet
  std::vector<std::pair<const X509*, SystemTime>> retired;  // published until .second
  SystemTime next_change = SystemTime::max();
};

DirView viewAt(const DirFiles& f, SystemTime now) {
  DirView v;
  v.signer = f.root.get();
  auto retire = [&](const X509* cert, SystemTime keep_until) {
    if (keep_until <= now || notAfter(cert) <= now) return;
    v.retired.emplace_back(cert, keep_until);
    v.next_change = std::min(v.next_change, keep_until);
  };
  for (const auto& r : f.retired) retire(r.cert.get(), r.keep_until);
  if (f.staged) {
    if (f.staged->activate_at <= now) {
      v.signer = f.staged->cert.get();
      retire(f.root.get(), f.staged->activate_at + f.staged->overlap);
    } else {
      v.pending = &*f.staged;
      v.next_change = std::min(v.next_change, f.staged->activate_at);
    }
  }
  return v;
}

// The key for `cert` from root-key.pem or staged-root-key.pem, whichever matches (the staged
// root's, or the new root's after an interrupted activation).
absl::StatusOr<PkeyPtr> readKeyFor(const std::string& dir, const X509* cert) {
  for (const char* name : {kRootKey, kStagedKey}) {
    std::string p = path(dir, name);
    if (!exists(p)) continue;
    auto key = readKeyFile(p);
    if (!key.ok()) return key.status();
    if (X509_check_private_key(cert, key->get()) != 1) {
      ERR_clear_error();
      continue;
    }
    struct stat st {};
    if (stat(p.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      REMORA_LOG(Warn, "'%s' is readable by others (mode %o)", p, st.st_mode & 07777);
    }
    return key;
  }
  return absl::InvalidArgumentError(
      cat("no key in '", dir, "' matches the root certificate '", subjectString(cert), "'"));
}

absl::Status removeFile(const std::string& p) {
  if (unlink(p.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(cat("cannot remove '", p, "': ", strerror(errno)));
  }
  return absl::OkStatus();
}

// Puts `cert` and `key` in place as the signing root and removes the staged files (the lock
// held). The certificate is written before the key, and the staged files go last: a crash in
// between leaves root-cert.pem equal to the staged certificate, which readers recognise.
absl::Status installRoot(const std::string& dir, const X509* cert, EVP_PKEY* key) {
  if (auto s = writeFileAtomic(path(dir, kRootCert), certPem(cert), 0644); !s.ok()) return s;
  if (auto s = writeFileAtomic(path(dir, kRootKey), privateKeyPem(key), 0600); !s.ok()) return s;
  if (auto s = removeFile(path(dir, kStagedCert)); !s.ok()) return s;
  return removeFile(path(dir, kStagedKey));
}

// Finishes an activation that stopped half-way (see installRoot).
absl::Status finishInterruptedActivation(const std::string& dir, const DirFiles& files) {
  auto key = readKeyFor(dir, files.root.get());
  if (!key.ok()) return key.status();
  REMORA_LOG(Warn, "CA directory '%s': finishing an interrupted activation of '%s'", dir,
             subjectString(files.root.get()));
  return installRoot(dir, files.root.get(), key->get());
}

// The staged root signs from min(now, its activate-at); the current root is retired for
// `overlap` (or the staged overlap) from then. The lock held.
absl::StatusOr<std::string> activateLocked(const std::string& dir, SystemTime now,
                                           std::optional<std::chrono::seconds> overlap) {
  auto files = readDirFiles(dir);
  if (!files.ok()) return files.status();
  if (files->interrupted_activation) {
    if (auto s = finishInterruptedActivation(dir, *files); !s.ok()) return s;
    return subjectString(files->root.get());
  }
  if (!files->staged) {
    return absl::FailedPreconditionError(
        cat("no root is staged in '", dir, "' (stage one with `ca rotate-root`)"));
  }
  const StagedRoot& staged = *files->staged;
  auto key = readKeyFile(path(dir, kStagedKey));
  if (!key.ok()) return key.status();
  if (X509_check_private_key(staged.cert.get(), key->get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        cat("'", path(dir, kStagedKey), "' does not match '", path(dir, kStagedCert), "'"));
  }
  SystemTime from = std::min(now, staged.activate_at);
  std::vector<RetiredRoot> retired;
  for (auto& r : files->retired) {
    if (r.keep_until > now) retired.push_back(std::move(r));
  }
  retired.push_back({from + overlap.value_or(staged.overlap), std::move(files->root)});
  // The old root joins the retired list before the new root replaces it: a crash in between
  // leaves the old root both current and retired, which loads fine.
  if (auto s = writeFileAtomic(path(dir, kRetiredRoots), formatRetiredRoots(retired), 0644);
      !s.ok()) {
    return s;
  }
  if (auto s = installRoot(dir, staged.cert.get(), key->get()); !s.ok()) return s;
  return subjectString(staged.cert.get());
}

}  // namespace

absl::StatusOr<std::unique_ptr<CertificateAuthority>> loadCaDir(const std::string& dir,
                                                                CaOptions options, SystemTime now,
                                                                SystemTime* next_change) {
  auto lock = DirLock::acquire(dir, false);
  if (!lock.ok()) return lock.status();
  auto files = readDirFiles(dir);
  if (!files.ok()) return files.status();
  DirView view = viewAt(*files, now);
  auto key = readKeyFor(dir, view.signer);
  if (!key.ok()) return key.status();
  std::vector<X509Ptr> others;
  if (view.pending != nullptr) others.push_back(copyCert(view.pending->cert.get()));
  for (const auto& [cert, keep_until] : view.retired) others.push_back(copyCert(cert));
  if (next_change != nullptr) *next_change = view.next_change;
  return CertificateAuthority::create(copyCert(view.signer), std::move(*key), std::move(others),
                                      std::move(options), now);
}

absl::StatusOr<CaDirState> caDirState(const std::string& dir, SystemTime now) {
  auto lock = DirLock::acquire(dir, false);
  if (!lock.ok()) return lock.status();
  auto files = readDirFiles(dir);
  if (!files.ok()) return files.status();
  DirView view = viewAt(*files, now);
  CaDirState state;
  state.signer = subjectString(view.signer);
  if (view.pending != nullptr) {
    state.staged = CaDirState::Staged{subjectString(view.pending->cert.get()),
                                      view.pending->activate_at, view.pending->overlap};
  }
  for (const auto& [cert, keep_until] : view.retired) {
    state.retired.push_back({subjectString(cert), keep_until});
  }
  return state;
}

absl::StatusOr<std::string> stageRoot(const std::string& dir, KeyType key_type,
                                      const std::string& trust_domain,
                                      std::chrono::seconds propagation,
                                      std::chrono::seconds overlap, SystemTime now) {
  auto lock = DirLock::acquire(dir, true);
  if (!lock.ok()) return lock.status();
  auto files = readDirFiles(dir);
  if (!files.ok()) return files.status();
  if (files->interrupted_activation) {
    if (auto s = finishInterruptedActivation(dir, *files); !s.ok()) return s;
  } else if (files->staged) {
    if (files->staged->activate_at > now) {
      return absl::FailedPreconditionError(cat("root '", subjectString(files->staged->cert.get()),
                                               "' is already staged in '", dir, "' and signs from ",
                                               rfc3339(files->staged->activate_at),
                                               "; activate it first (`ca activate-root`)"));
    }
    // It signs already: move it into place, keeping the overlap it was staged with.
    if (auto s = activateLocked(dir, now, std::nullopt); !s.ok()) return s.status();
  }
  auto key = generateKey(key_type);
  if (!key.ok()) return key.status();
  auto cert = makeRootCertificate(key->get(), trust_domain, kRootTtl, now);
  if (!cert.ok()) return cert.status();
  std::string subject = subjectString(cert->get());
  // The key first: a certificate without its key would be published but could never sign.
  if (auto s = writeFileAtomic(path(dir, kStagedKey), privateKeyPem(key->get()), 0600); !s.ok()) {
    return s;
  }
  StagedRoot staged{now + propagation, overlap, std::move(*cert)};
  if (auto s = writeFileAtomic(path(dir, kStagedCert), formatStagedRoot(staged), 0644); !s.ok()) {
    return s;
  }
  if (propagation.count() <= 0) {
    if (auto s = activateLocked(dir, now, overlap); !s.ok()) return s.status();
  }
  return subject;
}

absl::StatusOr<std::string> activateStagedRoot(const std::string& dir, SystemTime now,
                                               std::optional<std::chrono::seconds> overlap) {
  auto lock = DirLock::acquire(dir, true);
  if (!lock.ok()) return lock.status();
  return activateLocked(dir, now, overlap);
}

absl::StatusOr<std::string> rotateRoot(const std::string& dir, KeyType key_type,
                                       const std::string& trust_domain,
                                       std::chrono::seconds overlap, SystemTime now) {
  return stageRoot(dir, key_type, trust_domain, std::chrono::seconds(0), overlap, now);
}

absl::StatusOr<PkeyPtr> loadOrCreateTokenKey(const std::string& dir) {
  if (auto s = ensureDir(dir); !s.ok()) return s;
  auto lock = DirLock::acquire(dir, true);
  if (!lock.ok()) return lock.status();
  return loadOrCreateTokenKeyLocked(dir);
}

// --- CaDirectory ---

absl::StatusOr<std::unique_ptr<CaDirectory>> CaDirectory::open(const std::string& dir,
                                                               CaOptions options,
                                                               KeyType root_key_type) {
  SystemTime now = std::chrono::system_clock::now();
  if (auto s = initCaDir(dir, root_key_type, options.trust_domain, now); !s.ok()) return s;
  std::unique_ptr<CaDirectory> d(new CaDirectory());
  d->dir_ = dir;
  d->options_ = options;
  d->seen_ = d->fingerprint();
  auto ca = loadCaDir(dir, options, now, &d->next_change_);
  if (!ca.ok()) return ca.status();
  d->ca_ = std::move(*ca);
  return d;
}

CaDirectory::Fingerprint CaDirectory::fingerprint() const {
  Fingerprint f;
  for (const char* name : {kRootCert, kRootKey, kStagedCert, kStagedKey, kRetiredRoots}) {
    struct stat st {};
    if (stat(path(dir_, name).c_str(), &st) != 0) {
      f.values.insert(f.values.end(), {-1, -1, -1, -1});
      continue;
    }
    f.values.insert(f.values.end(),
                    {static_cast<int64_t>(st.st_ino), static_cast<int64_t>(st.st_size),
                     static_cast<int64_t>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec});
  }
  return f;
}

std::shared_ptr<const CertificateAuthority> CaDirectory::current(SystemTime now) {
  std::lock_guard<std::mutex> lock(mu_);
  Fingerprint f = fingerprint();
  if (f == seen_ && now < next_change_) return ca_;
  seen_ = f;
  SystemTime next;
  auto ca = loadCaDir(dir_, options_, now, &next);
  if (!ca.ok()) {
    next_change_ = SystemTime::max();
    REMORA_LOG(Error, "CA directory '%s' changed but does not load (%s); keeping the CA in force",
               dir_, ca.status().message());
    return ca_;
  }
  next_change_ = next;
  ca_ = std::move(*ca);
  REMORA_LOG(Info, "CA directory '%s' reloaded: signing with '%s', %d root(s) in the bundle", dir_,
             subjectString(ca_->signer()), ca_->roots().size());
  return ca_;
}

}  // namespace remora::certs
