// Listeners: the shared, immutable Listener (config, stats, filter factory) and the per-worker
// ActiveListener that owns the worker's SO_REUSEPORT socket and accepts on it.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "proxy/config/config.h"
#include "proxy/server/network_filter.h"
#include "proxy/stats/stats.h"

namespace remora::server {

class Worker;

#define REMORA_LISTENER_STATS(COUNTER, GAUGE)                                           \
  COUNTER(downstream_cx_total, "Connections accepted")                                  \
  COUNTER(downstream_cx_destroy, "Connections closed")                                  \
  GAUGE(downstream_cx_active, "Connections open")                                       \
  COUNTER(downstream_cx_accept_error, "accept(2) failures")                             \
  COUNTER(downstream_cx_proxy_loop,                                                     \
          "Connections refused because their destination is this proxy's own listener") \
  COUNTER(no_filter_chain_match, "Connections closed for want of a filter chain")

REMORA_STATS_STRUCT(ListenerStats, REMORA_LISTENER_STATS);

class Listener {
 public:
  Listener(config::ListenerConfig config, NetworkFilterFactorySharedPtr filter, stats::Store& store,
           size_t workers);

  const config::ListenerConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  NetworkFilterFactory* filter() const { return filter_.get(); }
  ListenerStats& stats(size_t worker) const { return stats_->shard(worker); }
  // Whether a connection to `dst` would come straight back into one of this proxy's own
  // listeners: one of their ports (set by the server) on an address of this namespace.
  bool isProxyAddress(const net::Address& dst) const;
  void setOwnPorts(std::vector<uint16_t> ports) { own_ports_ = std::move(ports); }

 private:
  config::ListenerConfig config_;
  NetworkFilterFactorySharedPtr filter_;
  std::shared_ptr<stats::ShardedScope<ListenerStats>> stats_;
  std::vector<uint16_t> own_ports_;
};

class ActiveListener {
 public:
  ActiveListener(Worker& worker, std::shared_ptr<const Listener> listener);

  // Takes ownership of a bound, non-blocking socket and listens on it.
  absl::Status listen(int fd);
  // Stops accepting; the object frees itself once the handle is closed.
  void close();
  const Listener& listener() const { return *listener_; }

 private:
  static void onConnection(uv_stream_t* server, int status);
  void acceptOne();

  Worker& worker_;
  std::shared_ptr<const Listener> listener_;
  uv_tcp_t tcp_;
  bool opened_ = false;
};

}  // namespace remora::server
