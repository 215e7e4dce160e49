// Scripted ADS server.
#include "test/common/fake_ads_server.h"

#include <chrono>
#include <thread>

namespace remora::testing {

FakeAdsServer::FakeAdsServer() {
  grpc::ServerBuilder b;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  b.RegisterService(this);
  server_ = b.BuildAndStart();
}

FakeAdsServer::~FakeAdsServer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
  }
  cv_.notify_all();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
}

void FakeAdsServer::send(DiscoveryResponse r) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(std::move(r));
  cv_.notify_all();
}

void FakeAdsServer::sendDelta(DeltaResponse r) {
  std::lock_guard<std::mutex> lock(mu_);
  delta_queue_.push_back(std::move(r));
  cv_.notify_all();
}

void FakeAdsServer::dropStream() {
  std::lock_guard<std::mutex> lock(mu_);
  ++drop_generation_;
  cv_.notify_all();
}

template <typename Req, typename Resp>
grpc::Status FakeAdsServer::serve(grpc::ServerContext* context,
                                  grpc::ServerReaderWriter<Resp, Req>* stream,
                                  std::vector<Req>* log, std::deque<Resp>* queue) {
  ++streams_;
  uint64_t gen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gen = drop_generation_;
  }
  std::atomic<bool> reading_done{false};
  std::thread reader([&] {
    Req req;
    while (stream->Read(&req)) {
      std::lock_guard<std::mutex> lock(mu_);
      log->push_back(req);
      cv_.notify_all();
    }
    reading_done = true;
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  });
  grpc::Status result = grpc::Status::OK;
  for (;;) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(50), [&] {
      return !queue->empty() || drop_generation_ != gen || shutting_down_ || reading_done.load();
    });
    if (drop_generation_ != gen || shutting_down_) {
      result = grpc::Status(grpc::StatusCode::UNAVAILABLE, "control plane went away");
      break;
    }
    if (reading_done.load() || context->IsCancelled()) break;
    if (queue->empty()) continue;
    Resp r = std::move(queue->front());
    queue->pop_front();
    lock.unlock();
    stream->Write(r);
  }
  context->TryCancel();
  reader.join();
  return result;
}

grpc::Status FakeAdsServer::StreamAggregatedResources(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<DiscoveryResponse, DiscoveryRequest>* stream) {
  return serve(context, stream, &requests_, &queue_);
}

grpc::Status FakeAdsServer::DeltaAggregatedResources(
    grpc::ServerContext* context, grpc::ServerReaderWriter<DeltaResponse, DeltaRequest>* stream) {
  return serve(context, stream, &delta_requests_, &delta_queue_);
}

bool FakeAdsServer::waitRequest(const std::function<bool(const DiscoveryRequest&)>& pred,
                                int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    for (const auto& r : requests_) {
      if (pred(r)) return true;
    }
    return false;
  });
}

bool FakeAdsServer::waitDeltaRequest(const std::function<bool(const DeltaRequest&)>& pred,
                                     int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    for (const auto& r : delta_requests_) {
      if (pred(r)) return true;
    }
    return false;
  });
}

std::vector<FakeAdsServer::DiscoveryRequest> FakeAdsServer::requests() {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::vector<FakeAdsServer::DeltaRequest> FakeAdsServer::deltaRequests() {
  std::lock_guard<std::mutex> lock(mu_);
  return delta_requests_;
}

}  // namespace remora::testing
