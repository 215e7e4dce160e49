// envoy.filters.network.tcp_proxy: relays bytes between the downstream connection and one
// upstream connection to the configured cluster, with backpressure both ways, half-close,
// connect and idle timeouts, and reset propagation.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "proxy/config/config.h"
#include "proxy/server/network_filter.h"
#include "proxy/stats/stats.h"
#include "proxy/upstream/cluster.h"

namespace remora::filters {

#define REMORA_TCP_PROXY_STATS(COUNTER, GAUGE)                                                     \
  COUNTER(downstream_cx_total, "Connections handled")                                              \
  COUNTER(downstream_cx_no_route, "Connections closed because there was nowhere to go")            \
  COUNTER(downstream_cx_rx_bytes_total, "Bytes read from downstream")                              \
  COUNTER(downstream_cx_tx_bytes_total, "Bytes written to downstream")                             \
  COUNTER(downstream_flow_control_paused_reading_total, "Downstream reads paused by backpressure") \
  COUNTER(downstream_flow_control_resumed_reading_total, "Downstream reads resumed")               \
  COUNTER(idle_timeout, "Sessions closed because nothing moved for idle_timeout")                  \
  COUNTER(downstream_cx_reset, "Sessions ended by a reset from either side")

REMORA_STATS_STRUCT(TcpProxyStats, REMORA_TCP_PROXY_STATS);

class TcpProxyFactory : public server::NetworkFilterFactory,
                        public std::enable_shared_from_this<TcpProxyFactory> {
 public:
  TcpProxyFactory(config::TcpProxyConfig config, uint32_t buffer_limit, stats::Store& store,
                  size_t workers);

  void onAccept(server::Worker& worker, net::Connection* conn,
                const server::ConnectionInfo& info) override;

  const config::TcpProxyConfig& config() const { return config_; }
  uint32_t bufferLimit() const { return buffer_limit_; }
  TcpProxyStats& stats(size_t worker) const { return stats_->shard(worker); }
  // The cluster name for a new connection: `cluster`, or one of `weighted_clusters` by weight.
  const std::string& pickCluster(size_t worker) const;

 private:
  struct alignas(64) Rng {
    uint64_t state;
  };
  config::TcpProxyConfig config_;
  uint32_t buffer_limit_;
  std::shared_ptr<stats::ShardedScope<TcpProxyStats>> stats_;
  uint64_t total_weight_ = 0;
  std::unique_ptr<Rng[]> rng_;
};

absl::StatusOr<server::NetworkFilterFactorySharedPtr> createTcpProxyFactory(
    const config::NetworkFilterConfig& config, server::FilterFactoryContext& context);

}  // namespace remora::filters
