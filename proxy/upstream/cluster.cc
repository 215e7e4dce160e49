// Cluster destination selection.
#include "proxy/upstream/cluster.h"

#include "absl/status/status.h"
#include "proxy/common/strings.h"

namespace remora::upstream {

Cluster::Cluster(config::ClusterConfig config, stats::Store& store, size_t workers)
    : config_(std::move(config)),
      stats_(std::make_shared<stats::ShardedScope<ClusterStats>>(
          workers, cat("cluster.", config_.name, "."), "cluster",
          std::vector<std::pair<std::string, std::string>>{{"envoy_cluster_name", config_.name}})) {
  store.add(stats_);
}

absl::StatusOr<net::Address> Cluster::pickDestination(const net::Address* original_dst) const {
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
      if (config_.hosts.empty()) {
        return absl::UnavailableError(cat("cluster '", config_.name, "' has no hosts"));
      }
      return config_.hosts[rr_.fetch_add(1, std::memory_order_relaxed) % config_.hosts.size()];
  }
  return absl::InternalError("unknown cluster type");
}

}  // namespace remora::upstream
