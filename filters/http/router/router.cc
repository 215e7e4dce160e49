// The router filter.
#include "filters/http/router/router.h"

#include <memory>
#include <random>

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/event/timeout.h"
#include "proxy/http/http1_parser.h"
#include "proxy/http/route_table.h"
#include "proxy/server/worker.h"
#include "proxy/upstream/http1_pool.h"

namespace remora::filters {
namespace {

using http::FilterStatus;
using http::ResponseFlag;

constexpr size_t kMaxBufferedRequest = 1024 * 1024;  // before the upstream connection is ready

uint64_t randomValue() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

class Router : public http::HttpFilter,
               public upstream::ConnPool::Callbacks,
               public upstream::UpstreamStreamCallbacks {
 public:
  explicit Router(event::TimeoutQueues& timeouts) : timer_(timeouts, [this] { onTimeout(); }) {}
  ~Router() override { release(); }

  FilterStatus decodeHeaders(http::RequestHeaders& headers, bool end_stream) override {
    const http::Route* route = callbacks_->route();
    if (route == nullptr) {
      callbacks_->sendLocalReply(404, "", ResponseFlag::NoRouteFound, "route_not_found");
      return FilterStatus::Stop;
    }
    route_ = route;
    const auto& entry = route->config();
    using Kind = config::RouteConfigEntry::Kind;
    if (entry.kind == Kind::DirectResponse) {
      directResponse(entry.direct_response.status, entry.direct_response.body, {});
      return FilterStatus::Stop;
    }
    if (entry.kind == Kind::Redirect) {
      std::string location = route->redirectLocation(headers, callbacks_->downstreamSecure());
      directResponse(entry.redirect.response_code, "", std::move(location));
      return FilterStatus::Stop;
    }
    uint64_t random = randomValue();
    picked_ = route->pickCluster(random);
    std::string name(route->clusterName(headers, random));
    server::Worker& worker = callbacks_->worker();
    const upstream::ClusterSharedPtr* cluster = worker.snapshot().cluster(name);
    http::StreamInfo& info = callbacks_->streamInfo();
    info.upstream_cluster = name;
    if (cluster == nullptr) {
      callbacks_->sendLocalReply(503, "", ResponseFlag::NoClusterFound, "cluster_not_found");
      return FilterStatus::Stop;
    }
    cluster_ = *cluster;
    route->finalizeRequest(headers, picked_, true);
    head_ = headers.method == "HEAD";
    if (end_stream) {
      framing_ = http::BodyFraming::None;
    } else if (headers.headers.has("content-length")) {
      framing_ = http::BodyFraming::ContentLength;
    } else {
      framing_ = http::BodyFraming::Chunked;
    }
    request_ended_ = end_stream;
    timeout_ms_ = static_cast<uint64_t>(entry.route.timeout.count());
    if (end_stream) startTimer();
    pool_ = &worker.connPool(cluster_, info.protocol == "HTTP/2");
    const net::Address* original_dst =
        info.downstream_local.valid() ? &info.downstream_local : nullptr;
    waiting_ = true;
    handle_ = pool_->newStream(*this, original_dst);
    if (handle_ == 0) waiting_ = false;  // answered already
    return FilterStatus::Stop;
  }

  FilterStatus decodeData(std::string_view data, bool end_stream) override {
    if (end_stream) {
      request_ended_ = true;
      startTimer();
    }
    if (client_ != nullptr) {
      client_->sendData(data, end_stream);
    } else if (!done_) {
      buffered_.append(data);
      buffered_end_ = end_stream;
      if (buffered_.size() > kMaxBufferedRequest && !read_disabled_) {
        read_disabled_ = true;
        callbacks_->readDisable(true);
      }
    }
    return FilterStatus::Stop;
  }

  FilterStatus decodeTrailers(http::HeaderMap& trailers) override {
    request_ended_ = true;
    startTimer();
    if (client_ != nullptr) {
      client_->sendTrailers(trailers);
    } else {
      trailers_ = trailers;
      have_trailers_ = true;
    }
    return FilterStatus::Stop;
  }

  void onDownstreamWritable() override {
    if (client_ != nullptr && upstream_read_paused_) {
      upstream_read_paused_ = false;
      client_->readDisable(false);
    }
  }

  void onDestroy() override { release(); }

  // --- Http1Pool::Callbacks ---
  void onPoolReady(upstream::UpstreamRequest& client) override {
    waiting_ = false;
    handle_ = 0;
    if (done_) {
      client.resetStream();
      return;
    }
    client_ = &client;
    http::StreamInfo& info = callbacks_->streamInfo();
    info.upstream_host = client.host();
    ++info.attempts;
    cluster_->stats(callbacks_->worker().index()).upstream_rq_total.inc();
    sent_ms_ = callbacks_->worker().loop().now();
    // auto_host_rewrite uses the endpoint's hostname; EDS/STATIC endpoints here have none,
    // and then Envoy leaves :authority as it is too.
    http::RequestHeaders& headers = callbacks_->requestHeaders();
    client.startRequest(headers, framing_, head_, this);
    if (!buffered_.empty() || buffered_end_) {
      std::string body = std::move(buffered_);
      buffered_.clear();
      if (client_ != nullptr) client_->sendData(body, buffered_end_ && !have_trailers_);
    } else if (request_ended_ && framing_ == http::BodyFraming::Chunked && !have_trailers_) {
      // Nothing buffered but the request already ended: close the chunked body.
      if (client_ != nullptr) client_->sendData({}, true);
    }
    if (have_trailers_ && client_ != nullptr) client_->sendTrailers(trailers_);
    if (read_disabled_) {
      read_disabled_ = false;
      callbacks_->readDisable(false);
    }
  }

  void onPoolFailure(upstream::PoolFailure reason, std::string_view detail) override {
    waiting_ = false;
    handle_ = 0;
    if (done_) return;
    if (reason == upstream::PoolFailure::NoHealthyHost) {
      finishLocal(503, "no healthy upstream", ResponseFlag::NoHealthyUpstream,
                  "no_healthy_upstream");
      return;
    }
    finishLocal(503,
                "upstream connect error or disconnect/reset before headers. reset reason: "
                "connection failure",
                ResponseFlag::UpstreamConnectionFailure,
                "upstream_reset_before_response_started{connection_failure}");
  }

  // --- UpstreamStreamCallbacks ---
  void onResponseHeaders(http::ResponseHeaders&& headers, bool end_stream) override {
    response_started_ = true;
    route_->applyResponseHeaders(headers, picked_);
    headers.headers.set("x-envoy-upstream-service-time",
                        cat(callbacks_->worker().loop().now() - sent_ms_));
    if (end_stream) {
      response_ended_ = true;
      timer_.disable();
    }
    callbacks_->encodeHeaders(std::move(headers), end_stream);
  }

  void onResponseData(std::string_view data) override {
    callbacks_->encodeData(data, false);
    if (client_ != nullptr && !callbacks_->downstreamWritable() && !upstream_read_paused_) {
      upstream_read_paused_ = true;
      client_->readDisable(true);
    }
  }

  void onResponseComplete(http::HeaderMap&& trailers) override {
    client_ = nullptr;  // the connection goes back to its pool
    timer_.disable();
    if (response_ended_) return;
    response_ended_ = true;
    if (!trailers.empty()) {
      callbacks_->encodeTrailers(std::move(trailers));
    } else {
      callbacks_->encodeData({}, true);
    }
  }

  void onUpstreamReset(bool before_response, std::string_view detail) override {
    client_ = nullptr;
    if (done_) return;
    REMORA_LOG(Debug, "upstream reset: %s", detail);
    if (!response_started_) {
      finishLocal(503,
                  "upstream connect error or disconnect/reset before headers. reset reason: "
                  "connection termination",
                  ResponseFlag::UpstreamConnectionTermination,
                  "upstream_reset_before_response_started{connection_termination}");
      return;
    }
    done_ = true;
    callbacks_->resetStream(ResponseFlag::UpstreamConnectionTermination,
                            "upstream_reset_after_response_started{connection_termination}");
  }

  void onUpstreamAboveWriteWatermark() override { callbacks_->readDisable(true); }
  void onUpstreamBelowWriteWatermark() override { callbacks_->readDisable(false); }

 private:
  void directResponse(uint32_t status, std::string_view body, std::string location) {
    http::ResponseHeaders h;
    h.status = status;
    if (!location.empty()) h.headers.add("location", std::move(location));
    h.headers.add("content-length", cat(body.size()));
    if (!body.empty()) h.headers.add("content-type", "text/plain");
    route_->applyResponseHeaders(h, nullptr);
    callbacks_->streamInfo().response_code_details = "direct_response";
    done_ = true;
    callbacks_->encodeHeaders(std::move(h), body.empty());
    if (!body.empty()) callbacks_->encodeData(body, true);
  }

  void finishLocal(uint32_t status, std::string_view body, ResponseFlag flag,
                   std::string_view details) {
    done_ = true;
    release();
    callbacks_->sendLocalReply(status, body, flag, details);
  }

  void startTimer() {
    if (timeout_ms_ > 0 && !timer_.enabled() && !response_ended_) timer_.enable(timeout_ms_);
  }

  void onTimeout() {
    if (done_ || response_ended_) return;
    if (cluster_) cluster_->stats(callbacks_->worker().index()).upstream_rq_timeout.inc();
    if (!response_started_) {
      finishLocal(504, "upstream request timeout", ResponseFlag::UpstreamRequestTimeout,
                  "upstream_response_timeout");
      return;
    }
    done_ = true;
    release();
    callbacks_->resetStream(ResponseFlag::UpstreamRequestTimeout, "upstream_response_timeout");
  }

  // Lets go of the upstream: a waiting request is cancelled, a busy connection is closed.
  void release() {
    timer_.disable();
    if (waiting_ && pool_ != nullptr && handle_ != 0) pool_->cancel(handle_);
    waiting_ = false;
    handle_ = 0;
    if (client_ != nullptr) {
      upstream::UpstreamRequest* c = client_;
      client_ = nullptr;
      c->resetStream();
    }
  }

  const http::Route* route_ = nullptr;
  const config::RouteWeightedCluster* picked_ = nullptr;
  upstream::ClusterSharedPtr cluster_;
  upstream::ConnPool* pool_ = nullptr;
  upstream::UpstreamRequest* client_ = nullptr;
  uint64_t handle_ = 0;
  bool waiting_ = false;
  http::BodyFraming framing_ = http::BodyFraming::None;
  bool head_ = false;
  std::string buffered_;
  bool buffered_end_ = false;
  http::HeaderMap trailers_;
  bool have_trailers_ = false;
  bool request_ended_ = false;
  bool response_started_ = false;
  bool response_ended_ = false;
  bool done_ = false;
  bool read_disabled_ = false;
  bool upstream_read_paused_ = false;
  uint64_t timeout_ms_ = 0;
  uint64_t sent_ms_ = 0;
  event::Timeout timer_;
};

}  // namespace

http::HttpFilterPtr RouterFactory::create(server::Worker& worker) const {
  return std::make_unique<Router>(worker.loop().timeouts());
}

}  // namespace remora::filters
