// The HTTP connection manager: streams, filters, local replies; the HTTP/1.1 downstream.
#include "proxy/http/conn_manager.h"

#include <sys/time.h>

#include <random>

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/http/access_log.h"
#include "proxy/http/active_stream.h"
#include "proxy/http/http1_parser.h"
#include "proxy/http/http2_server.h"
#include "proxy/http/route_table.h"
#include "proxy/net/connection.h"
#include "proxy/server/worker.h"

namespace remora::http {
namespace {

std::mt19937_64& rng() {
  static thread_local std::mt19937_64 r{std::random_device{}()};
  return r;
}

}  // namespace

void writeRequestId(char* out) {
  // 8-4-4-4-12 hex digits of 128 random bits, version 4, variant 10 (hand-formatted: this runs
  // per request, snprintf showed in profiles).
  uint64_t a = rng()(), b = rng()();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  static constexpr char kHex[] = "0123456789abcdef";
  size_t pos = 0;
  auto put = [&](uint64_t v, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) out[pos++] = '-';
      out[pos++] = kHex[(v >> (4 * i)) & 15];
    }
  };
  put(a, 16);
  put(b, 16);
}

std::string newRequestId() {
  std::string out(kRequestIdSize, '-');
  writeRequestId(out.data());
  return out;
}

std::shared_ptr<const RouteTable> ConnManagerShared::routeTable(server::Worker& worker) const {
  if (route_table) return route_table;
  const auto& routes = worker.snapshot().routes;
  auto it = routes.find(config.rds_name);
  return it == routes.end() ? nullptr : it->second;
}

// --- Http1ServerConnection: the HTTP/1.1 downstream ---

class Http1ServerConnection : public server::Session,
                              public net::Connection::Callbacks,
                              public event::EndOfIteration,
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
        idle_timer_(worker.loop().timeouts(), [this] { onIdleTimeout(); }),
        headers_timer_(worker.loop().timeouts(), [this] { onHeadersTimeout(); }) {
    worker_.addSession(this, info.listener);
    conn_->setCallbacks(this);
    stats_.downstream_cx_total.inc();
    stats_.downstream_cx_http1_total.inc();
    stats_.downstream_cx_active.add();
  }

  void start(std::string_view initial = {}) {
    conn_->readEnable(true);
    armIdle();
    if (!initial.empty()) dispatch(initial);
  }

  // --- server::Session ---
  void abort() override { close(net::Connection::CloseMode::Abort); }
  void drain() override {
    close_after_ = true;  // the response in flight says "connection: close"
    if (stream_ == nullptr && !parser_.inMessage()) close(net::Connection::CloseMode::Flush);
  }

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
    worker_.loop().cancelEndOfIteration(this);
    worker_.removeSession(this);
    delete this;
  }

  // --- event::EndOfIteration: the next request, once the previous stream is off the stack ---
  void runEndOfIteration() override { nextRequest(); }

  // --- Http1Parser::Callbacks ---
  void onRequestHeaders(RequestHeaders&& headers, bool end_stream) override {
    headers_timer_.disable();
    idle_timer_.disable();
    stats_.downstream_rq_http1_total.inc();
    request_end_seen_ = end_stream;
    stream_ = std::make_unique<ActiveStream>(*shared_, worker_, *this, info_, stats_,
                                             headers.http_minor == 0 ? "HTTP/1.0" : "HTTP/1.1",
                                             info_.tls != nullptr);
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
  void encodeHeaders(ResponseHeaders& h, bool end_stream) override {
    if (conn_ == nullptr) return;
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
    std::string& head = headScratch();
    encodeResponseHead(h, head_request_ || no_body_status ? BodyFraming::None : framing_,
                       http_minor_, close, &head);
    conn_->writeCopy(head);
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
    worker_.loop().deferToEndOfIteration(this);
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
    worker_.loop().cancelEndOfIteration(this);
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
  event::Timeout idle_timer_;
  event::Timeout headers_timer_;
};

// --- Codec detection (codec_type AUTO) ---

// Reads until the first bytes tell HTTP/2's connection preface from anything else, then hands
// the connection and those bytes to the codec. Only peeks: nothing is consumed or changed.
class CodecDetector : public server::Session, public net::Connection::Callbacks {
 public:
  CodecDetector(std::shared_ptr<const ConnManagerShared> shared, server::Worker& worker,
                net::Connection* conn, const server::ConnectionInfo& info)
      : shared_(std::move(shared)), worker_(worker), conn_(conn), info_(info) {
    worker_.addSession(this, info.listener);
    conn_->setCallbacks(this);
    conn_->readEnable(true);
  }
  void start(std::string_view initial) {
    if (!initial.empty()) consider(initial);
  }
  void abort() override { conn_->close(net::Connection::CloseMode::Abort); }
  void onData(net::Connection&, event::Block* block) override {
    std::string data(block->begin(), block->len);
    worker_.loop().blocks().release(block);  // before consider(): it may free this
    consider(data);
  }
  void consider(std::string_view data) {
    seen_.append(data);
    static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    size_t n = std::min(seen_.size(), kPreface.size());
    bool h2 = std::string_view(seen_).substr(0, n) == kPreface.substr(0, n);
    if (h2 && seen_.size() < kPreface.size()) return;  // not sure yet
    handOver(h2);
  }
  void onEof(net::Connection&) override { conn_->close(net::Connection::CloseMode::Flush); }
  void onError(net::Connection&, int) override { conn_->close(net::Connection::CloseMode::Abort); }
  void onClosed(net::Connection&) override {
    worker_.removeSession(this);
    delete this;
  }

 private:
  void handOver(bool h2) {
    worker_.removeSession(this);
    std::string seen = std::move(seen_);
    if (h2) {
      startHttp2Server(shared_, worker_, conn_, info_, seen);
    } else {
      auto* c = new Http1ServerConnection(shared_, worker_, conn_, info_);
      c->start(seen);
    }
    delete this;
  }

  std::shared_ptr<const ConnManagerShared> shared_;
  server::Worker& worker_;
  net::Connection* conn_;
  server::ConnectionInfo info_;
  std::string seen_;
};

void ConnManagerFactory::onAccept(server::Worker& worker, net::Connection* conn,
                                  const server::ConnectionInfo& info) {
  // Bytes a listener filter (http_inspector) read already are the codec's first bytes.
  std::string_view initial = info.initial_data;
  auto codec = shared_->config.codec;
  if (codec == config::HttpConnectionManagerConfig::Codec::Auto) {
    // The inspector may already know; else the first bytes decide.
    for (const auto& p : info.application_protocols) {
      if (p == "h2c") codec = config::HttpConnectionManagerConfig::Codec::Http2;
      if (p == "http/1.1" || p == "http/1.0")
        codec = config::HttpConnectionManagerConfig::Codec::Http1;
    }
  }
  switch (codec) {
    case config::HttpConnectionManagerConfig::Codec::Http1: {
      auto* c = new Http1ServerConnection(shared_, worker, conn, info);
      c->start(initial);
      return;
    }
    case config::HttpConnectionManagerConfig::Codec::Http2:
      startHttp2Server(shared_, worker, conn, info, initial);
      return;
    case config::HttpConnectionManagerConfig::Codec::Auto: {
      auto* d = new CodecDetector(shared_, worker, conn, info);
      d->start(initial);
      return;
    }
  }
}

}  // namespace remora::http
