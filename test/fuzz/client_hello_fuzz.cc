// Fuzzes the tls_inspector's ClientHello parser. A verdict, once given, never changes as more
// bytes arrive (every prefix needs more or agrees with the whole input); what it reports is
// sane; and a hello that OpenSSL, as a server, reads to the point of choosing a certificate
// (its servername callback ran) is one remora frames the same way, with the same SNI and ALPN.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/server/tls_inspector.h"
#include "test/fuzz/fuzz_check.h"

namespace {

using remora::server::ClientHelloInfo;
using remora::server::ClientHelloResult;
using remora::server::parseClientHello;

// What OpenSSL saw of the hello.
struct Seen {
  bool servername_cb = false;
  std::string server_name;
  std::optional<std::vector<std::string>> alpn;
};

int onServerName(SSL* ssl, int*, void*) {
  auto* seen = static_cast<Seen*>(SSL_get_app_data(ssl));
  seen->servername_cb = true;
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name != nullptr) seen->server_name = name;
  return SSL_TLSEXT_ERR_OK;
}

int onAlpn(SSL* ssl, const unsigned char**, unsigned char*, const unsigned char* in,
           unsigned int inlen, void*) {
  auto* seen = static_cast<Seen*>(SSL_get_app_data(ssl));
  std::vector<std::string> list;
  for (unsigned i = 0; i < inlen;) {
    unsigned n = in[i];
    list.emplace_back(reinterpret_cast<const char*>(in) + i + 1,
                      std::min<unsigned>(n, inlen - i - 1));
    i += 1 + n;
  }
  seen->alpn = std::move(list);
  return SSL_TLSEXT_ERR_NOACK;
}

// A TLS server context with a self-signed P-256 certificate, so that OpenSSL gets as far into
// a hello as it would in a real server.
SSL_CTX* serverContext() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_server_method());
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("fuzz"), -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_sign(x, key, EVP_sha256());
    FUZZ_CHECK(SSL_CTX_use_certificate(c, x) == 1);
    FUZZ_CHECK(SSL_CTX_use_PrivateKey(c, key) == 1);
    X509_free(x);
    EVP_PKEY_free(key);
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_tlsext_servername_callback(c, onServerName);
    SSL_CTX_set_alpn_select_cb(c, onAlpn, nullptr);
    return c;
  }();
  return ctx;
}

Seen opensslReads(std::string_view in) {
  Seen seen;
  SSL* ssl = SSL_new(serverContext());
  BIO* rbio = BIO_new_mem_buf(in.data(), static_cast<int>(in.size()));
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rbio, wbio);
  SSL_set_app_data(ssl, &seen);
  SSL_set_accept_state(ssl);
  SSL_do_handshake(ssl);
  SSL_free(ssl);
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ClientHelloInfo whole;
  ClientHelloResult r = parseClientHello(in, &whole);
  if (r == ClientHelloResult::ClientHello) {
    FUZZ_CHECK(whole.server_name.find('\0') == std::string::npos);
    for (const auto& a : whole.alpn) FUZZ_CHECK(!a.empty() && a.size() <= 255);
  }
  if (size == 0) FUZZ_CHECK(r == ClientHelloResult::NeedMore);

  // Prefixes: all of them for small inputs, a spread of them (and the last) for large ones.
  size_t step = size <= 2048 ? 1 : size / 512;
  auto prefix = [&](size_t k) {
    ClientHelloInfo part;
    ClientHelloResult pr = parseClientHello(in.substr(0, k), &part);
    FUZZ_CHECK(pr == ClientHelloResult::NeedMore || pr == r);
    if (pr == ClientHelloResult::ClientHello) {
      FUZZ_CHECK(part.server_name == whole.server_name && part.alpn == whole.alpn);
    }
  };
  for (size_t k = 0; k < size; k += step) prefix(k);
  if (size > 0) prefix(size - 1);

  // Differential against OpenSSL, for what looks like a TLS handshake within the size remora
  // inspects (OpenSSL takes hellos up to 128 KiB; remora, as Envoy, refuses past 64 KiB).
  if (size >= 1 && data[0] == 0x16 && size <= remora::server::kMaxClientHelloSize) {
    Seen seen = opensslReads(in);
    if (seen.servername_cb) {
      // OpenSSL read a whole hello from these bytes: remora must not want more or call it
      // something else. (It may be stricter: Invalid.)
      FUZZ_CHECK(r == ClientHelloResult::ClientHello || r == ClientHelloResult::Invalid);
      if (r == ClientHelloResult::ClientHello) {
        FUZZ_CHECK(whole.server_name == seen.server_name);
        if (seen.alpn) FUZZ_CHECK(whole.alpn == *seen.alpn);
      }
    }
  }
  return 0;
}
