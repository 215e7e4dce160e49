// A scripted ADS server for tests that need a control plane to misbehave on purpose
// (malformed responses, unknown types, vanishing mid-stream). It records every request and
// sends whatever responses the test queues. For well-behaved serving, tests use the real
// remora-control.
#pragma once

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace remora::testing {

class FakeAdsServer final
    : public envoy::service::discovery::v3::AggregatedDiscoveryService::Service {
 public:
  using DiscoveryRequest = envoy::service::discovery::v3::DiscoveryRequest;
  using DiscoveryResponse = envoy::service::discovery::v3::DiscoveryResponse;
  using DeltaRequest = envoy::service::discovery::v3::DeltaDiscoveryRequest;
  using DeltaResponse = envoy::service::discovery::v3::DeltaDiscoveryResponse;

  FakeAdsServer();
  ~FakeAdsServer() override;

  int port() const { return port_; }
  // Queues a response for the current (or next) stream.
  void send(DiscoveryResponse r);
  void sendDelta(DeltaResponse r);
  // Ends the current stream with an error (the control plane "vanishes").
  void dropStream();

  // Waits until `pred` holds for the requests so far; true if it did within the timeout.
  bool waitRequest(const std::function<bool(const DiscoveryRequest&)>& pred,
                   int timeout_ms = 10000);
  bool waitDeltaRequest(const std::function<bool(const DeltaRequest&)>& pred,
                        int timeout_ms = 10000);
  std::vector<DiscoveryRequest> requests();
  std::vector<DeltaRequest> deltaRequests();
  int streams() const { return streams_; }

  grpc::Status StreamAggregatedResources(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<DiscoveryResponse, DiscoveryRequest>* stream) override;
  grpc::Status DeltaAggregatedResources(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<DeltaResponse, DeltaRequest>* stream) override;

 private:
  template <typename Req, typename Resp>
  grpc::Status serve(grpc::ServerContext* context, grpc::ServerReaderWriter<Resp, Req>* stream,
                     std::vector<Req>* log, std::deque<Resp>* queue);

  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<DiscoveryRequest> requests_;
  std::vector<DeltaRequest> delta_requests_;
  std::deque<DiscoveryResponse> queue_;
  std::deque<DeltaResponse> delta_queue_;
  uint64_t drop_generation_ = 0;
  std::atomic<int> streams_{0};
  bool shutting_down_ = false;
};

}  // namespace remora::testing
