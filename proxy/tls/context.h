// A TLS context: one SSL_CTX built from a listener's DownstreamTlsContext or a cluster's
// UpstreamTlsContext, shared (immutable) by every worker. A new certificate makes a new
// context; connections keep the one they started with.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/config/tls_config.h"
#include "proxy/http/route_table.h"
#include "proxy/net/tls_info.h"

namespace remora::tls {

// Handshake outcomes, counted across workers (Envoy's ssl.* names).
struct TlsStats {
  std::atomic<uint64_t> handshake{0};
  std::atomic<uint64_t> session_reused{0};
  std::atomic<uint64_t> connection_error{0};
  std::atomic<uint64_t> no_certificate{0};  // a client certificate was required and missing
  std::atomic<uint64_t> fail_verify_error{0};
  std::atomic<uint64_t> fail_verify_san{0};
};

class TlsContext {
 public:
  static absl::StatusOr<std::shared_ptr<TlsContext>> createServer(
      const config::DownstreamTlsConfig& config);
  static absl::StatusOr<std::shared_ptr<TlsContext>> createClient(
      const config::UpstreamTlsConfig& config);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool isServer() const { return server_; }
  // A new SSL for one connection (client: with SNI and the last session to resume).
  SSL* newSsl() const;
  // What the handshake on `ssl` established (after it completed).
  net::TlsInfoSharedPtr infoOf(SSL* ssl) const;
  TlsStats& stats() const { return stats_; }
  // The certificate's notAfter, for /certs and rotation checks (0 when there is none).
  int64_t certificateExpiry() const { return cert_not_after_; }

  // OpenSSL callbacks reach the context through SSL_CTX ex data.
  static TlsContext* fromSsl(const SSL* ssl);
  bool matchesSans(X509* cert) const;
  void saveSession(SSL_SESSION* session) const;

 private:
  explicit TlsContext(bool server) : server_(server) {}
  absl::Status init(const config::CommonTlsConfig& common);

  bool server_;
  SSL_CTX* ctx_ = nullptr;
  std::string sni_;
  std::string alpn_wire_;  // length-prefixed, for ALPN negotiation
  std::vector<std::pair<config::SanMatch::Type, http::StringMatcher>> san_matchers_;
  int64_t cert_not_after_ = 0;
  mutable TlsStats stats_;
  // Client: the most recent session (Envoy's max_session_keys = 1), for resumption.
  mutable std::mutex session_mu_;
  mutable SSL_SESSION* session_ = nullptr;
};
using TlsContextSharedPtr = std::shared_ptr<const TlsContext>;

// OpenSSL's error queue as one line (and cleared), for logs and error statuses.
std::string opensslErrors();

}  // namespace remora::tls
