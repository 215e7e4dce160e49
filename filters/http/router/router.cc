// The router filter: picks the cluster and, through the worker's balancer, the host; sends
// the request as one or more attempts (retries per the route's retry_policy, with back-off,
// per-try timeouts, the previous-hosts predicate and the circuit breakers); streams the
// response back.
//
// An attempt is one request on one upstream connection or stream. The request body is kept
// while a retry may still need it (up to the route's retry buffer limit; past it the request
// is not retried). A response is only held back to decide on a retry by its headers: once a
// response is forwarded it is the answer.
#include "filters/http/router/router.h"

#include <memory>
#include <random>

#include "proxy/common/hash.h"
#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/common/thread_cache.h"
#include "proxy/event/timeout.h"
#include "proxy/http/http1_parser.h"
#include "proxy/http/route_table.h"
#include "proxy/server/worker.h"
#include "proxy/upstream/http1_pool.h"

namespace remora::filters {
namespace {

using config::RetryPolicyConfig;
using http::FilterStatus;
using http::ResponseFlag;

// Request bytes held while the first upstream connection is not ready (without retries).
constexpr size_t kMaxBufferedRequest = 1024 * 1024;

uint64_t randomValue() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

// endAttempt(): the attempt was given up by the proxy (nothing to hold against the host).
constexpr uint32_t kNoReport = 0xffffffffu;

// How an attempt ended without a usable response.
enum class Failure { ConnectFailure, Reset, RefusedStream, PerTryTimeout };

// grpc-status codes the gRPC retry conditions name.
bool grpcRetriable(uint32_t on, std::string_view status) {
  if (status == "1") return (on & RetryPolicyConfig::kGrpcCancelled) != 0;
  if (status == "4") return (on & RetryPolicyConfig::kGrpcDeadlineExceeded) != 0;
  if (status == "8") return (on & RetryPolicyConfig::kGrpcResourceExhausted) != 0;
  if (status == "13") return (on & RetryPolicyConfig::kGrpcInternal) != 0;
  if (status == "14") return (on & RetryPolicyConfig::kGrpcUnavailable) != 0;
  return false;
}

class Router : public http::HttpFilter,
               public upstream::ConnPool::Callbacks,
               public upstream::UpstreamStreamCallbacks,
               public ThreadCached<Router> {
 public:
  explicit Router(event::TimeoutQueues& timeouts)
      : timer_(timeouts, [this] { onTimeout(); }),
        per_try_timer_(timeouts, [this] { onPerTryTimeout(); }),
        per_try_idle_timer_(timeouts, [this] { onPerTryTimeout(); }),
        backoff_timer_(timeouts, [this] { startAttempt(); }) {}
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
    std::string_view name = route->clusterName(headers, random);
    server::Worker& worker = callbacks_->worker();
    const upstream::ClusterSharedPtr* cluster = worker.snapshot().cluster(name);
    http::StreamInfo& info = callbacks_->streamInfo();
    info.upstream_cluster = name;
    if (cluster == nullptr) {
      callbacks_->sendLocalReply(503, "", ResponseFlag::NoClusterFound, "cluster_not_found");
      return FilterStatus::Stop;
    }
    cluster_ = *cluster;
    stats_ = &cluster_->stats(worker.index());
    action_ = &entry.route;
    if (action_->retry_policy && action_->retry_policy->num_retries > 0) {
      policy_ = &*action_->retry_policy;
      retries_left_ = policy_->num_retries;
    }
    high_ = action_->high_priority;
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
    hashKey(headers);
    timeout_ms_ = static_cast<uint64_t>(action_->timeout.count());
    if (end_stream) startTimer();
    startAttempt();
    return FilterStatus::Stop;
  }

  FilterStatus decodeData(std::string_view data, bool end_stream) override {
    if (end_stream) {
      request_ended_ = true;
      startTimer();
    }
    if (policy_ != nullptr && !retry_body_off_) {
      // Kept for a retry, within the route's limit; past it, this request is not retried.
      if (body_.size() + data.size() > action_->retry_buffer_limit) {
        retry_body_off_ = true;
        if (client_ != nullptr) {
          body_.clear();
          body_.shrink_to_fit();
        }
      } else {
        body_.append(data);
        body_end_ = end_stream;
        if (client_ != nullptr) client_->sendData(data, end_stream && !have_trailers_);
        return FilterStatus::Stop;
      }
    }
    if (client_ != nullptr) {
      client_->sendData(data, end_stream);
    } else if (!done_) {
      // Waiting for the upstream connection: held, with reading paused past the limit.
      body_.append(data);
      body_end_ = end_stream;
      if (body_.size() > kMaxBufferedRequest && !read_disabled_) {
        read_disabled_ = true;
        callbacks_->readDisable(true);
      }
    }
    return FilterStatus::Stop;
  }

  FilterStatus decodeTrailers(http::HeaderMap& trailers) override {
    request_ended_ = true;
    startTimer();
    trailers_ = trailers;
    have_trailers_ = true;
    if (client_ != nullptr) client_->sendTrailers(trailers);
    return FilterStatus::Stop;
  }

  void onDownstreamWritable() override {
    if (client_ != nullptr && upstream_read_paused_) {
      upstream_read_paused_ = false;
      client_->readDisable(false);
    }
  }

  void onDestroy() override { release(); }

  // --- ConnPool::Callbacks ---
  void onPoolReady(upstream::UpstreamRequest& client) override {
    waiting_ = false;
    handle_ = 0;
    if (done_) {
      client.resetStream();
      endAttempt(kNoReport);
      return;
    }
    client_ = &client;
    http::StreamInfo& info = callbacks_->streamInfo();
    info.upstream_host = client.host();
    ++info.attempts;
    stats_->upstream_rq_total.inc();
    host_->rq_total.fetch_add(1, std::memory_order_relaxed);
    sent_ms_ = callbacks_->worker().loop().now();
    if (policy_ != nullptr && policy_->per_try_timeout) {
      per_try_timer_.enable(static_cast<uint64_t>(policy_->per_try_timeout->count()));
    }
    armPerTryIdle();
    http::RequestHeaders& headers = callbacks_->requestHeaders();
    if (action_->include_request_attempt_count) {
      headers.headers.set("x-envoy-attempt-count", cat(attempt_count_));
    }
    client.startRequest(headers, framing_, head_, this);
    if (client_ == nullptr) return;  // failed at once (reported through onUpstreamReset)
    if (!body_.empty() || body_end_) {
      bool keep = policy_ != nullptr && !retry_body_off_;
      if (keep) {
        client_->sendData(body_, body_end_ && !have_trailers_);
      } else {
        std::string body = std::move(body_);
        body_.clear();
        client_->sendData(body, body_end_ && !have_trailers_);
      }
    } else if (request_ended_ && framing_ == http::BodyFraming::Chunked && !have_trailers_) {
      // Nothing buffered but the request already ended: close the chunked body.
      client_->sendData({}, true);
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
    if (done_) {
      endAttempt(kNoReport);
      return;
    }
    switch (reason) {
      case upstream::PoolFailure::Overflow:
        endAttempt(kNoReport);
        overflow();
        return;
      case upstream::PoolFailure::NoHealthyHost:
        endAttempt(kNoReport);
        finishLocal(503, "no healthy upstream", ResponseFlag::NoHealthyUpstream,
                    "no_healthy_upstream");
        return;
      case upstream::PoolFailure::ConnectionFailure:
        attemptFailed(Failure::ConnectFailure, detail);
        return;
    }
  }

  // --- UpstreamStreamCallbacks ---
  void onResponseHeaders(http::ResponseHeaders&& headers, bool end_stream) override {
    per_try_timer_.disable();
    armPerTryIdle();
    countResponse(headers.status);
    status_ = headers.status;
    if (!response_started_ && retryOnResponse(headers, end_stream)) return;
    if (retried_) stats_->upstream_rq_retry_success.inc();
    response_started_ = true;
    route_->applyResponseHeaders(headers, picked_);
    headers.headers.set("x-envoy-upstream-service-time",
                        cat(callbacks_->worker().loop().now() - sent_ms_));
    if (action_->include_attempt_count_in_response) {
      headers.headers.set("x-envoy-attempt-count", cat(attempt_count_));
    }
    if (end_stream) {
      response_ended_ = true;
      timer_.disable();
    }
    callbacks_->encodeHeaders(std::move(headers), end_stream);
  }

  void onResponseData(std::string_view data) override {
    armPerTryIdle();
    callbacks_->encodeData(data, false);
    if (client_ != nullptr && !callbacks_->downstreamWritable() && !upstream_read_paused_) {
      upstream_read_paused_ = true;
      client_->readDisable(true);
    }
  }

  void onResponseComplete(http::HeaderMap&& trailers) override {
    client_ = nullptr;  // the connection goes back to its pool
    stats_->upstream_rq_completed.inc();
    endAttempt(status_);
    timer_.disable();
    if (response_ended_) return;
    response_ended_ = true;
    if (!trailers.empty()) {
      callbacks_->encodeTrailers(std::move(trailers));
    } else {
      callbacks_->encodeData({}, true);
    }
  }

  void onUpstreamReset(bool before_response, std::string_view detail, bool refused) override {
    client_ = nullptr;
    if (done_) {
      endAttempt(kNoReport);
      return;
    }
    REMORA_LOG(Debug, "upstream reset: %s", detail);
    stats_->upstream_rq_rx_reset.inc();
    if (!response_started_) {
      attemptFailed(refused ? Failure::RefusedStream : Failure::Reset, detail);
      return;
    }
    endAttempt(0);
    done_ = true;
    timer_.disable();
    callbacks_->resetStream(ResponseFlag::UpstreamConnectionTermination,
                            "upstream_reset_after_response_started{connection_termination}");
  }

  void onUpstreamAboveWriteWatermark() override { callbacks_->readDisable(true); }
  void onUpstreamBelowWriteWatermark() override { callbacks_->readDisable(false); }

 private:
  // --- Attempts ---

  void startAttempt() {
    if (done_) return;
    if (!cluster_->canSendRequest(high_)) {
      overflow();
      return;
    }
    server::Worker& worker = callbacks_->worker();
    http::StreamInfo& info = callbacks_->streamInfo();
    upstream::LbContext lb;
    lb.hash = hash_;
    if (policy_ != nullptr && policy_->previous_hosts_predicate && !tried_.empty()) {
      lb.avoid = &tried_;
      lb.selection_attempts = policy_->host_selection_retry_max_attempts;
    }
    const net::Address* original_dst =
        info.downstream_local.valid() ? &info.downstream_local : nullptr;
    host_ = worker.chooseHost(cluster_, lb, original_dst);
    if (!host_) {
      stats_->upstream_cx_none_healthy.inc();
      finishLocal(503, "no healthy upstream", ResponseFlag::NoHealthyUpstream,
                  "no_healthy_upstream");
      return;
    }
    ++attempt_count_;
    // Counted against max_requests from here until the attempt ends.
    in_flight_ = true;
    cluster_->resources(high_).requests.fetch_add(1, std::memory_order_relaxed);
    host_->rq_active.fetch_add(1, std::memory_order_relaxed);
    stats_->upstream_rq_active.add();
    lb_ = worker.loadBalancer(cluster_);
    if (lb_ != nullptr) lb_->onRequestStart(*host_);
    attempt_start_ms_ = worker.loop().now();
    pool_ = &worker.connPool(cluster_, host_, info.protocol == "HTTP/2", high_);
    waiting_ = true;
    handle_ = pool_->newStream(*this);
    if (handle_ == 0) waiting_ = false;  // answered already
  }

  // The attempt is over: its counts go, and its outcome goes to outlier detection. `outcome`:
  // the response status, 0 for a local-origin failure (connect, reset, per-try timeout), or
  // kNoReport when the proxy gave up on its own.
  void endAttempt(uint32_t outcome) {
    per_try_timer_.disable();
    per_try_idle_timer_.disable();
    if (!in_flight_) return;
    in_flight_ = false;
    cluster_->resources(high_).requests.fetch_sub(1, std::memory_order_relaxed);
    host_->rq_active.fetch_sub(1, std::memory_order_relaxed);
    stats_->upstream_rq_active.sub();
    bool success = outcome != 0 && outcome < 500;
    if (outcome != kNoReport) {
      (success ? host_->rq_success : host_->rq_error).fetch_add(1, std::memory_order_relaxed);
      if (upstream::OutlierDetector* od = cluster_->outlierDetector(); od != nullptr)
        od->report(*host_, outcome);
    }
    // Latency feedback, to the balancer the attempt started with (a rebuilt one never saw it).
    server::Worker& worker = callbacks_->worker();
    if (lb_ != nullptr && worker.currentBalancer(cluster_->name()) == lb_) {
      lb_->onRequestEnd(*host_, (worker.loop().now() - attempt_start_ms_) * 1000, success);
    }
    lb_ = nullptr;
    if (retry_counted_) {
      retry_counted_ = false;
      cluster_->resources(high_).retries.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  // An attempt ended without a response: retried when the policy says so, else answered.
  void attemptFailed(Failure failure, std::string_view detail) {
    endAttempt(0);
    if (failure == Failure::PerTryTimeout)
      host_->rq_timeout.fetch_add(1, std::memory_order_relaxed);
    if (mayRetry(retriableFailure(failure))) return;
    switch (failure) {
      case Failure::ConnectFailure:
        finishLocal(503,
                    "upstream connect error or disconnect/reset before headers. reset reason: "
                    "connection failure",
                    ResponseFlag::UpstreamConnectionFailure,
                    "upstream_reset_before_response_started{connection_failure}");
        return;
      case Failure::PerTryTimeout:
        finishLocal(504, "upstream request timeout", ResponseFlag::UpstreamRequestTimeout,
                    "upstream_per_try_timeout");
        return;
      case Failure::RefusedStream:
        finishLocal(503,
                    "upstream connect error or disconnect/reset before headers. reset reason: "
                    "remote refused stream reset",
                    ResponseFlag::UpstreamRemoteReset,
                    "upstream_reset_before_response_started{remote_refused_stream_reset}");
        return;
      case Failure::Reset:
        break;
    }
    (void)detail;
    finishLocal(503,
                "upstream connect error or disconnect/reset before headers. reset reason: "
                "connection termination",
                ResponseFlag::UpstreamConnectionTermination,
                "upstream_reset_before_response_started{connection_termination}");
  }

  bool retriableFailure(Failure failure) const {
    if (policy_ == nullptr) return false;
    uint32_t on = policy_->retry_on;
    // 5xx, gateway-error and reset cover every way an attempt can fail without a response.
    if ((on & (RetryPolicyConfig::k5xx | RetryPolicyConfig::kGatewayError |
               RetryPolicyConfig::kReset)) != 0) {
      return true;
    }
    switch (failure) {
      case Failure::ConnectFailure:
        // The request never reached the host: reset-before-request covers it too.
        return (on &
                (RetryPolicyConfig::kConnectFailure | RetryPolicyConfig::kResetBeforeRequest)) != 0;
      case Failure::RefusedStream:
        return (on & RetryPolicyConfig::kRefusedStream) != 0;
      case Failure::PerTryTimeout:
      case Failure::Reset:
        return false;
    }
    return false;
  }

  // The response headers of the current attempt: true when the attempt is dropped for a retry.
  bool retryOnResponse(const http::ResponseHeaders& h, bool end_stream) {
    if (policy_ == nullptr) return false;
    uint32_t on = policy_->retry_on;
    uint32_t s = h.status;
    bool want = false;
    if ((on & RetryPolicyConfig::k5xx) && s >= 500) want = true;
    if ((on & RetryPolicyConfig::kGatewayError) && (s == 502 || s == 503 || s == 504)) want = true;
    if ((on & RetryPolicyConfig::kRetriable4xx) && s == 409) want = true;
    if (on & RetryPolicyConfig::kRetriableStatusCodes) {
      for (uint32_t c : policy_->retriable_status_codes) want = want || c == s;
    }
    if (const std::string_view* g = h.headers.get("grpc-status");
        g != nullptr && grpcRetriable(on, *g))
      want = true;
    if ((on & RetryPolicyConfig::kEnvoyRateLimited) && h.headers.has("x-envoy-ratelimited"))
      want = true;
    // The upstream says it is overloaded: a retry would only add to it (Envoy's rule).
    if (h.headers.has("x-envoy-overloaded")) want = false;
    if (!want || !retryAllowed()) return false;
    (void)end_stream;
    // The attempt's response is dropped: its connection cannot be reused mid-response.
    upstream::UpstreamRequest* c = client_;
    client_ = nullptr;
    if (c != nullptr) c->resetStream();
    endAttempt(s);
    scheduleRetry();
    return true;
  }

  // A retriable outcome: whether the policy, the request and the circuit breakers allow a
  // retry now (counting why not).
  bool retryAllowed() {
    if (policy_ == nullptr || done_) return false;
    if (retries_left_ == 0) {
      stats_->upstream_rq_retry_limit_exceeded.inc();
      callbacks_->streamInfo().setFlag(ResponseFlag::UpstreamRetryLimitExceeded);
      return false;
    }
    if (!request_ended_ || retry_body_off_) return false;  // the body is not all here / kept
    if (!cluster_->canRetry(high_)) {
      stats_->upstream_rq_retry_overflow.inc();
      return false;
    }
    return true;
  }

  // Schedules a retry after the back-off if allowed. False: the caller answers with what it
  // has.
  bool mayRetry(bool retriable) {
    if (!retriable || !retryAllowed()) return false;
    scheduleRetry();
    return true;
  }

  void scheduleRetry() {
    // Only a retry needs the hosts tried so far (no allocation on the usual path).
    if (policy_->previous_hosts_predicate && host_) tried_.push_back(host_.get());
    --retries_left_;
    retried_ = true;
    retry_counted_ = true;
    cluster_->resources(high_).retries.fetch_add(1, std::memory_order_relaxed);
    stats_->upstream_rq_retry.inc();
    stats_->upstream_rq_retry_backoff_exponential.inc();
    // Exponential back-off with full jitter: a random time below (2^n - 1) x base, capped.
    uint64_t base = static_cast<uint64_t>(policy_->base_interval.count());
    uint64_t cap = static_cast<uint64_t>(policy_->max_interval.count());
    uint64_t span = ((uint64_t{1} << std::min<uint32_t>(backoff_step_, 20)) - 1) * base;
    if (span <= cap) ++backoff_step_;
    uint64_t wait = span == 0 ? 0 : std::min(randomValue() % span, cap);
    backoff_timer_.enable(std::max<uint64_t>(wait, 1));
  }

  // per_try_idle_timeout: no response byte for that long during an attempt.
  void armPerTryIdle() {
    if (policy_ != nullptr && policy_->per_try_idle_timeout && !response_ended_) {
      per_try_idle_timer_.enable(static_cast<uint64_t>(policy_->per_try_idle_timeout->count()));
    }
  }

  void onPerTryTimeout() {
    if (done_ || (client_ == nullptr && !waiting_)) return;
    stats_->upstream_rq_per_try_timeout.inc();
    if (response_started_) {
      // Too late to retry: the response is cut off (an idle attempt), or the route timeout
      // still applies (per_try_timeout only counts until the headers).
      if (!per_try_idle_timer_.enabled() && policy_->per_try_idle_timeout) {
        done_ = true;
        release();
        callbacks_->resetStream(ResponseFlag::UpstreamRequestTimeout,
                                "upstream_per_try_idle_timeout");
      }
      return;
    }
    if (waiting_ && pool_ != nullptr && handle_ != 0) pool_->cancel(handle_);
    waiting_ = false;
    handle_ = 0;
    upstream::UpstreamRequest* c = client_;
    client_ = nullptr;
    if (c != nullptr) c->resetStream();
    stats_->upstream_rq_tx_reset.inc();
    attemptFailed(Failure::PerTryTimeout, "per-try timeout");
  }

  void overflow() {
    stats_->upstream_rq_pending_overflow.inc();
    finishLocal(503,
                "upstream connect error or disconnect/reset before headers. reset reason: "
                "overflow",
                ResponseFlag::UpstreamOverflow, "upstream_reset_before_response_started{overflow}");
  }

  void countResponse(uint32_t status) {
    switch (status / 100) {
      case 1:
        stats_->upstream_rq_1xx.inc();
        break;
      case 2:
        stats_->upstream_rq_2xx.inc();
        break;
      case 3:
        stats_->upstream_rq_3xx.inc();
        break;
      case 4:
        stats_->upstream_rq_4xx.inc();
        break;
      default:
        stats_->upstream_rq_5xx.inc();
        break;
    }
  }

  // The route's hash policy (RING_HASH / MAGLEV): each entry that yields a value folds into the
  // key; a terminal one that did ends the list.
  void hashKey(const http::RequestHeaders& headers) {
    for (const auto& p : action_->hash_policy) {
      std::optional<uint64_t> h;
      switch (p.kind) {
        case config::HashPolicyConfig::Kind::Header:
          if (p.name == ":authority" || p.name == "host") {
            h = xxHash64(headers.authority);
          } else if (p.name == ":path") {
            h = xxHash64(headers.path);
          } else if (p.name == ":method") {
            h = xxHash64(headers.method);
          } else if (const std::string_view* v = headers.headers.get(p.name); v != nullptr) {
            h = xxHash64(*v);
          }
          break;
        case config::HashPolicyConfig::Kind::Cookie:
          if (auto v = cookieValue(headers, p.name)) h = xxHash64(*v);
          break;
        case config::HashPolicyConfig::Kind::SourceIp: {
          const net::Address& peer = callbacks_->streamInfo().downstream_remote;
          if (peer.valid()) h = xxHash64(peer.ip());
          break;
        }
        case config::HashPolicyConfig::Kind::QueryParameter:
          if (auto v = queryValue(headers.query(), p.name)) h = xxHash64(*v);
          break;
      }
      if (!h) continue;
      hash_ = hash_ ? ((*hash_ << 1) | (*hash_ >> 63)) ^ *h : *h;
      if (p.terminal) break;
    }
  }

  static std::optional<std::string_view> cookieValue(const http::RequestHeaders& headers,
                                                     std::string_view name) {
    for (const auto& e : headers.headers.entries()) {
      if (e.name != "cookie") continue;
      std::string_view rest = e.value;
      while (!rest.empty()) {
        size_t semi = rest.find(';');
        std::string_view pair = rest.substr(0, semi);
        rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
        while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
        size_t eq = pair.find('=');
        if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
        std::string_view v = pair.substr(eq + 1);
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        return v;
      }
    }
    return std::nullopt;
  }

  static std::optional<std::string_view> queryValue(std::string_view query, std::string_view name) {
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      size_t eq = pair.find('=');
      std::string_view key = pair.substr(0, eq);
      if (key == name)
        return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    return std::nullopt;
  }

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
    if (cluster_) stats_->upstream_rq_timeout.inc();
    if (host_) host_->rq_timeout.fetch_add(1, std::memory_order_relaxed);
    if (in_flight_) endAttempt(504);  // outlier detection counts a timeout as a 504
    if (!response_started_) {
      finishLocal(504, "upstream request timeout", ResponseFlag::UpstreamRequestTimeout,
                  "upstream_response_timeout");
      return;
    }
    done_ = true;
    release();
    callbacks_->resetStream(ResponseFlag::UpstreamRequestTimeout, "upstream_response_timeout");
  }

  // Lets go of the upstream: a waiting request is cancelled, a busy connection is closed, a
  // scheduled retry is dropped.
  void release() {
    timer_.disable();
    per_try_timer_.disable();
    per_try_idle_timer_.disable();
    backoff_timer_.disable();
    if (waiting_ && pool_ != nullptr && handle_ != 0) pool_->cancel(handle_);
    waiting_ = false;
    handle_ = 0;
    if (client_ != nullptr) {
      upstream::UpstreamRequest* c = client_;
      client_ = nullptr;
      c->resetStream();
      if (stats_ != nullptr) stats_->upstream_rq_tx_reset.inc();
    }
    if (cluster_) endAttempt(kNoReport);
    if (retry_counted_) {
      retry_counted_ = false;
      cluster_->resources(high_).retries.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  const http::Route* route_ = nullptr;
  const config::RouteActionConfig* action_ = nullptr;
  const config::RouteWeightedCluster* picked_ = nullptr;
  const RetryPolicyConfig* policy_ = nullptr;
  upstream::ClusterSharedPtr cluster_;
  upstream::ClusterStats* stats_ = nullptr;
  upstream::HostSharedPtr host_;  // the current attempt's
  std::vector<const upstream::Host*> tried_;
  std::optional<uint64_t> hash_;
  upstream::ConnPool* pool_ = nullptr;
  upstream::UpstreamRequest* client_ = nullptr;
  upstream::LoadBalancer* lb_ = nullptr;
  uint64_t handle_ = 0;
  bool waiting_ = false;
  bool in_flight_ = false;      // the attempt counts against max_requests
  bool retry_counted_ = false;  // the attempt is a retry counted against max_retries
  bool high_ = false;
  http::BodyFraming framing_ = http::BodyFraming::None;
  bool head_ = false;
  std::string body_;  // held for the connection, or for retries
  bool body_end_ = false;
  bool retry_body_off_ = false;  // the body outgrew the retry buffer: no retries
  http::HeaderMap trailers_;
  bool have_trailers_ = false;
  bool request_ended_ = false;
  bool response_started_ = false;
  bool response_ended_ = false;
  bool done_ = false;
  bool retried_ = false;
  bool read_disabled_ = false;
  bool upstream_read_paused_ = false;
  uint32_t status_ = 0;  // the current attempt's response status
  uint32_t retries_left_ = 0;
  uint32_t attempt_count_ = 0;
  uint32_t backoff_step_ = 1;
  uint64_t timeout_ms_ = 0;
  uint64_t sent_ms_ = 0;
  uint64_t attempt_start_ms_ = 0;
  event::Timeout timer_;               // the route timeout: every attempt, back-offs included
  event::Timeout per_try_timer_;       // the current attempt's
  event::Timeout per_try_idle_timer_;  // the current attempt's, re-armed by response bytes
  event::Timeout backoff_timer_;       // until the next attempt
};

}  // namespace

http::HttpFilterPtr RouterFactory::create(server::Worker& worker) const {
  return std::make_unique<Router>(worker.loop().timeouts());
}

}  // namespace remora::filters
