// The HTTP connection manager: streams, filters, local replies; the HTTP/1.1 downstream.
#include "proxy/http/conn_manager.h"

#include <sys/time.h>

#include <random>

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/http/access_log.h"
#include "proxy/http/http1_parser.h"
#include "proxy/http/route_table.h"
#include "proxy/net/connection.h"
#include "proxy/server/worker.h"

namespace remora::http {
namespace {

uint64_t wallMs() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<uint64_t>(tv.tv_sec) * 1000 + static_cast<uint64_t>(tv.tv_usec) / 1000;
}

std::mt19937_64& rng() {
  static thread_local std::mt19937_64 r{std::random_device{}()};
  return r;
}

}  // namespace

std::string newRequestId() {
  uint64_t a = rng()(), b = rng()();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  char buf[37];
  snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
           static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
           static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

const RouteTable* ConnManagerShared::routeTable(server::Worker& worker) const {
  if (route_table) return route_table.get();
  return worker.snapshot().routeTable(config.rds_name);
}

// What a stream needs from its connection (HTTP/1.1 now, HTTP/2 later).
class ResponseEncoder {
 public:
  virtual ~ResponseEncoder() = default;
  virtual void encodeHeaders(const ResponseHeaders& headers, bool end_stream) = 0;
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

class ActiveStream : public FilterCallbacks {
 public:
  ActiveStream(const ConnManagerShared& shared, server::Worker& worker, ResponseEncoder& encoder,
               const server::ConnectionInfo& info, ConnManagerStats& stats, std::string protocol,
               bool secure)
      : shared_(shared),
        worker_(worker),
        encoder_(encoder),
        stats_(stats),
        secure_(secure),
        idle_timer_(worker.loop().uv(), [this] { onIdleTimeout(); }),
        request_timer_(worker.loop().uv(), [this] { onRequestTimeout(); }) {
    info_.start_ms = wallMs();
    info_.start_mono_ms = worker.loop().now();
    info_.protocol = std::move(protocol);
    info_.downstream_local = info.original_dst ? *info.original_dst : info.local;
    info_.downstream_remote = info.peer;
    for (const auto& f : shared_.filters) {
      filters_.push_back(f->create());
      filters_.back()->setCallbacks(this);
    }
    stats_.downstream_rq_total.inc();
    stats_.downstream_rq_active.add();
    armIdle();
    if (shared_.config.request_timeout.count() > 0) {
      request_timer_.enable(static_cast<uint64_t>(shared_.config.request_timeout.count()));
    }
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
      const RouteTable* table = shared_.routeTable(worker_);
      route_ = table == nullptr ? nullptr : table->route(request_);
      if (route_ != nullptr) info_.route_name = route_->config().name;
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
    if (!shared_.access_logs.empty()) info_.response_headers = headers.headers;
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
        const std::string* xff = h.get("x-forwarded-for");
        h.set("x-forwarded-for", xff == nullptr ? peer : cat(*xff, ", ", peer));
      }
      h.set("x-forwarded-proto", secure_ ? "https" : "http");
    } else if (!h.has("x-forwarded-proto")) {
      h.add("x-forwarded-proto", secure_ ? "https" : "http");
    }
    // x-request-id: kept when present (unless the edge does not trust it), else generated.
    const std::string* rid = h.get("x-request-id");
    bool regenerate =
        rid == nullptr || rid->empty() || (c.use_remote_address && !c.preserve_external_request_id);
    if (regenerate && c.generate_request_id) {
      h.set("x-request-id", newRequestId());
      rid = h.get("x-request-id");
    }
    if (rid != nullptr) info_.request_id = *rid;
    if (!c.via.empty()) {
      const std::string* via = h.get("via");
      h.set("via", via == nullptr ? c.via : cat(*via, ", ", c.via));
    }
    if (request_.method == "CONNECT") {
      // CONNECT and upgrades are refused until upgrade_configs are supported.
      sendLocalReply(403, "", std::nullopt, "upgrade_failed");
      return;
    }
    if (const std::string* upgrade = h.get("upgrade"); upgrade != nullptr) {
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
    for (const auto& log : shared_.access_logs) log->log(request_, info_);
    encoder_.streamDone();
  }

  void armIdle() {
    uint64_t ms = static_cast<uint64_t>(shared_.config.stream_idle_timeout.count());
    if (route_ != nullptr && route_->config().route.idle_timeout) {
      ms = static_cast<uint64_t>(route_->config().route.idle_timeout->count());
    }
    if (ms > 0) idle_timer_.enable(ms);
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
  ConnManagerStats& stats_;
  bool secure_;
  StreamInfo info_;
  RequestHeaders request_;
  std::vector<HttpFilterPtr> filters_;
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
  event::Timer idle_timer_;
  event::Timer request_timer_;
};

// --- Http1ServerConnection: the HTTP/1.1 downstream ---

class Http1ServerConnection : public server::Session,
                              public net::Connection::Callbacks,
                              public Http1Parser::Callbacks,
                              public ResponseEncoder {
 public:
  Http1ServerConnection(std::shared_ptr<const ConnManagerShared> shared, server::Worker& worker,
                        net::Connection* conn, const server::ConnectionInfo& info)
      : shared_(std::move(shared)),
        worker_(worker),
        conn_(conn),
        info_(info),
        stats_(shared_->stats->shard(worker.index())),
        parser_(Http1Parser::Mode::Request,
                Http1Limits{shared_->config.max_request_headers_kb * 1024,
                            shared_->config.max_headers_count},
                *this),
        idle_timer_(worker.loop().uv(), [this] { onIdleTimeout(); }),
        headers_timer_(worker.loop().uv(), [this] { onHeadersTimeout(); }),
        next_timer_(worker.loop().uv(), [this] { nextRequest(); }) {
    worker_.addSession(this, info.listener);
    conn_->setCallbacks(this);
    stats_.downstream_cx_total.inc();
    stats_.downstream_cx_http1_total.inc();
    stats_.downstream_cx_active.add();
  }

  void start() {
    conn_->readEnable(true);
    armIdle();
  }

  // --- server::Session ---
  void abort() override { close(net::Connection::CloseMode::Abort); }

  // --- net::Connection::Callbacks ---
  void onData(net::Connection&, event::Block* block) override {
    std::string_view data(block->begin(), block->len);
    if (!closing_) {
      if (!pending_.empty() || parser_.paused() || dying_) {
        // A pipelined request behind the current one: kept (one block at most) until the
        // current response is done; reading stops meanwhile.
        pending_.append(data);
        conn_->readEnable(false);
      } else {
        dispatch(data);
      }
    }
    worker_.loop().blocks().release(block);
  }

  void onEof(net::Connection&) override {
    if (stream_ != nullptr && !stream_->done()) {
      if (!stream_->requestDone()) {
        stats_.downstream_cx_destroy_remote_active_rq.inc();
        stream_->onDownstreamReset();
        close(net::Connection::CloseMode::Abort);
        return;
      }
      close_after_ = true;  // answer what was asked, then close
      return;
    }
    close(net::Connection::CloseMode::Flush);
  }

  void onError(net::Connection&, int) override {
    if (stream_ != nullptr && !stream_->done()) {
      stats_.downstream_cx_destroy_remote_active_rq.inc();
      stream_->onDownstreamReset();
    }
    close(net::Connection::CloseMode::Abort);
  }

  void onAboveWriteWatermark(net::Connection&) override {}
  void onBelowWriteWatermark(net::Connection&) override {
    if (stream_ != nullptr && !stream_->done()) stream_->onDownstreamWritable();
  }

  void onClosed(net::Connection&) override {
    conn_ = nullptr;
    if (stream_ != nullptr && !stream_->done()) stream_->onDownstreamReset();
    stream_.reset();
    dying_.reset();
    stats_.downstream_cx_active.sub();
    worker_.removeSession(this);
    delete this;
  }

  // --- Http1Parser::Callbacks ---
  void onRequestHeaders(RequestHeaders&& headers, bool end_stream) override {
    headers_timer_.disable();
    idle_timer_.disable();
    stats_.downstream_rq_http1_total.inc();
    request_end_seen_ = end_stream;
    stream_ =
        std::make_unique<ActiveStream>(*shared_, worker_, *this, info_, stats_,
                                       headers.http_minor == 0 ? "HTTP/1.0" : "HTTP/1.1", false);
    head_request_ = headers.method == "HEAD";
    http_minor_ = headers.http_minor;
    removeHopByHop(headers.headers);
    if (parser_.expectContinue()) {
      // Envoy answers 100-continue itself and does not pass Expect upstream.
      headers.headers.remove("expect");
      if (!end_stream) encode100Continue();
    }
    stream_->decodeHeaders(std::move(headers), end_stream);
  }

  void onBody(std::string_view data) override {
    if (stream_ != nullptr) stream_->decodeData(data, false);
  }

  void onMessageComplete(HeaderMap&& trailers) override {
    if (stream_ == nullptr || request_end_seen_) return;
    request_end_seen_ = true;
    if (!trailers.empty()) {
      stream_->decodeTrailers(std::move(trailers));
    } else {
      stream_->decodeData({}, true);
    }
  }

  // --- ResponseEncoder ---
  void encodeHeaders(const ResponseHeaders& headers, bool end_stream) override {
    if (conn_ == nullptr) return;
    ResponseHeaders h = headers;
    removeHopByHop(h.headers);
    bool no_body_status = h.status == 204 || h.status == 304 || (h.status >= 100 && h.status < 200);
    if (h.headers.has("content-length")) {
      framing_ = BodyFraming::ContentLength;
    } else if (end_stream) {
      framing_ = BodyFraming::None;
      if (!no_body_status) h.headers.add("content-length", "0");
    } else if (http_minor_ >= 1) {
      framing_ = BodyFraming::Chunked;
    } else {
      framing_ = BodyFraming::UntilClose;
      close_after_ = true;
    }
    if (head_request_ || no_body_status) framing_ = BodyFraming::None;
    bool close = close_after_ || !parser_.keepAlive() || !request_end_seen_ ||
                 framing_ == BodyFraming::UntilClose;
    if (close) close_after_ = true;
    conn_->writeCopy(encodeResponseHead(
        h, head_request_ || no_body_status ? BodyFraming::None : framing_, http_minor_, close));
  }

  void encodeData(std::string_view data, bool end_stream) override {
    if (conn_ == nullptr) return;
    if (framing_ == BodyFraming::Chunked) {
      if (!data.empty()) {
        conn_->writeCopy(chunkHeader(data.size()));
        conn_->writeCopy(data);
        conn_->writeCopy("\r\n");
      }
      if (end_stream) conn_->writeCopy(lastChunk({}));
    } else if (framing_ != BodyFraming::None && !data.empty()) {
      conn_->writeCopy(data);
    }
  }

  void encodeTrailers(const HeaderMap& trailers) override {
    if (conn_ == nullptr) return;
    if (framing_ == BodyFraming::Chunked) conn_->writeCopy(lastChunk(trailers));
  }

  void encode100Continue() override {
    if (conn_ != nullptr) conn_->writeCopy("HTTP/1.1 100 Continue\r\n\r\n");
  }

  void resetStream() override { close(net::Connection::CloseMode::Abort); }
  bool writable() const override { return conn_ != nullptr && !conn_->aboveWriteWatermark(); }
  void readDisable(bool disable) override {
    if (conn_ != nullptr && !closing_) conn_->readEnable(!disable);
  }

  void streamDone() override {
    // The stream may still be on the call stack: free it on the next loop iteration.
    dying_ = std::move(stream_);
    if (close_after_ || !request_end_seen_ || parser_.failed()) {
      close(net::Connection::CloseMode::Flush);
      return;
    }
    next_timer_.enable(0);
  }

 private:
  void dispatch(std::string_view data) {
    if (!parser_.inMessage() && stream_ == nullptr && !data.empty() &&
        shared_->config.request_headers_timeout.count() > 0 && !headers_timer_.enabled()) {
      headers_timer_.enable(static_cast<uint64_t>(shared_->config.request_headers_timeout.count()));
    }
    while (!data.empty() && !closing_) {
      size_t used = parser_.feed(data);
      data.remove_prefix(used);
      if (parser_.failed()) {
        protocolError();
        return;
      }
      if (parser_.paused()) {
        // One request at a time: the rest waits for this response.
        pending_.append(data);
        if (!pending_.empty()) conn_->readEnable(false);
        return;
      }
    }
  }

  // The previous stream is finished: take the next request, if it is already here.
  void nextRequest() {
    dying_.reset();
    if (closing_ || conn_ == nullptr) return;
    parser_.resume();
    armIdle();
    std::string pending = std::move(pending_);
    pending_.clear();
    conn_->readEnable(true);
    if (!pending.empty()) dispatch(pending);
  }

  void protocolError() {
    const Http1Parser::Error& e = parser_.error();
    stats_.downstream_cx_protocol_error.inc();
    if (e.status == 431) stats_.downstream_rq_too_large.inc();
    REMORA_LOG(Debug, "[C%d] %s", conn_->id(), e.detail);
    if (stream_ != nullptr && !stream_->done()) {
      // Mid-request (a bad chunk, say): the stream answers if it still can.
      stream_->streamInfo().setFlag(ResponseFlag::DownstreamProtocolError);
      close_after_ = true;
      stream_->sendLocalReply(e.status, reasonPhrase(e.status), std::nullopt, e.detail);
      if (stream_ != nullptr && !stream_->done())
        stream_->resetStream(ResponseFlag::DownstreamProtocolError, e.detail);
      return;
    }
    std::string body(reasonPhrase(e.status));
    ResponseHeaders h;
    h.status = e.status;
    h.headers.add("content-length", cat(body.size()));
    h.headers.add("content-type", "text/plain");
    conn_->writeCopy(encodeResponseHead(h, BodyFraming::ContentLength, 1, true));
    conn_->writeCopy(body);
    switch (e.status / 100) {
      case 4:
        stats_.downstream_rq_4xx.inc();
        break;
      default:
        stats_.downstream_rq_5xx.inc();
        break;
    }
    close(net::Connection::CloseMode::Flush);
  }

  void armIdle() {
    uint64_t ms = static_cast<uint64_t>(shared_->config.idle_timeout.count());
    if (ms > 0) idle_timer_.enable(ms);
  }

  void onIdleTimeout() {
    if (stream_ != nullptr) return;
    stats_.downstream_cx_idle_timeout.inc();
    close(net::Connection::CloseMode::Flush);
  }

  void onHeadersTimeout() {
    if (stream_ != nullptr || closing_) return;
    stats_.downstream_rq_header_timeout.inc();
    std::string body = "request header timeout";
    ResponseHeaders h;
    h.status = 408;
    h.headers.add("content-length", cat(body.size()));
    h.headers.add("content-type", "text/plain");
    conn_->writeCopy(encodeResponseHead(h, BodyFraming::ContentLength, 1, true));
    conn_->writeCopy(body);
    close(net::Connection::CloseMode::Flush);
  }

  void close(net::Connection::CloseMode mode) {
    if (closing_ || conn_ == nullptr) return;
    closing_ = true;
    idle_timer_.disable();
    headers_timer_.disable();
    next_timer_.disable();
    conn_->close(mode);
  }

  std::shared_ptr<const ConnManagerShared> shared_;
  server::Worker& worker_;
  net::Connection* conn_;
  server::ConnectionInfo info_;
  ConnManagerStats& stats_;
  Http1Parser parser_;
  std::unique_ptr<ActiveStream> stream_;
  std::unique_ptr<ActiveStream> dying_;
  std::string pending_;
  BodyFraming framing_ = BodyFraming::None;
  int http_minor_ = 1;
  bool head_request_ = false;
  bool request_end_seen_ = false;
  bool close_after_ = false;
  bool closing_ = false;
  event::Timer idle_timer_;
  event::Timer headers_timer_;
  event::Timer next_timer_;
};

void ConnManagerFactory::onAccept(server::Worker& worker, net::Connection* conn,
                                  const server::ConnectionInfo& info) {
  // HTTP/2 arrives with the next step; until then every connection is HTTP/1.1.
  auto* c = new Http1ServerConnection(shared_, worker, conn, info);
  c->start();
}

}  // namespace remora::http
