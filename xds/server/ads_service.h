// The aggregated discovery service of remora-control: state of the world
// (StreamAggregatedResources) and incremental (DeltaAggregatedResources) ADS over gRPC, for
// many proxies at once, from a SnapshotCache. Per stream and type it tracks what was sent
// (version, nonce) and what the client has, and sends a type only when it changed for that
// client; stale nonces are ignored; NACKs are logged and counted, not retried.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include <grpcpp/grpcpp.h>

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

class CqThread;

// Streams run on the service's own completion queue thread (see xds/common/grpc_cq.h).
class AdsService {
 public:
  using Async = envoy::service::discovery::v3::AggregatedDiscoveryService::AsyncService;

  explicit AdsService(SnapshotCache& cache);
  ~AdsService();

  // Before the server is built: the service and its completion queue.
  void registerWith(grpc::ServerBuilder& builder);
  // After the server has started: begin taking calls.
  void start();
  // After the server's Shutdown(): drain the queue and stop its thread.
  void shutdown();

  const AdsServiceStats& stats() const { return stats_; }

 private:
  SnapshotCache& cache_;
  AdsServiceStats stats_;
  Async async_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::unique_ptr<CqThread> thread_;
};

}  // namespace remora::xds
