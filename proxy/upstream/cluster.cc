// Cluster destination selection: round robin over equal weights, weighted random otherwise.
#include "proxy/upstream/cluster.h"

#include <algorithm>

#include "absl/status/status.h"
#include "proxy/common/strings.h"

namespace remora::upstream {

Cluster::Cluster(config::ClusterConfig config, stats::Store& store, size_t workers)
    : config_(std::move(config)),
      stats_(store.shardedScope<ClusterStats>(workers, cat("cluster.", config_.name, "."),
                                              "cluster", {{"envoy_cluster_name", config_.name}})),
      cursors_(new Cursor[workers]) {
  bool equal = true;
  for (const auto& e : config_.endpoints) equal = equal && e.weight == config_.endpoints[0].weight;
  if (!equal) {
    uint64_t sum = 0;
    for (const auto& e : config_.endpoints) cumulative_weights_.push_back(sum += e.weight);
  }
  for (size_t w = 0; w < workers; ++w) {
    // Different starting points per worker spread the first connections.
    cursors_[w].next = w;
    cursors_[w].rng = 0x9e3779b97f4a7c15ULL * (w + 1) ^ reinterpret_cast<uintptr_t>(this);
  }
  // The gauge is per worker shard; shard 0 carries the cluster-wide value.
  stats_->shard(0).membership_total.set(static_cast<int64_t>(config_.endpoints.size()));
}

absl::StatusOr<net::Address> Cluster::pickDestination(const net::Address* original_dst,
                                                      size_t worker) const {
  switch (config_.type) {
    case config::ClusterConfig::Type::OriginalDst:
      if (original_dst == nullptr) {
        return absl::FailedPreconditionError(
            cat("cluster '", config_.name, "': connection has no original destination"));
      }
      if (config_.original_dst_ip_override) {
        return config_.original_dst_ip_override->withPort(original_dst->port());
      }
      return *original_dst;
    case config::ClusterConfig::Type::Static:
    case config::ClusterConfig::Type::Eds: {
      const auto& eps = config_.endpoints;
      if (eps.empty()) {
        return absl::UnavailableError(cat("cluster '", config_.name, "' has no healthy endpoints"));
      }
      Cursor& cur = cursors_[worker];
      if (cumulative_weights_.empty()) return eps[cur.next++ % eps.size()].address;
      // xorshift64*: cheap, per worker, no lock.
      cur.rng ^= cur.rng >> 12;
      cur.rng ^= cur.rng << 25;
      cur.rng ^= cur.rng >> 27;
      uint64_t r = (cur.rng * 0x2545F4914F6CDD1DULL) % cumulative_weights_.back();
      auto it = std::upper_bound(cumulative_weights_.begin(), cumulative_weights_.end(), r);
      return eps[static_cast<size_t>(it - cumulative_weights_.begin())].address;
    }
  }
  return absl::InternalError("unknown cluster type");
}

}  // namespace remora::upstream
