// Active health checking (Envoy's Cluster.health_checks): every host of the cluster is probed
// on the main thread, over HTTP/1.1 or plain TCP, on its own timer. Thresholds of consecutive
// results move a host between healthy and kFailedActiveHealthCheck, and every flag change
// moves the cluster's health generation so that every worker's balancer sees it.
//
// Semantics (Envoy's): a host new to the checker starts kFailedActiveHealthCheck |
// kPendingActiveHealthCheck; its first result clears pending, and a first success makes it
// healthy at once. An HTTP answer with an unexpected status makes it unhealthy at once; other
// failures (a TCP reply that does not match, a refused or reset connection, a timeout) need
// `unhealthy_threshold` in a row. `healthy_threshold` consecutive successes make it
// healthy again. With several health checks, a host
// is healthy only while every one of them passes. Intervals: `interval` while healthy,
// `unhealthy_interval` while not, the edge intervals right after a transition, plus jitter.
// `no_traffic_interval` is not used: remora does not track whether a cluster has had traffic,
// so `interval` applies from the start.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/event/event_loop.h"
#include "proxy/stats/stats.h"
#include "proxy/tls/context.h"
#include "proxy/upstream/host.h"

namespace remora::upstream {

struct ClusterState;

#define REMORA_HEALTH_CHECK_STATS(COUNTER, GAUGE)                                        \
  COUNTER(attempt, "Health checks started")                                              \
  COUNTER(success, "Health checks passed")                                               \
  COUNTER(failure, "Health checks failed, for any reason")                               \
  COUNTER(network_failure, "Health checks failed: connection refused or reset, timeout") \
  COUNTER(passive_failure, "Failures from passive checks (always 0 in remora)")          \
  COUNTER(verify_cluster, "Checks of x-envoy-upstream-healthchecked-cluster (always 0)") \
  GAUGE(healthy, "Hosts passing every health check")

REMORA_STATS_STRUCT(HealthCheckStats, REMORA_HEALTH_CHECK_STATS);

class HealthChecker {
 public:
  // Main thread. `state` is the cluster's (its health generation moves on every change).
  HealthChecker(event::EventLoop& main, stats::Store& store, const std::string& cluster,
                std::weak_ptr<ClusterState> state);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Main thread: the cluster's health checks and hosts now. Hosts that left are forgotten
  // (their probes stopped); new ones start failed and pending. Changed checks restart every
  // host's probes, keeping each host's current health.
  void update(const std::vector<config::HealthCheckConfig>& checks, const HostVector& hosts);
  // Main thread: the cluster state whose health generation moves.
  void setState(std::weak_ptr<ClusterState> state) { state_ = std::move(state); }
  // The cluster's transport socket: checks speak TLS when the cluster does (Envoy's default).
  void setTlsContext(tls::TlsContextSharedPtr ctx) { tls_ = std::move(ctx); }
  // Main thread: the cluster lost its health checks, went away, or the server stops: every
  // probe stops and the hosts lose their health-check flags.
  void stop();

  // Runs on each passing check (outlier detection unejects the host).
  void setOnSuccess(std::function<void(const Host*)> cb) { on_success_ = std::move(cb); }

  const std::string& cluster() const { return cluster_; }

 private:
  class Session;
  struct HostState {
    HostSharedPtr host;
    std::vector<std::unique_ptr<Session>> sessions;  // one per health check
  };

  // A session finished a check.
  void onResult(Session& session, bool success, bool immediate);
  // Recomputes the host's flags from its sessions; moves the generation when they changed.
  void refresh(HostState& h);
  void startSessions(HostState& h);
  uint64_t jitter(uint64_t bound) { return bound == 0 ? 0 : rng_() % bound; }

  event::EventLoop& main_;
  tls::TlsContextSharedPtr tls_;
  std::string cluster_;
  std::weak_ptr<ClusterState> state_;
  std::shared_ptr<stats::ShardedScope<HealthCheckStats>> stats_;
  HealthCheckStats& s_;
  std::vector<config::HealthCheckConfig> checks_;
  std::map<const Host*, HostState> hosts_;
  std::function<void(const Host*)> on_success_;
  std::mt19937_64 rng_{std::random_device{}()};
  bool stopped_ = false;
};

}  // namespace remora::upstream
