// A cluster as the data path uses it: immutable configuration and endpoints, its stats, and
// how a worker chooses the address of a new upstream connection.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/config/config.h"
#include "proxy/net/address.h"
#include "proxy/stats/stats.h"
#include "proxy/tls/context.h"
#include "proxy/upstream/host.h"
#include "proxy/upstream/outlier_detector.h"

namespace remora::upstream {

#define REMORA_CLUSTER_STATS(COUNTER, GAUGE)                                                      \
  COUNTER(upstream_cx_total, "Upstream connections started")                                      \
  GAUGE(upstream_cx_active, "Upstream connections open")                                          \
  COUNTER(upstream_cx_connect_fail, "Upstream connection failures (refused, reset, timeout)")     \
  COUNTER(upstream_cx_connect_timeout, "Upstream connection attempts that timed out")             \
  COUNTER(upstream_cx_connect_attempts_exceeded,                                                  \
          "Connections given up after max_connect_attempts")                                      \
  COUNTER(upstream_cx_destroy_local, "Upstream connections closed by the proxy")                  \
  COUNTER(upstream_cx_destroy_remote, "Upstream connections closed by the upstream")              \
  COUNTER(upstream_cx_idle_timeout, "Upstream connections closed after idle_timeout unused")      \
  COUNTER(upstream_cx_max_requests, "Upstream connections closed at max_requests_per_connection") \
  COUNTER(upstream_cx_rx_bytes_total, "Bytes received from upstream hosts")                       \
  COUNTER(upstream_cx_tx_bytes_total, "Bytes sent to upstream hosts")                             \
  COUNTER(upstream_cx_none_healthy, "Connections not attempted: no host to connect to")           \
  COUNTER(upstream_flow_control_paused_reading_total, "Upstream reads paused by backpressure")    \
  COUNTER(upstream_flow_control_resumed_reading_total, "Upstream reads resumed")                  \
  COUNTER(upstream_rq_total, "Requests sent upstream")                                            \
  COUNTER(upstream_rq_timeout, "Requests that hit the route timeout")                             \
  COUNTER(upstream_rq_per_try_timeout, "Attempts that hit the per-try timeout")                   \
  COUNTER(upstream_cx_overflow, "Connections not opened: max_connections reached")                \
  COUNTER(upstream_rq_pending_overflow,                                                           \
          "Requests failed at once (503 UO): max_pending_requests or max_requests reached")       \
  COUNTER(upstream_rq_pending_total, "Requests that waited for a connection")                     \
  GAUGE(upstream_rq_pending_active, "Requests waiting for a connection")                          \
  GAUGE(upstream_rq_active, "Requests in flight upstream")                                        \
  COUNTER(upstream_rq_retry, "Retries")                                                           \
  COUNTER(upstream_rq_retry_success, "Retries that succeeded")                                    \
  COUNTER(upstream_rq_retry_overflow, "Retries not done: max_retries or the retry budget")        \
  COUNTER(upstream_rq_retry_limit_exceeded, "Requests that needed more retries than allowed")     \
  COUNTER(upstream_rq_retry_backoff_exponential, "Retries after an exponential back-off")         \
  COUNTER(upstream_rq_rx_reset, "Requests the upstream reset")                                    \
  COUNTER(upstream_rq_tx_reset, "Requests the proxy reset")                                       \
  COUNTER(upstream_rq_completed, "Upstream responses completed")                                  \
  COUNTER(upstream_rq_1xx, "Upstream responses 1xx")                                              \
  COUNTER(upstream_rq_2xx, "Upstream responses 2xx")                                              \
  COUNTER(upstream_rq_3xx, "Upstream responses 3xx")                                              \
  COUNTER(upstream_rq_4xx, "Upstream responses 4xx")                                              \
  COUNTER(upstream_rq_5xx, "Upstream responses 5xx")                                              \
  GAUGE(membership_total, "Endpoints in the cluster")                                             \
  GAUGE(membership_healthy, "Endpoints healthy (not failed or ejected)")                          \
  GAUGE(membership_degraded, "Endpoints degraded")

REMORA_STATS_STRUCT(ClusterStats, REMORA_CLUSTER_STATS);

// Circuit-breaker counts of one routing priority, over every worker (Envoy's resource
// manager): what is open now, compared with the cluster's thresholds.
struct ResourceCounts {
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> pending{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> retries{0};
};

// What outlives a cluster's versions (a new version comes with every change, an EDS update
// included): the circuit-breaker counts and the health generation.
struct ClusterState {
  ResourceCounts resources[2];  // [0] DEFAULT, [1] HIGH
  // Moves whenever membership or any host's health changes: workers rebuild their balancers.
  std::atomic<uint64_t> health_generation{0};
};

class Cluster {
 public:
  // `previous`: the version this one replaces (same name), whose hosts and state carry over
  // (a host with the same address keeps its object: health, ejections, counters).
  Cluster(config::ClusterConfig config, stats::Store& store, size_t workers,
          const Cluster* previous = nullptr);

  const config::ClusterConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  ClusterStats& stats(size_t worker) const { return stats_->shard(worker); }
  // The endpoints as hosts (empty for ORIGINAL_DST), in configuration order.
  const HostVector& hosts() const { return hosts_; }
  ClusterState& state() const { return *state_; }
  std::weak_ptr<ClusterState> stateRef() const { return state_; }
  // Outlier detection (null when the cluster has none): set before the version is published.
  OutlierDetector* outlierDetector() const { return detector_.get(); }
  void setOutlierDetector(std::shared_ptr<OutlierDetector> d) { detector_ = std::move(d); }
  // TLS to the hosts (null: plaintext); set before the version is published.
  const tls::TlsContextSharedPtr& tlsContext() const { return tls_; }
  void setTlsContext(tls::TlsContextSharedPtr ctx) { tls_ = std::move(ctx); }
  // Health changed (a health check, an ejection): balancers are rebuilt.
  void healthChanged() const { state_->health_generation.fetch_add(1, std::memory_order_acq_rel); }

  // --- Circuit breakers (per routing priority) ---
  const config::CircuitBreakerThresholds& thresholds(bool high) const {
    return high ? config_.circuit_breakers.high_priority
                : config_.circuit_breakers.default_priority;
  }
  ResourceCounts& resources(bool high) const { return state_->resources[high ? 1 : 0]; }
  bool canOpenConnection(bool high) const {
    return resources(high).connections.load(std::memory_order_relaxed) <
           thresholds(high).max_connections;
  }
  bool canQueueRequest(bool high) const {
    return resources(high).pending.load(std::memory_order_relaxed) <
           thresholds(high).max_pending_requests;
  }
  bool canSendRequest(bool high) const {
    return resources(high).requests.load(std::memory_order_relaxed) < thresholds(high).max_requests;
  }
  // max_retries, or with a retry budget: budget_percent of the requests open and pending,
  // and at least min_retry_concurrency.
  bool canRetry(bool high) const;

  // The counts one upstream connection to `host` holds (max_connections, the host's), and one
  // request waiting for a connection (max_pending_requests, the pending stats).
  void connectionOpened(bool high, Host& host) const {
    resources(high).connections.fetch_add(1, std::memory_order_relaxed);
    host.cx_total.fetch_add(1, std::memory_order_relaxed);
    host.cx_active.fetch_add(1, std::memory_order_relaxed);
  }
  void connectionClosed(bool high, Host& host) const {
    resources(high).connections.fetch_sub(1, std::memory_order_relaxed);
    host.cx_active.fetch_sub(1, std::memory_order_relaxed);
  }
  void pendingAdded(bool high, size_t worker) const {
    resources(high).pending.fetch_add(1, std::memory_order_relaxed);
    stats(worker).upstream_rq_pending_total.inc();
    stats(worker).upstream_rq_pending_active.add();
  }
  void pendingRemoved(bool high, size_t worker) const {
    resources(high).pending.fetch_sub(1, std::memory_order_relaxed);
    stats(worker).upstream_rq_pending_active.sub();
  }

 private:
  config::ClusterConfig config_;
  tls::TlsContextSharedPtr tls_;
  std::shared_ptr<stats::ShardedScope<ClusterStats>> stats_;
  std::shared_ptr<ClusterState> state_;
  HostVector hosts_;
  std::shared_ptr<OutlierDetector> detector_;
};

using ClusterSharedPtr = std::shared_ptr<const Cluster>;

// One upstream connection counted against its cluster's max_connections and its host, until
// release() (or destruction).
class ConnectionCount {
 public:
  ConnectionCount() = default;
  ~ConnectionCount() { release(); }
  ConnectionCount(const ConnectionCount&) = delete;
  ConnectionCount& operator=(const ConnectionCount&) = delete;
  void acquire(const ClusterSharedPtr& cluster, HostSharedPtr host, bool high) {
    release();
    cluster_ = cluster;
    host_ = std::move(host);
    high_ = high;
    cluster_->connectionOpened(high_, *host_);
  }
  void release() {
    if (!cluster_) return;
    cluster_->connectionClosed(high_, *host_);
    cluster_.reset();
    host_.reset();
  }
  const HostSharedPtr& host() const { return host_; }

 private:
  ClusterSharedPtr cluster_;
  HostSharedPtr host_;
  bool high_ = false;
};

}  // namespace remora::upstream
