// HTTP/2 server connections.
#include "proxy/http/http2_server.h"

#include <nghttp2/nghttp2.h>

#include <map>
#include <vector>

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/common/thread_cache.h"
#include "proxy/http/active_stream.h"
#include "proxy/http/nghttp2_mem.h"

namespace remora::http {
namespace {

// Envoy's flood limits (INTEROP.md).
constexpr uint32_t kMaxConsecutiveEmptyFrames = 1;
constexpr uint32_t kMaxPriorityFramesPerStream = 100;
constexpr uint32_t kMaxWindowUpdatesPerDataFrameSent = 10;
constexpr uint32_t kMaxOutboundControlFrames = 1000;  // unacknowledged PING/SETTINGS acks
constexpr uint32_t kPrematureResetMinStreams = 500;
constexpr size_t kMaxContinuations = 8;
// Response bytes a stream may hold for a peer that does not open its window, and all streams
// together; past them the upstream is not read (backpressure).
constexpr size_t kStreamOutputLimit = 1 << 20;
constexpr size_t kConnectionOutputLimit = 16 << 20;

class Http2ServerConnection;

// Response-body buffers of finished streams, per thread, up to 1 MiB: a stream's first DATA
// takes one instead of allocating (hundreds of streams may be in flight on one worker).
constexpr size_t kBodyPoolBytes = kThreadCacheEnabled ? 1 << 20 : 0;
constexpr size_t kBodyBufferMax = 64 << 10;  // a larger buffer is freed, not kept
struct BodyPool {
  std::vector<std::string> free;
  size_t bytes = 0;
};
BodyPool* bodyPool() { return PerThread<BodyPool>::get(); }
void takeBodyBuffer(std::string* out) {
  BodyPool* p = bodyPool();
  if (p == nullptr || p->free.empty()) return;
  *out = std::move(p->free.back());
  p->free.pop_back();
  p->bytes -= out->capacity();
}
void recycleBodyBuffer(std::string* buf) {
  constexpr size_t kInline = std::string().capacity();
  size_t cap = buf->capacity();
  if (cap <= kInline || cap > kBodyBufferMax) return;
  BodyPool* p = bodyPool();
  if (p == nullptr || p->bytes + cap > kBodyPoolBytes) return;
  buf->clear();
  p->bytes += cap;
  p->free.push_back(std::move(*buf));
}

struct H2Stream : public ResponseEncoder, public ThreadCached<H2Stream> {
  H2Stream(Http2ServerConnection& c, int32_t stream_id) : conn(c), id(stream_id) {}
  ~H2Stream() override { recycleBodyBuffer(&out); }

  // --- ResponseEncoder ---
  void encodeHeaders(ResponseHeaders& headers, bool end_stream) override;
  void encodeData(std::string_view data, bool end_stream) override;
  void encodeTrailers(const HeaderMap& trailers) override;
  void encode100Continue() override;
  void resetStream() override;
  bool writable() const override;
  void readDisable(bool disable) override;
  void streamDone() override;

  Http2ServerConnection& conn;
  int32_t id;
  std::unique_ptr<ActiveStream> active;
  RequestHeaders request;
  size_t header_bytes = 0;
  bool headers_done = false;
  HeaderMap trailers;
  // Response body waiting for the peer's flow-control window.
  std::string out;
  size_t out_offset = 0;
  bool out_end = false;
  bool out_trailers = false;
  HeaderMap pending_trailers;
  bool deferred = false;
  bool response_submitted = false;
  // Request body delivered but not yet acknowledged to the peer (the upstream is full).
  size_t unconsumed = 0;
  bool read_disabled = false;
  bool remote_done = false;
  bool local_done = false;
  mutable bool blocked = false;  // writable() said no since the last notification
};

class Http2ServerConnection : public server::Session,
                              public net::Connection::Callbacks,
                              public event::EndOfIteration {
 public:
  Http2ServerConnection(std::shared_ptr<const ConnManagerShared> shared, server::Worker& worker,
                        net::Connection* conn, const server::ConnectionInfo& info)
      : shared_(std::move(shared)),
        worker_(worker),
        conn_(conn),
        info_(info),
        stats_(shared_->stats->shard(worker.index())),
        idle_timer_(worker.loop().timeouts(), [this] { onIdleTimeout(); }) {
    worker_.addSession(this, info.listener);
    conn_->setCallbacks(this);
    stats_.downstream_cx_total.inc();
    stats_.downstream_cx_http2_total.inc();
    stats_.downstream_cx_active.add();

    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &onBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(cb, &onHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &onFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &onDataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &onStreamClose);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, &onFrameSend);
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb, &onBeginFrame);
    nghttp2_option* opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, 1);  // window follows the upstream
    nghttp2_option_set_max_outbound_ack(opt, kMaxOutboundControlFrames);
    nghttp2_option_set_max_continuations(opt, kMaxContinuations);
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_session_server_new3(&session_, cb, this, opt, nghttp2Allocator());
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);

    const auto& c = shared_->config;
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, c.h2_max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
         std::min<uint32_t>(c.h2_initial_stream_window_size, NGHTTP2_MAX_WINDOW_SIZE)},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, c.max_request_headers_kb * 1024},
    };
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 3);
    int32_t conn_window = static_cast<int32_t>(
        std::min<uint32_t>(c.h2_initial_connection_window_size, NGHTTP2_MAX_WINDOW_SIZE));
    if (conn_window > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE) {
      nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, conn_window);
    }
  }

  ~Http2ServerConnection() override { nghttp2_session_del(session_); }

  void start(std::string_view initial) {
    conn_->readEnable(true);
    armIdle();
    if (!initial.empty()) receive(initial);
    flush();
  }

  // --- server::Session ---
  void abort() override { close(net::Connection::CloseMode::Abort); }
  // GOAWAY (NO_ERROR): streams already open finish; the connection closes after the last.
  void drain() override {
    if (goaway_sent_ || conn_ == nullptr) return;
    goaway_sent_ = true;
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    flush();
    if (streams_.empty()) close(net::Connection::CloseMode::Flush);
  }

  // --- net::Connection::Callbacks ---
  void onData(net::Connection&, event::Block* block) override {
    std::string_view data(block->begin(), block->len);
    if (!closing_) receive(data);
    worker_.loop().blocks().release(block);
    flush();
  }
  void onEof(net::Connection&) override { close(net::Connection::CloseMode::Flush); }
  void onError(net::Connection&, int) override { close(net::Connection::CloseMode::Abort); }
  void onAboveWriteWatermark(net::Connection&) override {
    // The peer is not reading what we send: stop reading what it sends (bounds every queue).
    conn_->readEnable(false);
  }
  void onBelowWriteWatermark(net::Connection&) override {
    if (closing_) return;
    conn_->readEnable(true);
    notifyWritable();
  }
  void onClosed(net::Connection&) override {
    conn_ = nullptr;
    for (auto& [id, s] : streams_) {
      if (s->active && !s->active->done()) s->active->onDownstreamReset();
    }
    streams_.clear();
    dying_.clear();
    stats_.downstream_cx_active.sub();
    worker_.loop().cancelEndOfIteration(this);
    worker_.removeSession(this);
    delete this;
  }

  // event::EndOfIteration: finished streams are off the call stack now.
  void runEndOfIteration() override { dying_.clear(); }

  void markWritable(int32_t id) { writable_ids_.push_back(id); }

  // Writes what nghttp2 has queued.
  void flush() {
    if (conn_ == nullptr || closing_now_) return;
    if (flushing_) return;  // re-entered from a writable notification below: the loop goes on
    flushing_ = true;
    for (;;) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) {
        flushing_ = false;
        close(net::Connection::CloseMode::Abort);
        return;
      }
      if (n == 0) {
        if (writable_ids_.empty() || conn_ == nullptr) break;
        // Streams that have room again resume their upstreams; what they send comes round
        // in this loop.
        std::vector<int32_t> ids;
        ids.swap(writable_ids_);
        for (int32_t id : ids) {
          auto it = streams_.find(id);
          if (it != streams_.end() && it->second->active && !it->second->active->done()) {
            it->second->active->onDownstreamWritable();
          }
        }
        continue;
      }
      conn_->writeCopy(
          std::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(n)));
    }
    flushing_ = false;
    if (conn_ != nullptr && !nghttp2_session_want_read(session_) &&
        !nghttp2_session_want_write(session_)) {
      close(net::Connection::CloseMode::Flush);
    }
  }

  nghttp2_session* session() { return session_; }
  ConnManagerStats& stats() { return stats_; }
  size_t pendingOutput() const { return pending_output_; }
  void addPendingOutput(ptrdiff_t d) {
    pending_output_ = static_cast<size_t>(static_cast<ptrdiff_t>(pending_output_) + d);
  }
  bool connectionWritable() const {
    return conn_ != nullptr && !conn_->aboveWriteWatermark() &&
           pending_output_ < kConnectionOutputLimit;
  }

  // A finished stream leaves on the next loop iteration (it may be on the call stack).
  void retire(int32_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    dying_.push_back(std::move(it->second));
    streams_.erase(it);
    worker_.loop().deferToEndOfIteration(this);
    if (streams_.empty()) {
      if (goaway_sent_) {
        close(net::Connection::CloseMode::Flush);  // drained
      } else {
        armIdle();
      }
    }
  }

  void notifyWritable() {
    std::vector<int32_t> ids;
    for (const auto& [id, s] : streams_) ids.push_back(id);
    for (int32_t id : ids) {
      auto it = streams_.find(id);
      if (it != streams_.end() && it->second->active && !it->second->active->done() &&
          it->second->writable()) {
        it->second->active->onDownstreamWritable();
      }
    }
  }

 private:
  void receive(std::string_view data) {
    ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(data.data()),
                                          data.size());
    if (rv < 0) {
      if (rv == NGHTTP2_ERR_FLOODED) {
        stats_.http2_outbound_control_flood.inc();
        goaway(NGHTTP2_ENHANCE_YOUR_CALM);
      } else if (!flooded_) {
        stats_.http2_protocol_error.inc();
        REMORA_LOG(Debug, "[C%d] http2: %s", conn_->id(), nghttp2_strerror(static_cast<int>(rv)));
        goaway(NGHTTP2_PROTOCOL_ERROR);
      }
    }
  }

  void goaway(uint32_t code) {
    if (goaway_sent_ || conn_ == nullptr) {
      close(net::Connection::CloseMode::Flush);
      return;
    }
    goaway_sent_ = true;
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_), code, nullptr, 0);
    flush();
    close(net::Connection::CloseMode::Flush);
  }

  // A flood: count it, GOAWAY ENHANCE_YOUR_CALM, close. Returns the nghttp2 error that stops
  // the current mem_recv.
  int flood(stats::Counter& counter, std::string_view what) {
    if (!flooded_) {
      flooded_ = true;
      counter.inc();
      REMORA_LOG(Debug, "[C%d] http2: %s flood; closing", conn_ ? conn_->id() : 0, what);
      goaway(NGHTTP2_ENHANCE_YOUR_CALM);
    }
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }

  H2Stream* stream(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }

  static Http2ServerConnection* self(void* p) { return static_cast<Http2ServerConnection*>(p); }

  static int onBeginFrame(nghttp2_session*, const nghttp2_frame_hd* hd, void* p) {
    auto* c = self(p);
    if (hd->type == NGHTTP2_DATA) {
      // Empty DATA frames without END_STREAM do nothing but cost CPU.
      if (hd->length == 0 && (hd->flags & NGHTTP2_FLAG_END_STREAM) == 0) {
        if (++c->consecutive_empty_ > kMaxConsecutiveEmptyFrames) {
          return c->flood(c->stats_.http2_inbound_empty_frames_flood, "empty DATA");
        }
      } else {
        c->consecutive_empty_ = 0;
      }
    } else if (hd->type == NGHTTP2_PRIORITY) {
      if (++c->priority_frames_ > kMaxPriorityFramesPerStream * (1 + c->streams_opened_)) {
        return c->flood(c->stats_.http2_inbound_priority_frames_flood, "PRIORITY");
      }
    } else if (hd->type == NGHTTP2_WINDOW_UPDATE) {
      uint64_t limit = 1 + 2 * (c->streams_opened_ + 1) +
                       kMaxWindowUpdatesPerDataFrameSent * (c->data_frames_sent_ + 1);
      if (++c->window_updates_ > limit) {
        return c->flood(c->stats_.http2_inbound_window_update_frames_flood, "WINDOW_UPDATE");
      }
    }
    return 0;
  }

  static int onBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* p) {
    auto* c = self(p);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    if (c->goaway_sent_) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                NGHTTP2_REFUSED_STREAM);
      return 0;
    }
    ++c->streams_opened_;
    c->idle_timer_.disable();
    auto s = std::make_unique<H2Stream>(*c, frame->hd.stream_id);
    s->request.scheme.clear();
    c->streams_[frame->hd.stream_id] = std::move(s);
    return 0;
  }

  static int onHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* p) {
    auto* c = self(p);
    H2Stream* s = c->stream(frame->hd.stream_id);
    if (s == nullptr) return 0;
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    // RFC 9113 header list size: name + value + 32 per field. An HPACK bomb decodes to far
    // more than it sends; it stops here, at the limit, with a stream error.
    s->header_bytes += namelen + valuelen + 32;
    size_t count = s->request.headers.size() + s->trailers.size();
    if (s->header_bytes > c->shared_->config.max_request_headers_kb * 1024 ||
        count >= c->shared_->config.max_headers_count) {
      c->stats_.http2_header_overflow.inc();
      c->stats_.downstream_rq_too_large.inc();
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // RST_STREAM for this stream
    }
    if (s->headers_done) {
      if (!n.empty() && n[0] == ':') return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      s->trailers.add(n, v);
      return 0;
    }
    RequestHeaders& r = s->request;
    if (n == ":method") {
      r.method = v;
    } else if (n == ":path") {
      r.path = v;
    } else if (n == ":authority") {
      r.authority = v;
    } else if (n == ":scheme") {
      r.scheme = v;
    } else if (n == ":protocol") {
      r.protocol = v;
    } else if (n == "host") {
      if (r.authority.empty()) r.authority = v;
    } else {
      r.headers.add(n, v);
    }
    return 0;
  }

  static int onFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* p) {
    auto* c = self(p);
    H2Stream* s = c->stream(frame->hd.stream_id);
    bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        if (s == nullptr) return 0;
        if (!s->headers_done) {
          s->headers_done = true;
          s->remote_done = end;
          c->startStream(*s, end);
        } else if (s->active) {
          s->remote_done = true;
          s->active->decodeTrailers(std::move(s->trailers));
        }
        break;
      }
      case NGHTTP2_DATA:
        if (s != nullptr && end && s->active) {
          s->remote_done = true;
          s->active->decodeData({}, true);
        }
        break;
      default:
        break;
    }
    return 0;
  }

  void startStream(H2Stream& s, bool end_stream) {
    stats_.downstream_rq_http2_total.inc();
    RequestHeaders& r = s.request;
    // RFC 9113 8.2.3: cookie crumbs become one field for HTTP/1.1 upstreams.
    if (r.headers.count("cookie") > 1) {
      std::string joined;
      for (const auto& e : r.headers.entries()) {
        if (e.name != "cookie") continue;
        if (!joined.empty()) joined += "; ";
        joined += e.value;
      }
      r.headers.set("cookie", std::move(joined));
    }
    if (r.method == "CONNECT" && r.protocol.empty()) {
      // Plain CONNECT is refused (see the HTTP/1.1 side); so is extended CONNECT for now.
    }
    s.active = std::make_unique<ActiveStream>(*shared_, worker_, s, info_, stats_, "HTTP/2",
                                              info_.tls != nullptr);
    s.active->decodeHeaders(std::move(r), end_stream);
  }

  static int onDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                         size_t len, void* p) {
    auto* c = self(p);
    H2Stream* s = c->stream(stream_id);
    if (s == nullptr || !s->active || s->active->done()) {
      nghttp2_session_consume(session, stream_id, len);
      return 0;
    }
    s->active->decodeData(std::string_view(reinterpret_cast<const char*>(data), len), false);
    if (s->read_disabled) {
      s->unconsumed += len;
    } else {
      nghttp2_session_consume(session, stream_id, len);
    }
    return 0;
  }

  static int onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* p) {
    auto* c = self(p);
    H2Stream* s = c->stream(stream_id);
    if (s == nullptr) return 0;
    // Closed after our END_STREAM: the normal end (the ActiveStream may still be finishing up
    // the call stack). Anything else is a reset before the response was complete.
    bool finished =
        (s->local_done && error_code == NGHTTP2_NO_ERROR) || (s->active && s->active->done());
    if (!finished) {
      // Reset before the response completed (by the peer, or by us for an over-limit block).
      if (error_code != NGHTTP2_NO_ERROR) c->stats_.http2_rx_reset.inc();
      ++c->premature_resets_;
      if (s->active) s->active->onDownstreamReset();
    }
    c->addPendingOutput(-static_cast<ptrdiff_t>(s->out.size() - s->out_offset));
    c->retire(stream_id);
    // Rapid Reset (Envoy's rule): after enough streams, more than half of them reset early.
    if (c->streams_opened_ >= kPrematureResetMinStreams &&
        c->premature_resets_ * 2 > c->streams_opened_) {
      c->flood(c->stats_.http2_premature_reset, "Rapid Reset");
    }
    return 0;
  }

  static int onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* p) {
    if (frame->hd.type == NGHTTP2_DATA) ++self(p)->data_frames_sent_;
    if (frame->hd.type == NGHTTP2_RST_STREAM) self(p)->stats_.http2_tx_reset.inc();
    return 0;
  }

  void armIdle() {
    uint64_t ms = static_cast<uint64_t>(shared_->config.idle_timeout.count());
    if (ms > 0 && streams_.empty()) idle_timer_.enable(ms);
  }

  void onIdleTimeout() {
    if (!streams_.empty()) return;
    stats_.downstream_cx_idle_timeout.inc();
    goaway(NGHTTP2_NO_ERROR);
  }

  void close(net::Connection::CloseMode mode) {
    if (closing_ || conn_ == nullptr) return;
    closing_ = true;
    idle_timer_.disable();
    conn_->close(mode);
  }

  std::shared_ptr<const ConnManagerShared> shared_;
  server::Worker& worker_;
  net::Connection* conn_;
  server::ConnectionInfo info_;
  ConnManagerStats& stats_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::unique_ptr<H2Stream>> streams_;
  std::vector<std::unique_ptr<H2Stream>> dying_;
  size_t pending_output_ = 0;
  std::vector<int32_t> writable_ids_;  // streams to tell they have room (after mem_send)
  bool flushing_ = false;
  uint64_t streams_opened_ = 0;
  uint64_t premature_resets_ = 0;
  uint64_t priority_frames_ = 0;
  uint64_t window_updates_ = 0;
  uint64_t data_frames_sent_ = 0;
  uint32_t consecutive_empty_ = 0;
  bool goaway_sent_ = false;
  bool flooded_ = false;
  bool closing_ = false;
  bool closing_now_ = false;
  event::Timeout idle_timer_;
};

// --- H2Stream ---

ssize_t readBody(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                 uint32_t* flags, nghttp2_data_source* source, void*) {
  auto* s = static_cast<H2Stream*>(source->ptr);
  size_t avail = s->out.size() - s->out_offset;
  size_t n = std::min(avail, length);
  memcpy(buf, s->out.data() + s->out_offset, n);
  s->out_offset += n;
  s->conn.addPendingOutput(-static_cast<ptrdiff_t>(n));
  if (s->out_offset == s->out.size()) {
    s->out.clear();
    s->out_offset = 0;
  }
  if (n == 0 && !s->out_end) {
    s->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  if (s->out_end && s->out.empty()) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    s->local_done = true;
    if (s->out_trailers) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      std::vector<nghttp2_nv> nva;
      for (const auto& e : s->pending_trailers.entries()) {
        nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(e.name.data())),
                       reinterpret_cast<uint8_t*>(const_cast<char*>(e.value.data())), e.name.size(),
                       e.value.size(), NGHTTP2_NV_FLAG_NONE});
      }
      nghttp2_submit_trailer(session, stream_id, nva.data(), nva.size());
    }
  }
  if (s->blocked && s->out.size() - s->out_offset < kStreamOutputLimit / 2) {
    // Room again (with hysteresis): the router may resume reading its upstream, once this
    // send is over (not from inside nghttp2).
    s->blocked = false;
    s->conn.markWritable(stream_id);
  }
  return static_cast<ssize_t>(n);
}

bool connectionSpecific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade" || name == "te";
}

void H2Stream::encodeHeaders(ResponseHeaders& headers, bool end_stream) {
  std::string status = cat(headers.status);
  static thread_local std::vector<nghttp2_nv> nva;  // nghttp2 copies it: reused
  nva.clear();
  nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(":status")),
                 reinterpret_cast<uint8_t*>(status.data()), 7, status.size(),
                 NGHTTP2_NV_FLAG_NONE});
  for (const auto& e : headers.headers.entries()) {
    if (connectionSpecific(e.name)) continue;
    nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(e.name.data())),
                   reinterpret_cast<uint8_t*>(const_cast<char*>(e.value.data())), e.name.size(),
                   e.value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  response_submitted = true;
  if (end_stream) {
    local_done = true;
    nghttp2_submit_response(conn.session(), id, nva.data(), nva.size(), nullptr);
  } else {
    nghttp2_data_provider prd;
    prd.source.ptr = this;
    prd.read_callback = &readBody;
    nghttp2_submit_response(conn.session(), id, nva.data(), nva.size(), &prd);
  }
  conn.flush();
}

void H2Stream::encodeData(std::string_view data, bool end_stream) {
  if (out.empty() && out.capacity() < data.size()) takeBodyBuffer(&out);
  out.append(data);
  conn.addPendingOutput(static_cast<ptrdiff_t>(data.size()));
  if (end_stream) out_end = true;
  if (deferred) {
    deferred = false;
    nghttp2_session_resume_data(conn.session(), id);
  }
  conn.flush();
}

void H2Stream::encodeTrailers(const HeaderMap& t) {
  pending_trailers = t;
  out_trailers = true;
  out_end = true;
  if (deferred) {
    deferred = false;
    nghttp2_session_resume_data(conn.session(), id);
  }
  conn.flush();
}

void H2Stream::encode100Continue() {
  nghttp2_nv nv = {reinterpret_cast<uint8_t*>(const_cast<char*>(":status")),
                   reinterpret_cast<uint8_t*>(const_cast<char*>("100")), 7, 3,
                   NGHTTP2_NV_FLAG_NONE};
  nghttp2_submit_headers(conn.session(), NGHTTP2_FLAG_NONE, id, nullptr, &nv, 1, nullptr);
  conn.flush();
}

void H2Stream::resetStream() {
  nghttp2_submit_rst_stream(conn.session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
  conn.flush();
}

bool H2Stream::writable() const {
  bool ok = out.size() - out_offset < kStreamOutputLimit && conn.connectionWritable();
  if (!ok) blocked = true;  // the router paused: tell it when there is room again
  return ok;
}

void H2Stream::readDisable(bool disable) {
  read_disabled = disable;
  if (!disable && unconsumed > 0) {
    nghttp2_session_consume(conn.session(), id, unconsumed);
    unconsumed = 0;
    conn.flush();
  }
}

void H2Stream::streamDone() {
  // The response is complete; a request still arriving is cut off (RFC 9113 8.1: the server
  // may reset with NO_ERROR once it has answered).
  if (!remote_done) {
    nghttp2_submit_rst_stream(conn.session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
    conn.flush();
  }
}

}  // namespace

void startHttp2Server(std::shared_ptr<const ConnManagerShared> shared, server::Worker& worker,
                      net::Connection* conn, const server::ConnectionInfo& info,
                      std::string_view initial) {
  auto* c = new Http2ServerConnection(std::move(shared), worker, conn, info);
  c->start(initial);
}

}  // namespace remora::http
