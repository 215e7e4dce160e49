// OpenSSL helpers (see x509.h).
#include "certs/x509.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "proxy/common/strings.h"

namespace remora::certs {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr memBio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string bioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

// Never prompt for a passphrase: an encrypted key is an error.
int noPassphrase(char*, int, int, void*) { return -1; }

// One PEM block as OpenSSL's generic reader returns it.
struct PemBlock {
  std::string name;
  std::string der;
};

// Every PEM block of `pem`; text outside the blocks is skipped (RFC 7468 explanatory text).
std::vector<PemBlock> pemBlocks(std::string_view pem) {
  std::vector<PemBlock> out;
  BioPtr bio = memBio(pem);
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) break;
    out.push_back({name, std::string(reinterpret_cast<char*>(data), static_cast<size_t>(len))});
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
  }
  ERR_clear_error();  // the end of the input reads as "no start line"
  return out;
}

SystemTime fromAsn1Time(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return SystemTime{};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::vector<std::string> generalNameUris(GENERAL_NAMES* names) {
  std::vector<std::string> out;
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_URI) continue;
    const ASN1_IA5STRING* s = n->d.uniformResourceIdentifier;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace

std::string opensslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

absl::StatusOr<KeyType> parseKeyType(std::string_view name) {
  if (name == "ecdsa" || name == "ec" || name == "p256") return KeyType::EcdsaP256;
  if (name == "rsa") return KeyType::Rsa2048;
  return absl::InvalidArgumentError(cat("key type '", name, "' is not 'ecdsa' or 'rsa'"));
}

absl::StatusOr<PkeyPtr> generateKey(KeyType type) {
  EVP_PKEY* key =
      type == KeyType::EcdsaP256 ? EVP_EC_gen("P-256") : EVP_RSA_gen(static_cast<unsigned>(2048));
  if (key == nullptr) return absl::InternalError(cat("key generation: ", opensslErrors()));
  return PkeyPtr(key);
}

bool isRsa(const EVP_PKEY* key) { return EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA; }

std::string describeKey(const EVP_PKEY* key) {
  int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_RSA) return cat("RSA ", EVP_PKEY_get_bits(key));
  if (id == EVP_PKEY_EC) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) == 1) return cat("EC ", group);
    return "EC";
  }
  const char* name = OBJ_nid2sn(id);
  return name != nullptr ? name : "unknown key type";
}

std::string privateKeyPem(const EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return bioString(bio.get());
}

std::string publicKeyPem(const EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key);
  return bioString(bio.get());
}

absl::StatusOr<PkeyPtr> parsePrivateKeyPem(std::string_view pem) {
  BioPtr bio = memBio(pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr);
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        cat("not an unencrypted PEM private key (", opensslErrors(), ")"));
  }
  return PkeyPtr(key);
}

absl::StatusOr<std::vector<PkeyPtr>> parsePublicKeysPem(std::string_view pem) {
  std::vector<PkeyPtr> keys;
  for (const PemBlock& block : pemBlocks(pem)) {
    const auto* p = reinterpret_cast<const unsigned char*>(block.der.data());
    long len = static_cast<long>(block.der.size());
    EVP_PKEY* key = nullptr;
    if (block.name == "PUBLIC KEY") {
      key = d2i_PUBKEY(nullptr, &p, len);
    } else if (block.name == "RSA PUBLIC KEY") {
      key = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, len);
    } else if (block.name == "CERTIFICATE") {
      X509Ptr cert(d2i_X509(nullptr, &p, len));
      if (cert) key = X509_get_pubkey(cert.get());
    } else {
      return absl::InvalidArgumentError(cat("unexpected PEM block '", block.name,
                                            "' (want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE)"));
    }
    if (key == nullptr) {
      return absl::InvalidArgumentError(
          cat("bad ", block.name, " PEM block (", opensslErrors(), ")"));
    }
    keys.emplace_back(key);
  }
  if (keys.empty()) return absl::InvalidArgumentError("no PEM public key found");
  return keys;
}

absl::StatusOr<std::vector<X509Ptr>> parseCertsPem(std::string_view pem) {
  std::vector<X509Ptr> certs;
  for (const PemBlock& block : pemBlocks(pem)) {
    if (block.name != "CERTIFICATE") {
      return absl::InvalidArgumentError(
          cat("unexpected PEM block '", block.name, "' where certificates were expected"));
    }
    const auto* p = reinterpret_cast<const unsigned char*>(block.der.data());
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(block.der.size())));
    if (!cert || p != reinterpret_cast<const unsigned char*>(block.der.data()) + block.der.size()) {
      return absl::InvalidArgumentError(cat("bad CERTIFICATE PEM block (", opensslErrors(), ")"));
    }
    certs.push_back(std::move(cert));
  }
  if (certs.empty()) return absl::InvalidArgumentError("no PEM certificate found");
  return certs;
}

std::string certPem(const X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return bioString(bio.get());
}

X509Ptr copyCert(const X509* cert) { return X509Ptr(X509_dup(cert)); }

absl::StatusOr<X509ReqPtr> parseCsrPem(std::string_view pem) {
  std::vector<PemBlock> blocks = pemBlocks(pem);
  if (blocks.size() != 1 ||
      (blocks[0].name != "CERTIFICATE REQUEST" && blocks[0].name != "NEW CERTIFICATE REQUEST")) {
    return absl::InvalidArgumentError("the CSR is not one PEM CERTIFICATE REQUEST block");
  }
  const std::string& der = blocks[0].der;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!req || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return absl::InvalidArgumentError(cat("the CSR does not parse (", opensslErrors(), ")"));
  }
  return req;
}

absl::StatusOr<std::string> makeCsrPem(EVP_PKEY* key, const std::string& uri) {
  X509ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);  // v1, the only version
  X509_REQ_set_pubkey(req.get(), key);
  GENERAL_NAMES* names = GENERAL_NAMES_new();
  GENERAL_NAME* name = GENERAL_NAME_new();
  ASN1_IA5STRING* s = ASN1_IA5STRING_new();
  ASN1_STRING_set(s, uri.data(), static_cast<int>(uri.size()));
  GENERAL_NAME_set0_value(name, GEN_URI, s);
  sk_GENERAL_NAME_push(names, name);
  X509_EXTENSION* ext = X509V3_EXT_i2d(NID_subject_alt_name, 1, names);
  GENERAL_NAMES_free(names);
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, ext);
  int added = X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (added != 1 || X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0) {
    return absl::InternalError(cat("making a CSR: ", opensslErrors()));
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  return bioString(bio.get());
}

std::vector<std::string> uriSans(const X509* cert) {
  return generalNameUris(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
}

std::vector<std::string> csrUriSans(const X509_REQ* csr) {
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(const_cast<X509_REQ*>(csr));
  if (exts == nullptr) return {};
  auto* names =
      static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts, NID_subject_alt_name, nullptr, nullptr));
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  return generalNameUris(names);
}

SystemTime notBefore(const X509* cert) { return fromAsn1Time(X509_get0_notBefore(cert)); }
SystemTime notAfter(const X509* cert) { return fromAsn1Time(X509_get0_notAfter(cert)); }

bool isSelfSigned(const X509* cert) {
  int r = X509_self_signed(const_cast<X509*>(cert), 1);
  ERR_clear_error();
  return r == 1;
}

std::string serialHex(const X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (bn == nullptr) return "";
  char* hex = BN_bn2hex(bn);
  std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

std::string subjectString(const X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  return bioString(bio.get());
}

absl::Status verifyChain(const X509* leaf, const std::vector<const X509*>& intermediates,
                         const std::vector<const X509*>& roots, SystemTime at) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  for (const X509* root : roots) X509_STORE_add_cert(store.get(), const_cast<X509*>(root));
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (const X509* c : intermediates) sk_X509_push(untrusted, const_cast<X509*>(c));
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  absl::Status status;
  if (X509_STORE_CTX_init(ctx.get(), store.get(), const_cast<X509*>(leaf), untrusted) != 1) {
    status = absl::InternalError(cat("verifying a chain: ", opensslErrors()));
  } else {
    X509_STORE_CTX_set_time(ctx.get(), 0, std::chrono::system_clock::to_time_t(at));
    if (X509_verify_cert(ctx.get()) != 1) {
      int err = X509_STORE_CTX_get_error(ctx.get());
      status = absl::PermissionDeniedError(
          cat("certificate chain does not verify: ", X509_verify_cert_error_string(err)));
    }
  }
  sk_X509_free(untrusted);
  ERR_clear_error();
  return status;
}

std::string printable(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (s.size() > max) out += "...";
  return out;
}

absl::StatusOr<std::string> readFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    std::string msg = cat("cannot open '", path, "': ", strerror(e));
    return e == ENOENT ? absl::NotFoundError(msg) : absl::PermissionDeniedError(msg);
  }
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return absl::InternalError(cat("cannot read '", path, "': ", strerror(e)));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

absl::Status writeFileAtomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = mkostemp(tmp.data(), O_CLOEXEC);  // created 0600
  if (fd < 0) return absl::InternalError(cat("cannot create '", tmp, "': ", strerror(errno)));
  auto fail = [&](const char* what) {
    int e = errno;
    close(fd);
    unlink(tmp.c_str());
    return absl::InternalError(cat("cannot ", what, " '", tmp, "': ", strerror(e)));
  };
  if (fchmod(fd, mode) != 0) return fail("chmod");
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write");
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return fail("fsync");
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return absl::InternalError(cat("cannot rename to '", path, "': ", strerror(e)));
  }
  return absl::OkStatus();
}

}  // namespace remora::certs
