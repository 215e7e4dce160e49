// Listeners: the shared, immutable Listener (config, filter chains, stats) and the per-worker
// ActiveListener that owns the worker's SO_REUSEPORT socket and accepts on it.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/config/config.h"
#include "proxy/server/network_filter.h"
#include "proxy/stats/stats.h"
#include "proxy/tls/context.h"

namespace remora::server {

class Worker;

#define REMORA_LISTENER_STATS(COUNTER, GAUGE)                                            \
  COUNTER(downstream_cx_total, "Connections accepted")                                   \
  COUNTER(downstream_cx_destroy, "Connections closed")                                   \
  GAUGE(downstream_cx_active, "Connections open")                                        \
  COUNTER(downstream_cx_accept_error, "accept(2) failures")                              \
  COUNTER(downstream_cx_proxy_loop,                                                      \
          "Connections refused because their destination is this proxy's own listener")  \
  COUNTER(downstream_cx_handed_off,                                                      \
          "Connections passed to the listener of their original destination")            \
  COUNTER(no_filter_chain_match, "Connections closed for want of a filter chain")        \
  COUNTER(tls_inspector_client_hello_invalid,                                            \
          "Connections closed because their TLS ClientHello was malformed or too large") \
  COUNTER(ssl_handshake_error, "TLS handshakes that failed (refused peers included)")    \
  COUNTER(ssl_handshake_timeout, "TLS handshakes not done within listener_filters_timeout")

REMORA_STATS_STRUCT(ListenerStats, REMORA_LISTENER_STATS);

class Listener {
 public:
  // Builds the filter chains' factories; errors name the chain and the filter.
  static absl::StatusOr<std::shared_ptr<Listener>> create(const config::ListenerConfig& config,
                                                          const NetworkFilterRegistry& registry,
                                                          stats::Store& store, size_t workers);

  const config::ListenerConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  ListenerStats& stats(size_t worker) const { return stats_->shard(worker); }

  struct Chain {
    NetworkFilterFactory* factory = nullptr;        // null: no chain matches
    const tls::TlsContextSharedPtr* tls = nullptr;  // set when the chain terminates TLS
    const std::string* name = nullptr;
  };
  // The chain this connection matches (the default chain if none).
  Chain selectChain(const ConnectionInfo& info) const;

  // Versions of a listener that differ only in their TLS certificates or trust bundles (a
  // rotation) share a lineage: the old version's connections go on, they are not drained.
  uint64_t lineage() const { return lineage_; }
  void inheritLineage(const Listener& previous) { lineage_ = previous.lineage_; }
  static bool sameButForTlsMaterial(const config::ListenerConfig& a,
                                    const config::ListenerConfig& b);

  // Whether a connection to `dst` would come straight back into one of this proxy's own
  // listeners: one of their ports (set by the server) on an address of this namespace.
  bool isProxyAddress(const net::Address& dst) const;
  void setOwnPorts(std::vector<uint16_t> ports) { own_ports_ = std::move(ports); }

 private:
  Listener(config::ListenerConfig config, size_t workers, stats::Store& store);

  config::ListenerConfig config_;
  std::vector<config::FilterChainMatch> matches_;
  std::vector<NetworkFilterFactorySharedPtr> chains_;
  std::vector<tls::TlsContextSharedPtr> chain_tls_;  // per chain; null: plaintext
  NetworkFilterFactorySharedPtr default_chain_;
  tls::TlsContextSharedPtr default_tls_;
  std::shared_ptr<stats::ShardedScope<ListenerStats>> stats_;
  std::vector<uint16_t> own_ports_;
  uint64_t lineage_;
};

using ListenerSharedPtr = std::shared_ptr<const Listener>;

class ActiveListener {
 public:
  ActiveListener(Worker& worker, ListenerSharedPtr listener);

  // Takes ownership of a bound, listening socket and accepts on it.
  absl::Status listen(int fd);
  // Stops accepting; the object frees itself once the handle is closed.
  void close();
  // A new version of the listener (same socket): new connections use it.
  void setListener(ListenerSharedPtr listener) { listener_ = std::move(listener); }
  const Listener& listener() const { return *listener_; }

 private:
  static void onConnection(uv_stream_t* server, int status);
  void acceptOne();

  Worker& worker_;
  ListenerSharedPtr listener_;
  uv_tcp_t tcp_;
};

}  // namespace remora::server
