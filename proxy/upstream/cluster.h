// A cluster as the data path uses it: immutable configuration and endpoints, its stats, and
// how a worker chooses the address of a new upstream connection.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/config/config.h"
#include "proxy/net/address.h"
#include "proxy/stats/stats.h"

namespace remora::upstream {

#define REMORA_CLUSTER_STATS(COUNTER, GAUGE)                                                   \
  COUNTER(upstream_cx_total, "Upstream connections started")                                   \
  GAUGE(upstream_cx_active, "Upstream connections open")                                       \
  COUNTER(upstream_cx_connect_fail, "Upstream connection failures (refused, reset, timeout)")  \
  COUNTER(upstream_cx_connect_timeout, "Upstream connection attempts that timed out")          \
  COUNTER(upstream_cx_connect_attempts_exceeded,                                               \
          "Connections given up after max_connect_attempts")                                   \
  COUNTER(upstream_cx_destroy_local, "Upstream connections closed by the proxy")               \
  COUNTER(upstream_cx_destroy_remote, "Upstream connections closed by the upstream")           \
  COUNTER(upstream_cx_rx_bytes_total, "Bytes received from upstream hosts")                    \
  COUNTER(upstream_cx_tx_bytes_total, "Bytes sent to upstream hosts")                          \
  COUNTER(upstream_cx_none_healthy, "Connections not attempted: no host to connect to")        \
  COUNTER(upstream_flow_control_paused_reading_total, "Upstream reads paused by backpressure") \
  COUNTER(upstream_flow_control_resumed_reading_total, "Upstream reads resumed")               \
  COUNTER(upstream_rq_total, "Requests sent upstream")                                         \
  COUNTER(upstream_rq_timeout, "Requests that hit the route timeout")                          \
  GAUGE(membership_total, "Endpoints in the cluster")

REMORA_STATS_STRUCT(ClusterStats, REMORA_CLUSTER_STATS);

class Cluster {
 public:
  Cluster(config::ClusterConfig config, stats::Store& store, size_t workers);

  const config::ClusterConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  ClusterStats& stats(size_t worker) const { return stats_->shard(worker); }

  // Where worker `worker`'s next upstream connection goes. `original_dst` is the downstream
  // connection's original destination (ORIGINAL_DST clusters). Fails, and the caller counts
  // upstream_cx_none_healthy, when there is nowhere to go.
  absl::StatusOr<net::Address> pickDestination(const net::Address* original_dst,
                                               size_t worker) const;

 private:
  // Per-worker selection state; only its worker writes it.
  struct alignas(64) Cursor {
    uint64_t next = 0;
    uint64_t rng = 0;
  };

  config::ClusterConfig config_;
  std::shared_ptr<stats::ShardedScope<ClusterStats>> stats_;
  std::unique_ptr<Cursor[]> cursors_;
  std::vector<uint64_t> cumulative_weights_;  // empty when all weights are equal
};

using ClusterSharedPtr = std::shared_ptr<const Cluster>;

}  // namespace remora::upstream
