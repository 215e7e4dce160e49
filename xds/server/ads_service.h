// The aggregated discovery service of remora-control: state of the world
// (StreamAggregatedResources) and incremental (DeltaAggregatedResources) ADS over gRPC, for
// many proxies at once, from a SnapshotCache. Per stream and type it tracks what was sent
// (version, nonce) and what the client has, and sends a type only when it changed for that
// client; stale nonces are ignored; NACKs are logged and counted, not retried.
#pragma once

#include <atomic>
#include <cstdint>

#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "xds/server/cache.h"

namespace remora::xds {

struct AdsServiceStats {
  std::atomic<int64_t> streams_active{0};
  std::atomic<uint64_t> streams_total{0};
  std::atomic<uint64_t> responses_sent{0};
  std::atomic<uint64_t> response_bytes{0};
  std::atomic<uint64_t> acks{0};
  std::atomic<uint64_t> nacks{0};
};

class AdsService final
    : public envoy::service::discovery::v3::AggregatedDiscoveryService::CallbackService {
 public:
  explicit AdsService(SnapshotCache& cache) : cache_(cache) {}

  grpc::ServerBidiReactor<envoy::service::discovery::v3::DiscoveryRequest,
                          envoy::service::discovery::v3::DiscoveryResponse>*
  StreamAggregatedResources(grpc::CallbackServerContext* context) override;

  grpc::ServerBidiReactor<envoy::service::discovery::v3::DeltaDiscoveryRequest,
                          envoy::service::discovery::v3::DeltaDiscoveryResponse>*
  DeltaAggregatedResources(grpc::CallbackServerContext* context) override;

  const AdsServiceStats& stats() const { return stats_; }

 private:
  SnapshotCache& cache_;
  AdsServiceStats stats_;
};

}  // namespace remora::xds
