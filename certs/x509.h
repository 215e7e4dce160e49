// OpenSSL 3 helpers for remora's certificates: owning pointers, PEM in and out, key and CSR
// generation, certificate fields, chain verification, and files written with a given mode.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace remora::certs {

struct OpensslDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpensslDeleter>;
using X509Ptr = std::unique_ptr<X509, OpensslDeleter>;
using X509ReqPtr = std::unique_ptr<X509_REQ, OpensslDeleter>;

using SystemTime = std::chrono::system_clock::time_point;

// The messages on OpenSSL's error queue of this thread, joined by "; " (the queue is emptied).
std::string opensslErrors();

enum class KeyType { EcdsaP256, Rsa2048 };
// "ecdsa" (P-256) or "rsa" (2048 bits).
absl::StatusOr<KeyType> parseKeyType(std::string_view name);
absl::StatusOr<PkeyPtr> generateKey(KeyType type);
bool isRsa(const EVP_PKEY* key);
// "EC P-256", "RSA 2048", for messages.
std::string describeKey(const EVP_PKEY* key);

// PKCS#8 PEM of a private key; SubjectPublicKeyInfo PEM of its public half.
std::string privateKeyPem(const EVP_PKEY* key);
std::string publicKeyPem(const EVP_PKEY* key);
// "PRIVATE KEY", "EC PRIVATE KEY" or "RSA PRIVATE KEY" (unencrypted).
absl::StatusOr<PkeyPtr> parsePrivateKeyPem(std::string_view pem);
// Every "PUBLIC KEY", "RSA PUBLIC KEY" or "CERTIFICATE" block (its key); at least one.
absl::StatusOr<std::vector<PkeyPtr>> parsePublicKeysPem(std::string_view pem);

// Every "CERTIFICATE" block in order; at least one.
absl::StatusOr<std::vector<X509Ptr>> parseCertsPem(std::string_view pem);
std::string certPem(const X509* cert);
X509Ptr copyCert(const X509* cert);

// Exactly one "CERTIFICATE REQUEST" (or "NEW CERTIFICATE REQUEST") block.
absl::StatusOr<X509ReqPtr> parseCsrPem(std::string_view pem);
// A CSR signed by `key` (SHA-256) with `uri` as its only subject alternative name and an empty
// subject, as Istio's agent sends it.
absl::StatusOr<std::string> makeCsrPem(EVP_PKEY* key, const std::string& uri);

std::vector<std::string> uriSans(const X509* cert);
// The URI SANs a CSR asks for (in its extensionRequest attribute).
std::vector<std::string> csrUriSans(const X509_REQ* csr);
SystemTime notBefore(const X509* cert);
SystemTime notAfter(const X509* cert);
bool isSelfSigned(const X509* cert);
std::string serialHex(const X509* cert);
std::string subjectString(const X509* cert);

// Verifies `leaf` up to one of `roots` through `intermediates` at time `at`, for any purpose.
absl::Status verifyChain(const X509* leaf, const std::vector<const X509*>& intermediates,
                         const std::vector<const X509*>& roots, SystemTime at);

// `s` made safe to quote in an error or log line: at most `max` bytes, and bytes outside
// printable ASCII (newlines, escapes) shown as '?'. For values a peer chose (claims, SANs).
std::string printable(std::string_view s, size_t max = 200);

absl::StatusOr<std::string> readFile(const std::string& path);
// Writes to a temporary file in the same directory, fsyncs and renames over `path`, so that a
// reader sees the old or the new content; the file is created with `mode` (umask aside).
absl::Status writeFileAtomic(const std::string& path, std::string_view data, mode_t mode);

}  // namespace remora::certs
