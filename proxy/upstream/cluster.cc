// Cluster versions: hosts carried over by address, circuit-breaker checks.
#include "proxy/upstream/cluster.h"

#include <algorithm>

#include "absl/status/status.h"
#include "proxy/common/strings.h"

namespace remora::upstream {

Cluster::Cluster(config::ClusterConfig config, stats::Store& store, size_t workers,
                 const Cluster* previous)
    : config_(std::move(config)),
      stats_(store.shardedScope<ClusterStats>(workers, cat("cluster.", config_.name, "."),
                                              "cluster", {{"envoy_cluster_name", config_.name}})),
      state_(previous != nullptr ? previous->state_ : std::make_shared<ClusterState>()) {
  // Hosts: an address the previous version had keeps its Host (and its health and counts).
  size_t healthy = 0, degraded = 0;
  for (const auto& e : config_.endpoints) {
    HostSharedPtr h;
    if (previous != nullptr) {
      for (const auto& old : previous->hosts_) {
        if (old->address() == e.address) {
          h = old;
          break;
        }
      }
    }
    if (h) {
      h->setWeight(e.weight);
      h->setPriority(e.priority);
      h->setDegradedEds(e.degraded);
    } else {
      h = std::make_shared<Host>(e.address, e.weight, e.priority, e.degraded);
    }
    if (h->degraded()) {
      ++degraded;
    } else if (h->healthy()) {
      ++healthy;
    }
    hosts_.push_back(std::move(h));
  }
  // The gauges are per worker shard; shard 0 carries the cluster-wide value.
  stats_->shard(0).membership_total.set(static_cast<int64_t>(config_.endpoints.size()));
  stats_->shard(0).membership_healthy.set(static_cast<int64_t>(healthy));
  stats_->shard(0).membership_degraded.set(static_cast<int64_t>(degraded));
  healthChanged();  // membership may have changed: balancers rebuild
}

bool Cluster::canRetry(bool high) const {
  const config::CircuitBreakerThresholds& t = thresholds(high);
  ResourceCounts& r = resources(high);
  uint64_t open = r.retries.load(std::memory_order_relaxed);
  if (t.retry_budget_percent) {
    double base = static_cast<double>(r.requests.load(std::memory_order_relaxed) +
                                      r.pending.load(std::memory_order_relaxed));
    uint64_t budget = static_cast<uint64_t>(base * *t.retry_budget_percent / 100.0);
    return open < std::max<uint64_t>(budget, t.min_retry_concurrency);
  }
  return open < t.max_retries;
}

}  // namespace remora::upstream
