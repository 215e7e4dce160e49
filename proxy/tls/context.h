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
#include "proxy/stats/stats.h"

namespace remora::tls {

// Handshake outcomes of a listener's or a cluster's contexts, counted across workers with
// Envoy's names (listener.<address>.ssl.handshake, cluster.<name>.ssl.fail_verify_san, ...).
// One object per listener or cluster for as long as any version of it lives, so a certificate
// rotation (a new context) keeps counting where the old one stopped.
class TlsStats : public stats::Scope {
 public:
  using stats::Scope::Scope;
  // The stats with this prefix: the live ones, or new ones added to `store`.
  static std::shared_ptr<TlsStats> get(stats::Store& store, const std::string& prefix,
                                       const std::string& prom_family,
                                       std::vector<std::pair<std::string, std::string>> labels);
  void visit(const stats::StatVisitor& visitor) const override;

  std::atomic<uint64_t> handshake{0};
  std::atomic<uint64_t> session_reused{0};
  std::atomic<uint64_t> connection_error{0};
  std::atomic<uint64_t> no_certificate{0};  // a client certificate was required and missing
  std::atomic<uint64_t> fail_verify_error{0};
  std::atomic<uint64_t> fail_verify_san{0};
  // Connections refused because the context's SDS secrets never arrived (Envoy's
  // {down,up}stream_context_secrets_not_ready).
  std::atomic<uint64_t> secrets_not_ready{0};
  bool downstream = false;  // a listener's (named as Envoy's server socket factory's)
};

class TlsContext {
 public:
  // `stats` (optional) is shared with the other versions of the same listener or cluster.
  static absl::StatusOr<std::shared_ptr<TlsContext>> createServer(
      const config::DownstreamTlsConfig& config, std::shared_ptr<TlsStats> stats = nullptr);
  static absl::StatusOr<std::shared_ptr<TlsContext>> createClient(
      const config::UpstreamTlsConfig& config, std::shared_ptr<TlsStats> stats = nullptr);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool isServer() const { return server_; }
  // False for a context whose SDS secrets timed out: no SSL_CTX, every handshake fails.
  bool ready() const { return ctx_ != nullptr; }
  // A new SSL for one connection (client: with SNI and the last session to resume).
  SSL* newSsl() const;
  // What the handshake on `ssl` established (after it completed).
  net::TlsInfoSharedPtr infoOf(SSL* ssl) const;
  TlsStats& stats() const { return *stats_; }
  // Sessions in the server's resumption cache.
  long cachedSessions() const { return ctx_ != nullptr ? SSL_CTX_sess_number(ctx_) : 0; }
  // The certificate's notAfter, for /certs and rotation checks (0 when there is none).
  int64_t certificateExpiry() const { return cert_not_after_; }

  // OpenSSL callbacks reach the context through SSL_CTX ex data.
  static TlsContext* fromSsl(const SSL* ssl);
  bool matchesSans(X509* cert) const;
  void saveSession(SSL_SESSION* session) const;

 private:
  TlsContext(bool server, std::shared_ptr<TlsStats> stats);
  absl::Status init(const config::CommonTlsConfig& common);

  bool server_;
  SSL_CTX* ctx_ = nullptr;
  std::string sni_;
  std::string alpn_wire_;  // length-prefixed, for ALPN negotiation
  std::vector<std::pair<config::SanMatch::Type, http::StringMatcher>> san_matchers_;
  int64_t cert_not_after_ = 0;
  std::shared_ptr<TlsStats> stats_;
  // Client: the most recent session (Envoy's max_session_keys = 1), for resumption.
  mutable std::mutex session_mu_;
  mutable SSL_SESSION* session_ = nullptr;
};
using TlsContextSharedPtr = std::shared_ptr<const TlsContext>;

// OpenSSL's error queue as one line (and cleared), for logs and error statuses.
std::string opensslErrors();

}  // namespace remora::tls
