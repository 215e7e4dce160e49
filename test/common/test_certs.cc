// Test certificates: OpenSSL's X509 API, nothing cached.
#include "test/common/test_certs.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace remora::testing {
namespace {

std::string pemOf(X509* cert) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(b);
  return out;
}

std::string pemOf(EVP_PKEY* key) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(b);
  return out;
}

X509* readCert(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  if (x == nullptr) throw std::runtime_error("test cert: bad PEM");
  return x;
}

EVP_PKEY* readKey(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  if (k == nullptr) throw std::runtime_error("test cert: bad key PEM");
  return k;
}

void addExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) throw std::runtime_error("test cert: bad extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* newCert(EVP_PKEY* key, long not_before_s, long not_after_s) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(x), not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(x), not_after_s);
  X509_set_pubkey(x, key);
  return x;
}

}  // namespace

TestCert makeRootCa(const std::string& common_name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = newCert(key, -3600, 86400);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("remora tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(x, name);
  addExt(x, x, NID_basic_constraints, "critical,CA:TRUE");
  addExt(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
  addExt(x, x, NID_subject_key_identifier, "hash");
  X509_sign(x, key, EVP_sha256());
  TestCert out{pemOf(x), pemOf(key)};
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

TestCert issueLeaf(const TestCert& ca, const std::string& uri, const std::string& dns,
                   long not_before_s, long not_after_s) {
  X509* ca_cert = readCert(ca.cert_pem);
  EVP_PKEY* ca_key = readKey(ca.key_pem);
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = newCert(key, not_before_s, not_after_s);
  X509_set_issuer_name(x, X509_get_subject_name(ca_cert));
  addExt(x, ca_cert, NID_basic_constraints, "critical,CA:FALSE");
  addExt(x, ca_cert, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  addExt(x, ca_cert, NID_ext_key_usage, "serverAuth,clientAuth");
  addExt(x, ca_cert, NID_authority_key_identifier, "keyid");
  std::string san;
  if (!uri.empty()) san = "URI:" + uri;
  if (!dns.empty()) san += (san.empty() ? "" : ",") + std::string("DNS:") + dns;
  if (!san.empty()) addExt(x, ca_cert, NID_subject_alt_name, san.c_str());
  X509_sign(x, ca_key, EVP_sha256());
  TestCert out{pemOf(x), pemOf(key)};
  X509_free(x);
  EVP_PKEY_free(key);
  X509_free(ca_cert);
  EVP_PKEY_free(ca_key);
  return out;
}

}  // namespace remora::testing
