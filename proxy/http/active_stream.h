// One HTTP request/response exchange inside the connection manager, independent of the codec:
// the manager's request rules, the filter chain (decode in order, encode in reverse), local
// replies, timeouts and the access log. A codec connection (HTTP/1.1 or HTTP/2) drives it and
// implements ResponseEncoder for it.
#pragma once

#include <sys/time.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "proxy/common/strings.h"
#include "proxy/common/thread_cache.h"
#include "proxy/event/timeout.h"
#include "proxy/http/access_log.h"
#include "proxy/http/conn_manager.h"
#include "proxy/http/route_table.h"
#include "proxy/server/worker.h"

namespace remora::http {

inline uint64_t wallClockMs() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<uint64_t>(tv.tv_sec) * 1000 + static_cast<uint64_t>(tv.tv_usec) / 1000;
}

// What a stream needs from its connection (HTTP/1.1 now, HTTP/2 later).
class ResponseEncoder {
 public:
  virtual ~ResponseEncoder() = default;
  // The codec may change `headers` (it drops what its protocol does not carry).
  virtual void encodeHeaders(ResponseHeaders& headers, bool end_stream) = 0;
  virtual void encodeData(std::string_view data, bool end_stream) = 0;
  virtual void encodeTrailers(const HeaderMap& trailers) = 0;
  virtual void encode100Continue() = 0;
  // The stream ends without a complete response: the connection cannot go on (HTTP/1.1).
  virtual void resetStream() = 0;
  virtual bool writable() const = 0;
  virtual void readDisable(bool disable) = 0;
  // The stream is finished on both sides; the connection may take the next one.
  virtual void streamDone() = 0;
};

// --- ActiveStream: one request/response exchange ---

class ActiveStream : public FilterCallbacks, public ThreadCached<ActiveStream> {
 public:
  ActiveStream(const ConnManagerShared& shared, server::Worker& worker, ResponseEncoder& encoder,
               const server::ConnectionInfo& info, ConnManagerStats& stats, std::string protocol,
               bool secure)
      : shared_(shared),
        worker_(worker),
        encoder_(encoder),
        conn_info_(info),
        stats_(stats),
        secure_(secure),
        idle_timer_(worker.loop().timeouts(), [this] { onIdleTimeout(); }),
        request_timer_(worker.loop().timeouts(), [this] { onRequestTimeout(); }) {
    info_.start_ms = wallClockMs();
    info_.start_mono_ms = worker.loop().now();
    info_.protocol = std::move(protocol);
    info_.downstream_local = info.original_dst ? *info.original_dst : info.local;
    info_.downstream_remote = info.peer;
    info_.downstream_tls = info.tls.get();
    filters_.reserve(shared_.filters.size());
    for (const auto& f : shared_.filters) {
      filters_.push_back(f->create(worker));
      filters_.back()->setCallbacks(this);
    }
    stats_.downstream_rq_total.inc();
    stats_.downstream_rq_active.add();
    armIdle();
    request_timer_.enable(static_cast<uint64_t>(shared_.config.request_timeout.count()));
  }

  ~ActiveStream() override {
    if (!filters_destroyed_) {
      for (auto& f : filters_) f->onDestroy();
    }
    stats_.downstream_rq_active.sub();
  }

  // --- From the codec ---
  void decodeHeaders(RequestHeaders&& headers, bool end_stream) {
    request_ = std::move(headers);
    request_complete_ = end_stream;
    armIdle();
    prepareRequest();
    if (done_) return;
    runDecodeHeaders(0);
  }

  void decodeData(std::string_view data, bool end_stream) {
    if (done_ || response_complete_) return;
    armIdle();
    info_.bytes_received += data.size();
    stats_.downstream_rq_rx_bytes_total.inc(data.size());
    request_complete_ = end_stream;
    // Data reaches the filters up to the one that stopped the headers (it asked to see the
    // body), and waits for the rest until that filter continues.
    for (size_t i = 0; i < filters_.size(); ++i) {
      if (decode_stopped_at_ >= 0 && i > static_cast<size_t>(decode_stopped_at_)) {
        if (held_body_.size() + data.size() > shared_.buffer_limit) {
          sendLocalReply(413, "Payload Too Large", std::nullopt, "request_payload_too_large");
          return;
        }
        held_body_.append(data);
        held_end_ = end_stream;
        return;
      }
      if (filters_[i]->decodeData(data, end_stream) == FilterStatus::Stop) break;
      if (done_) return;
    }
    if (end_stream) requestComplete();
  }

  void decodeTrailers(HeaderMap&& trailers) {
    if (done_) return;
    request_complete_ = true;
    for (auto& f : filters_) {
      if (f->decodeTrailers(trailers) == FilterStatus::Stop) break;
      if (done_) return;
    }
    requestComplete();
  }

  // The downstream connection went away (or was reset) before the stream finished.
  void onDownstreamReset() {
    if (done_) return;
    stats_.downstream_rq_rx_reset.inc();
    info_.setFlag(ResponseFlag::DownstreamConnectionTermination);
    finish();
  }

  void onDownstreamWritable() {
    for (auto& f : filters_) f->onDownstreamWritable();
  }

  bool done() const { return done_; }
  bool responseComplete() const { return response_complete_; }
  bool requestDone() const { return request_complete_; }
  bool responseStarted() const { return response_started_; }

  // --- FilterCallbacks ---
  server::Worker& worker() override { return worker_; }
  StreamInfo& streamInfo() override { return info_; }
  const Route* route() override {
    if (!route_cached_) {
      route_cached_ = true;
      route_table_ = shared_.routeTable(worker_);
      route_ = route_table_ == nullptr ? nullptr : route_table_->route(request_);
      if (route_ != nullptr) {
        info_.route_name = route_->config().name;
        if (route_->config().route.idle_timeout) armIdle();  // the route's own idle timeout
      }
    }
    return route_;
  }
  void clearRouteCache() override { route_cached_ = false; }
  void continueDecoding() override {
    if (decode_stopped_at_ < 0 || done_) return;
    size_t from = static_cast<size_t>(decode_stopped_at_) + 1;
    decode_stopped_at_ = -1;
    runDecodeHeaders(from);
    if (done_ || decode_stopped_at_ >= 0) return;
    if (!held_body_.empty() || held_end_) {
      std::string body = std::move(held_body_);
      held_body_.clear();
      bool end = held_end_;
      for (size_t i = from; i < filters_.size(); ++i) {
        if (filters_[i]->decodeData(body, end) == FilterStatus::Stop) break;
        if (done_) return;
      }
    }
  }
  void readDisable(bool disable) override { encoder_.readDisable(disable); }

  void encodeHeaders(ResponseHeaders&& headers, bool end_stream) override {
    if (done_ || response_started_) return;
    for (auto it = filters_.rbegin(); it != filters_.rend(); ++it) {
      if ((*it)->encodeHeaders(headers, end_stream) == FilterStatus::Stop) break;
    }
    response_started_ = true;
    info_.response_code = headers.status;
    if (info_.response_code_details.empty()) info_.response_code_details = "via_upstream";
    finalizeResponseHeaders(headers);
    countStatus(headers.status);
    if (shared_.access_logs_read_response_headers) info_.response_headers = headers.headers;
    encoder_.encodeHeaders(headers, end_stream);
    if (end_stream) responseComplete();
  }

  void encodeData(std::string_view data, bool end_stream) override {
    if (done_ || !response_started_ || response_complete_) return;
    armIdle();
    info_.bytes_sent += data.size();
    stats_.downstream_rq_tx_bytes_total.inc(data.size());
    encoder_.encodeData(data, end_stream);
    if (end_stream) responseComplete();
  }

  void encodeTrailers(HeaderMap&& trailers) override {
    if (done_ || !response_started_ || response_complete_) return;
    encoder_.encodeTrailers(trailers);
    responseComplete();
  }

  bool downstreamWritable() const override { return encoder_.writable(); }

  void sendLocalReply(uint32_t status, std::string_view body, std::optional<ResponseFlag> flag,
                      std::string_view details) override {
    if (done_) return;
    if (flag) info_.setFlag(*flag);
    if (flag == ResponseFlag::NoRouteFound) stats_.no_route.inc();
    info_.response_code_details = std::string(details);
    if (response_started_) {
      // Too late for a status: the client sees the stream cut off.
      resetStream(flag.value_or(ResponseFlag::LocalReset), details);
      return;
    }
    ResponseHeaders h;
    h.status = status;
    if (!body.empty()) {
      h.headers.add("content-length", cat(body.size()));
      h.headers.add("content-type", "text/plain");
    } else {
      h.headers.add("content-length", "0");
    }
    encodeHeaders(std::move(h), body.empty());
    if (!body.empty() && !done_) encodeData(body, true);
  }

  void resetStream(ResponseFlag flag, std::string_view details) override {
    if (done_) return;
    info_.setFlag(flag);
    if (info_.response_code_details.empty()) info_.response_code_details = std::string(details);
    stats_.downstream_rq_tx_reset.inc();
    encoder_.resetStream();
    finish();
  }

  RequestHeaders& requestHeaders() override { return request_; }
  bool downstreamSecure() const override { return secure_; }

 private:
  // The manager's own request rules, before any filter sees the request.
  void prepareRequest() {
    const auto& c = shared_.config;
    HeaderMap& h = request_.headers;
    if (request_.scheme.empty()) request_.scheme = secure_ ? "https" : "http";
    // Client certificate details are only forwarded when remora sets them (mTLS, later); a
    // client-supplied value never passes (forward_client_cert_details SANITIZE).
    h.remove("x-forwarded-client-cert");
    // x-forwarded-for / x-forwarded-proto (Envoy: the edge appends the peer and owns the
    // proto; an internal hop passes them on).
    if (c.use_remote_address) {
      if (!c.skip_xff_append) {
        std::string peer = info_.downstream_remote.ip();
        const std::string_view* xff = h.get("x-forwarded-for");
        h.set("x-forwarded-for", xff == nullptr ? peer : cat(*xff, ", ", peer));
      }
      h.set("x-forwarded-proto", secure_ ? "https" : "http");
    } else if (!h.has("x-forwarded-proto")) {
      h.add("x-forwarded-proto", secure_ ? "https" : "http");
    }
    // x-request-id: kept when present (unless the edge does not trust it), else generated.
    const std::string_view* rid = h.get("x-request-id");
    bool regenerate =
        rid == nullptr || rid->empty() || (c.use_remote_address && !c.preserve_external_request_id);
    if (regenerate && c.generate_request_id) {
      char id[kRequestIdSize];
      writeRequestId(id);
      h.set("x-request-id", std::string_view(id, sizeof(id)));
      rid = h.get("x-request-id");
    }
    if (rid != nullptr) info_.request_id = *rid;
    if (!c.via.empty()) {
      const std::string_view* via = h.get("via");
      h.set("via", via == nullptr ? c.via : cat(*via, ", ", c.via));
    }
    if (request_.method == "CONNECT") {
      // CONNECT and upgrades are refused until upgrade_configs are supported.
      sendLocalReply(403, "", std::nullopt, "upgrade_failed");
      return;
    }
    if (const std::string_view* upgrade = h.get("upgrade"); upgrade != nullptr) {
      // Upgrades (websocket, h2c) need upgrade_configs, which remora does not take yet: the
      // request goes on as plain HTTP without them (Envoy does the same).
      h.remove("upgrade");
    }
  }

  void runDecodeHeaders(size_t from) {
    for (size_t i = from; i < filters_.size(); ++i) {
      if (filters_[i]->decodeHeaders(request_, request_complete_) == FilterStatus::Stop) {
        if (!done_ && !response_complete_) decode_stopped_at_ = static_cast<int>(i);
        return;
      }
      if (done_) return;
    }
    if (request_complete_) requestComplete();
  }

  void requestComplete() {
    request_complete_ = true;
    request_timer_.disable();
    maybeFinish();
  }

  void finalizeResponseHeaders(ResponseHeaders& h) {
    const auto& c = shared_.config;
    switch (c.server_header) {
      case config::HttpConnectionManagerConfig::ServerHeader::Overwrite:
        h.headers.set("server", c.server_name);
        break;
      case config::HttpConnectionManagerConfig::ServerHeader::AppendIfAbsent:
        if (!h.headers.has("server")) h.headers.add("server", c.server_name);
        break;
      case config::HttpConnectionManagerConfig::ServerHeader::PassThrough:
        break;
    }
    if (c.always_set_request_id_in_response && !info_.request_id.empty()) {
      h.headers.set("x-request-id", info_.request_id);
    }
  }

  void countStatus(uint32_t status) {
    switch (status / 100) {
      case 1:
        stats_.downstream_rq_1xx.inc();
        break;
      case 2:
        stats_.downstream_rq_2xx.inc();
        break;
      case 3:
        stats_.downstream_rq_3xx.inc();
        break;
      case 4:
        stats_.downstream_rq_4xx.inc();
        break;
      default:
        stats_.downstream_rq_5xx.inc();
        break;
    }
  }

  void responseComplete() {
    response_complete_ = true;
    stats_.downstream_rq_completed.inc();
    maybeFinish();
  }

  // Done when the response is complete. A request still being received then is not read
  // further: the connection (HTTP/1.1) closes after the response, as Envoy does.
  void maybeFinish() {
    if (response_complete_) finish();
  }

  void finish() {
    if (done_) return;
    done_ = true;
    idle_timer_.disable();
    request_timer_.disable();
    info_.end_mono_ms = worker_.loop().now();
    for (auto& f : filters_) f->onDestroy();
    filters_destroyed_ = true;
    for (const auto& log : shared_.access_logs) log->log(worker_.accessLogs(), request_, info_);
    if (shared_.request_metrics && info_.response_code != 0) {
      shared_.request_metrics->record(worker_.index(), info_.downstream_tls, info_.response_code,
                                      info_.flags, conn_info_.metrics_cache);
    }
    encoder_.streamDone();
  }

  void armIdle() {
    uint64_t ms = static_cast<uint64_t>(shared_.config.stream_idle_timeout.count());
    if (route_ != nullptr && route_->config().route.idle_timeout) {
      ms = static_cast<uint64_t>(route_->config().route.idle_timeout->count());
    }
    // 0: disabled (the route can turn it off). Re-arming is a list append (event::Timeout).
    idle_timer_.enable(ms);
  }

  void onIdleTimeout() {
    stats_.downstream_rq_idle_timeout.inc();
    info_.setFlag(ResponseFlag::StreamIdleTimeout);
    // Waiting for the client: 408; waiting for the upstream: 504 (Envoy's choice).
    sendLocalReply(request_complete_ ? 504 : 408, "stream timeout", std::nullopt,
                   "stream_idle_timeout");
  }

  void onRequestTimeout() {
    if (request_complete_) return;
    stats_.downstream_rq_timeout.inc();
    sendLocalReply(408, "request timeout", std::nullopt, "request_overall_timeout");
  }

  const ConnManagerShared& shared_;
  server::Worker& worker_;
  ResponseEncoder& encoder_;
  const server::ConnectionInfo& conn_info_;  // the connection outlives its streams
  ConnManagerStats& stats_;
  bool secure_;
  StreamInfo info_;
  RequestHeaders request_;
  absl::InlinedVector<HttpFilterPtr, 4> filters_;
  std::shared_ptr<const RouteTable> route_table_;  // keeps route_ valid for the stream
  const Route* route_ = nullptr;
  bool route_cached_ = false;
  int decode_stopped_at_ = -1;
  std::string held_body_;
  bool held_end_ = false;
  bool request_complete_ = false;
  bool response_started_ = false;
  bool response_complete_ = false;
  bool done_ = false;
  bool filters_destroyed_ = false;
  event::Timeout idle_timer_;
  event::Timeout request_timer_;  // armed when request_timeout is set
};

}  // namespace remora::http
