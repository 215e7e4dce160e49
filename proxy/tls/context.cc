// SSL_CTX construction: versions, suites, curves, certificates, trust, SAN matching, ALPN and
// session resumption.
#include "proxy/tls/context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <cstring>
#include <ctime>
#include <map>
#include <mutex>

#include "absl/strings/str_join.h"

#include "proxy/common/strings.h"

namespace remora::tls {
namespace {

// TLS 1.2 suites when none are configured: forward-secret AEADs only (no CBC, no RSA key
// exchange), so scanners find nothing weak. TLS 1.3 suites are OpenSSL's (all AEAD).
constexpr const char* kDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kDefaultCurves = "X25519:P-256";
// Sessions a server context keeps for resumption (OpenSSL's default is 20,480): a peer sidecar
// resumes with the one session it keeps per upstream, so the cache only needs room for the
// peers' latest sessions; the oldest are dropped first.
constexpr long kSessionCacheSize = 1024;

int contextIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int protoVersion(config::TlsVersion v, bool max) {
  switch (v) {
    case config::TlsVersion::Auto:
      return max ? TLS1_3_VERSION : TLS1_2_VERSION;
    case config::TlsVersion::V1_0:
      return TLS1_VERSION;
    case config::TlsVersion::V1_1:
      return TLS1_1_VERSION;
    case config::TlsVersion::V1_2:
      return TLS1_2_VERSION;
    case config::TlsVersion::V1_3:
      return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

BioPtr memBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

absl::Status loadCertificate(SSL_CTX* ctx, const config::TlsCertificate& cert, int64_t* not_after) {
  BioPtr bio = memBio(cert.cert_chain_pem);
  X509* leaf = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (leaf == nullptr) {
    return absl::InvalidArgumentError(
        cat("certificate_chain: no PEM certificate (", opensslErrors(), ")"));
  }
  int ok = SSL_CTX_use_certificate(ctx, leaf);
  const ASN1_TIME* na = X509_get0_notAfter(leaf);
  struct tm tm {};
  if (na != nullptr && ASN1_TIME_to_tm(na, &tm) == 1) *not_after = timegm(&tm);
  X509_free(leaf);
  if (ok != 1) {
    return absl::InvalidArgumentError(cat("certificate_chain: ", opensslErrors()));
  }
  SSL_CTX_clear_chain_certs(ctx);
  while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      return absl::InvalidArgumentError(cat("certificate_chain: ", opensslErrors()));
    }
  }
  ERR_clear_error();  // the end of the PEM stream is reported as an error
  BioPtr kbio = memBio(cert.private_key_pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        cat("private_key: no PEM private key (", opensslErrors(), ")"));
  }
  ok = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (ok != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError(
        cat("private_key does not match the certificate (", opensslErrors(), ")"));
  }
  return absl::OkStatus();
}

absl::Status loadTrust(SSL_CTX* ctx, const std::string& pem) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  BioPtr bio = memBio(pem);
  int n = 0;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, ca);
    X509_free(ca);
    ++n;
  }
  ERR_clear_error();
  if (n == 0) return absl::InvalidArgumentError("trusted_ca: no PEM certificate");
  return absl::OkStatus();
}

std::string nameString(X509_NAME* name) {
  if (name == nullptr) return {};
  BIO* b = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(b);
  return out;
}

void collectSans(X509* cert, std::vector<std::string>* uris, std::vector<std::string>* dns) {
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_URI && uris != nullptr) {
      const ASN1_IA5STRING* s = n->d.uniformResourceIdentifier;
      uris->emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (n->type == GEN_DNS && dns != nullptr) {
      const ASN1_IA5STRING* s = n->d.dNSName;
      dns->emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                        static_cast<size_t>(ASN1_STRING_length(s)));
    }
  }
  GENERAL_NAMES_free(names);
}

// The peer's leaf must carry a SAN one of the matchers accepts; checked while verifying, so
// a mismatch fails the handshake with an alert instead of a connection closed afterwards.
int verifyCallback(int preverify_ok, X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  TlsContext* ctx = TlsContext::fromSsl(ssl);
  if (!preverify_ok) {
    if (ctx != nullptr) ctx->stats().fail_verify_error.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  if (ctx == nullptr || X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  if (!ctx->matchesSans(X509_STORE_CTX_get_current_cert(store))) {
    ctx->stats().fail_verify_san.fetch_add(1, std::memory_order_relaxed);
    X509_STORE_CTX_set_error(store, X509_V_ERR_SUBJECT_ISSUER_MISMATCH);
    return 0;
  }
  return 1;
}

int selectAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void* arg) {
  const auto* wire = static_cast<const std::string*>(arg);
  unsigned char* selected = nullptr;
  // The server's order decides (as Envoy's), among what the client offers.
  if (SSL_select_next_proto(&selected, outlen, reinterpret_cast<const unsigned char*>(wire->data()),
                            static_cast<unsigned int>(wire->size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

int newSessionCallback(SSL* ssl, SSL_SESSION* session) {
  TlsContext* ctx = TlsContext::fromSsl(ssl);
  if (ctx == nullptr) return 0;
  ctx->saveSession(session);
  return 1;  // we keep the reference
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
  return out.empty() ? "no OpenSSL error" : out;
}

std::shared_ptr<TlsStats> TlsStats::get(stats::Store& store, const std::string& prefix,
                                        const std::string& prom_family,
                                        std::vector<std::pair<std::string, std::string>> labels) {
  static std::mutex mu;
  static std::map<std::pair<const stats::Store*, std::string>, std::weak_ptr<TlsStats>> live;
  std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_pair(&store, prefix);
  if (auto it = live.find(key); it != live.end()) {
    if (auto s = it->second.lock()) return s;
  }
  std::erase_if(live, [](const auto& kv) { return kv.second.expired(); });
  auto s = std::make_shared<TlsStats>(prefix, prom_family, std::move(labels));
  s->downstream = prom_family == "listener";
  store.add(s);
  live[key] = s;
  return s;
}

void TlsStats::visit(const stats::StatVisitor& visit) const {
  auto counter = [&](std::string_view name, const std::atomic<uint64_t>& v, std::string_view help) {
    visit({name, stats::Kind::Counter, help,
           static_cast<int64_t>(v.load(std::memory_order_relaxed))});
  };
  counter("ssl.handshake", handshake, "TLS handshakes completed");
  counter("ssl.session_reused", session_reused, "TLS handshakes that resumed a session");
  counter("ssl.connection_error", connection_error, "TLS handshakes or records that failed");
  counter("ssl.no_certificate", no_certificate, "Peers refused for presenting no certificate");
  counter("ssl.fail_verify_error", fail_verify_error,
          "Peers refused because their certificate chain did not verify");
  counter("ssl.fail_verify_san", fail_verify_san,
          "Peers refused because no SAN matched the expected identity");
  if (downstream) {
    counter("server_ssl_socket_factory.downstream_context_secrets_not_ready", secrets_not_ready,
            "Connections refused because the listener's TLS secrets have not arrived");
  } else {
    counter("client_ssl_socket_factory.upstream_context_secrets_not_ready", secrets_not_ready,
            "Connections refused because the cluster's TLS secrets have not arrived");
  }
}

TlsContext::TlsContext(bool server, std::shared_ptr<TlsStats> stats)
    : server_(server),
      stats_(stats ? std::move(stats)
                   : std::make_shared<TlsStats>(
                         "ssl.", "ssl", std::vector<std::pair<std::string, std::string>>{})) {}

TlsContext::~TlsContext() {
  if (session_ != nullptr) SSL_SESSION_free(session_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

TlsContext* TlsContext::fromSsl(const SSL* ssl) {
  if (ssl == nullptr) return nullptr;
  return static_cast<TlsContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), contextIndex()));
}

absl::Status TlsContext::init(const config::CommonTlsConfig& common) {
  ctx_ = SSL_CTX_new(server_ ? TLS_server_method() : TLS_client_method());
  if (ctx_ == nullptr) return absl::InternalError(cat("SSL_CTX_new: ", opensslErrors()));
  SSL_CTX_set_ex_data(ctx_, contextIndex(), this);
  int min = protoVersion(common.min_version, false);
  int max = protoVersion(common.max_version, true);
  if (min < TLS1_2_VERSION) {
    return absl::InvalidArgumentError("tls_minimum_protocol_version below TLSv1_2 is refused");
  }
  if (max < min) {
    return absl::InvalidArgumentError(
        "tls_maximum_protocol_version is below tls_minimum_protocol_version");
  }
  SSL_CTX_set_min_proto_version(ctx_, min);
  SSL_CTX_set_max_proto_version(ctx_, max);
  SSL_CTX_set_options(ctx_, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                (server_ ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  // NO_AUTO_CHAIN: send exactly certificate_chain, as Envoy does (OpenSSL would otherwise build
  // and verify our own chain from the trust store on every handshake, and send the root).
  SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                             SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_NO_AUTO_CHAIN);
  std::string ciphers =
      common.cipher_suites.empty() ? kDefaultCiphers : absl::StrJoin(common.cipher_suites, ":");
  if (SSL_CTX_set_cipher_list(ctx_, ciphers.c_str()) != 1) {
    return absl::InvalidArgumentError(cat("cipher_suites '", ciphers, "': ", opensslErrors()));
  }
  std::string curves =
      common.ecdh_curves.empty() ? kDefaultCurves : absl::StrJoin(common.ecdh_curves, ":");
  if (SSL_CTX_set1_groups_list(ctx_, curves.c_str()) != 1) {
    return absl::InvalidArgumentError(cat("ecdh_curves '", curves, "': ", opensslErrors()));
  }
  if (common.certificate) {
    if (auto s = loadCertificate(ctx_, *common.certificate, &cert_not_after_); !s.ok()) return s;
  }
  if (common.validation) {
    const auto& v = *common.validation;
    if (!v.trusted_ca_pem.empty()) {
      if (auto s = loadTrust(ctx_, v.trusted_ca_pem); !s.ok()) return s;
    } else if (!v.match_sans.empty()) {
      return absl::InvalidArgumentError(
          "match_typed_subject_alt_names needs a trusted_ca to verify the peer against");
    }
    for (const auto& m : v.match_sans) {
      auto sm = http::StringMatcher::create(m.matcher);
      if (!sm.ok()) return sm.status();
      san_matchers_.emplace_back(m.type, std::move(*sm));
    }
  }
  for (const auto& p : common.alpn) {
    if (p.empty() || p.size() > 255) {
      return absl::InvalidArgumentError(cat("alpn_protocols: '", p, "' is not a valid protocol"));
    }
    alpn_wire_.push_back(static_cast<char>(p.size()));
    alpn_wire_ += p;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::createServer(
    const config::DownstreamTlsConfig& config, std::shared_ptr<TlsStats> stats) {
  std::shared_ptr<TlsContext> c(new TlsContext(true, std::move(stats)));
  if (config.common.secrets_timed_out) return c;  // not ready: refuses every handshake
  if (auto s = c->init(config.common); !s.ok()) return s;
  if (!config.common.certificate) {
    return absl::InvalidArgumentError("a server TLS context needs a tls_certificate");
  }
  bool trust = config.common.validation && !config.common.validation->trusted_ca_pem.empty();
  if (config.require_client_certificate && !trust) {
    return absl::InvalidArgumentError(
        "require_client_certificate needs a validation context with a trusted_ca");
  }
  if (trust) {
    int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
    if (config.require_client_certificate) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(c->ctx_, mode, verifyCallback);
    // Tell only our roots' names to clients choosing a certificate.
    STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
    BioPtr bio = memBio(config.common.validation->trusted_ca_pem);
    while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca)));
      X509_free(ca);
    }
    ERR_clear_error();
    SSL_CTX_set_client_CA_list(c->ctx_, names);
  }
  if (!c->alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(c->ctx_, selectAlpn, &c->alpn_wire_);
  // Resumption, stateful by default: a bounded session cache per context (so per certificate),
  // and TLS 1.3 tickets that only name a cached session. OpenSSL 3.0 makes a stateless ticket
  // by encoding, decoding and re-encoding the session, and decoding re-parses the peer's
  // certificate through its provider decoders: about a tenth of a full handshake's CPU
  // (tools/bench/README.md). A stateful ticket costs a cache insertion (one lock, per
  // handshake, never per byte). Stateless tickets only when the cache is disabled.
  if (!config.disable_stateful_session_resumption) {
    SSL_CTX_set_session_cache_mode(c->ctx_, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(c->ctx_, kSessionCacheSize);
    SSL_CTX_set_options(c->ctx_, SSL_OP_NO_TICKET);  // TLS 1.3: stateful tickets
  } else {
    SSL_CTX_set_session_cache_mode(c->ctx_, SSL_SESS_CACHE_OFF);
    if (config.disable_stateless_session_resumption) {
      SSL_CTX_set_options(c->ctx_, SSL_OP_NO_TICKET);
    }
  }
  // One TLS 1.3 ticket, not OpenSSL's two: clients keep one session per upstream (Envoy's and
  // ours).
  SSL_CTX_set_num_tickets(c->ctx_, 1);
  // A session is only resumed into the context that made it (OpenSSL requires an id context
  // whenever client certificates are verified).
  static const unsigned char kSidCtx[] = "remora";
  SSL_CTX_set_session_id_context(c->ctx_, kSidCtx, sizeof(kSidCtx) - 1);
  return c;
}

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::createClient(
    const config::UpstreamTlsConfig& config, std::shared_ptr<TlsStats> stats) {
  std::shared_ptr<TlsContext> c(new TlsContext(false, std::move(stats)));
  if (config.common.secrets_timed_out) return c;  // not ready: refuses every handshake
  if (auto s = c->init(config.common); !s.ok()) return s;
  c->sni_ = config.sni;
  bool trust = config.common.validation && !config.common.validation->trusted_ca_pem.empty();
  // Without a validation context the server is not verified (Envoy's behaviour too).
  SSL_CTX_set_verify(c->ctx_, trust ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                     trust ? verifyCallback : nullptr);
  if (!c->alpn_wire_.empty()) {
    SSL_CTX_set_alpn_protos(c->ctx_, reinterpret_cast<const unsigned char*>(c->alpn_wire_.data()),
                            static_cast<unsigned int>(c->alpn_wire_.size()));
  }
  SSL_CTX_set_session_cache_mode(c->ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(c->ctx_, newSessionCallback);
  return c;
}

SSL* TlsContext::newSsl() const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return nullptr;
  if (!server_) {
    if (!sni_.empty()) SSL_set_tlsext_host_name(ssl, sni_.c_str());
    std::lock_guard<std::mutex> lock(session_mu_);
    if (session_ != nullptr) SSL_set_session(ssl, session_);
  }
  return ssl;
}

void TlsContext::saveSession(SSL_SESSION* session) const {
  std::lock_guard<std::mutex> lock(session_mu_);
  if (session_ != nullptr) SSL_SESSION_free(session_);
  session_ = session;
}

bool TlsContext::matchesSans(X509* cert) const {
  if (san_matchers_.empty()) return true;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return false;
  bool ok = false;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && !ok; ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    config::SanMatch::Type type;
    std::string value;
    switch (n->type) {
      case GEN_URI:
        type = config::SanMatch::Type::Uri;
        break;
      case GEN_DNS:
        type = config::SanMatch::Type::Dns;
        break;
      case GEN_EMAIL:
        type = config::SanMatch::Type::Email;
        break;
      case GEN_IPADD:
        type = config::SanMatch::Type::IpAddress;
        break;
      default:
        continue;
    }
    if (type == config::SanMatch::Type::IpAddress) {
      const ASN1_OCTET_STRING* ip = n->d.iPAddress;
      char buf[64] = {};
      int len = ASN1_STRING_length(ip);
      const unsigned char* p = ASN1_STRING_get0_data(ip);
      if (len == 4) {
        snprintf(buf, sizeof(buf), "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
      } else if (len == 16) {
        inet_ntop(AF_INET6, p, buf, sizeof(buf));
      }
      value = buf;
    } else {
      const ASN1_STRING* s = n->d.ia5;
      value.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                   static_cast<size_t>(ASN1_STRING_length(s)));
    }
    for (const auto& [t, m] : san_matchers_) {
      if (t == type && m.match(value)) {
        ok = true;
        break;
      }
    }
  }
  GENERAL_NAMES_free(names);
  return ok;
}

net::TlsInfoSharedPtr TlsContext::infoOf(SSL* ssl) const {
  auto info = std::make_shared<net::TlsInfo>();
  if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) info->sni = sni;
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  if (alpn != nullptr) info->alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  info->version = SSL_get_version(ssl);
  if (const char* c = SSL_get_cipher_name(ssl)) info->cipher = c;
  info->session_reused = SSL_session_reused(ssl) == 1;
  if (X509* peer = SSL_get0_peer_certificate(ssl)) {
    info->peer_certificate_validated =
        SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE && SSL_get_verify_result(ssl) == X509_V_OK;
    collectSans(peer, &info->peer_uri_sans, &info->peer_dns_sans);
    info->peer_subject = nameString(X509_get_subject_name(peer));
  }
  if (X509* local = SSL_get_certificate(ssl)) {
    collectSans(local, &info->local_uri_sans, nullptr);
    info->local_subject = nameString(X509_get_subject_name(local));
  }
  return info;
}

}  // namespace remora::tls
