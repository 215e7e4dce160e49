// HTTP/2 upstream pool, connections and streams.
#include "proxy/upstream/http2_pool.h"

#include <nghttp2/nghttp2.h>

#include <cstring>
#include <vector>

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/common/thread_cache.h"
#include "proxy/event/timer.h"
#include "proxy/http/nghttp2_mem.h"
#include "proxy/net/connection.h"

namespace remora::upstream {
namespace {

constexpr size_t kRequestBufferLimit = 1 << 20;  // request body waiting for the peer's window

bool connectionSpecific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade" || name == "host";
}

}  // namespace

class H2Stream;

class H2Connection : public net::Connection::Callbacks {
 public:
  H2Connection(Http2Pool& pool, net::Connection* conn, net::Address host);
  ~H2Connection() override;

  const net::Address& host() const { return host_; }
  nghttp2_session* session() { return session_; }
  Http2Pool& pool() { return pool_; }
  bool connected() const { return connected_; }
  bool usable() const { return !goaway_ && !closing_ && !exhausted(); }
  // It carried max_requests_per_connection streams: no more.
  bool exhausted() const {
    uint32_t max = pool_.cluster().config().max_requests_per_connection;
    return max != 0 && started_ >= max;
  }
  // Arms the idle timeout when nothing is in flight (the cluster's upstream idle_timeout).
  void armIdle();
  size_t active() const { return active_; }
  size_t capacity() const;
  H2Stream* newStream();
  void flush();
  void close(net::Connection::CloseMode mode);
  void streamEnded(H2Stream* s);  // nghttp2 closed it, or it never opened
  void startConnectTimer(uint64_t ms);

  // --- net::Connection::Callbacks ---
  void onConnect(net::Connection& conn, int status) override;
  void onData(net::Connection& conn, event::Block* block) override;
  void onEof(net::Connection& conn) override;
  void onError(net::Connection& conn, int uv_error) override;
  void onAboveWriteWatermark(net::Connection& conn) override;
  void onBelowWriteWatermark(net::Connection& conn) override;
  void onClosed(net::Connection& conn) override;

 private:
  friend class H2Stream;
  static H2Connection* self(void* p) { return static_cast<H2Connection*>(p); }
  H2Stream* stream(int32_t id);
  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* p);
  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* p);
  static int onDataChunk(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data,
                         size_t len, void* p);
  static int onStreamClose(nghttp2_session*, int32_t id, uint32_t code, void* p);
  void failAll(std::string_view detail);
  void reap();

  Http2Pool& pool_;
  net::Connection* conn_;
  net::Address host_;
  nghttp2_session* session_ = nullptr;
  std::list<std::unique_ptr<H2Stream>> streams_;
  size_t active_ = 0;
  uint32_t started_ = 0;  // streams ever started here
  bool connected_ = false;
  bool goaway_ = false;
  bool closing_ = false;
  bool remote_closed_ = false;
  event::Timer connect_timer_;
  event::Timer reap_timer_;
  event::Timer idle_timer_;
  // Ends the connection cleanly: GOAWAY (no error), then FIN once it is written.
  void shutdownGracefully();
};

class H2Stream : public UpstreamRequest, public ThreadCached<H2Stream> {
 public:
  explicit H2Stream(H2Connection& c) : conn_(c) {}
  const net::Address& host() const override { return conn_.host(); }

  void startRequest(const http::RequestHeaders& h, http::BodyFraming framing, bool head,
                    UpstreamStreamCallbacks* callbacks) override {
    cb_ = callbacks;
    std::vector<std::pair<std::string, std::string>> fields;
    fields.emplace_back(":method", h.method);
    fields.emplace_back(":scheme", h.scheme.empty() ? "http" : h.scheme);
    fields.emplace_back(":authority", h.authority);
    fields.emplace_back(":path", h.path.empty() ? "/" : h.path);
    for (const auto& e : h.headers.entries()) {
      if (connectionSpecific(e.name)) continue;
      if (e.name == "te" && !http::equalsIgnoreCase(e.value, "trailers")) continue;
      fields.emplace_back(e.name, e.value);
    }
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : fields) {
      nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                     n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    bool body = framing != http::BodyFraming::None;
    if (!body) local_done_ = true;
    nghttp2_data_provider prd;
    prd.source.ptr = this;
    prd.read_callback = &H2Stream::readBody;
    id_ = nghttp2_submit_request(conn_.session(), nullptr, nva.data(), nva.size(),
                                 body ? &prd : nullptr, this);
    if (id_ < 0) {
      REMORA_LOG(Debug, "http2 upstream: submit failed: %s", nghttp2_strerror(id_));
      closed_ = true;
      UpstreamStreamCallbacks* c = cb_;
      cb_ = nullptr;
      conn_.streamEnded(this);
      if (c != nullptr) c->onUpstreamReset(true, "protocol error (cannot open a stream)");
      return;
    }
    conn_.flush();
  }

  void sendData(std::string_view data, bool end_stream) override {
    out_.append(data);
    if (end_stream) out_end_ = true;
    resume();
    if (cb_ != nullptr && out_.size() - off_ > kRequestBufferLimit) {
      above_ = true;
      cb_->onUpstreamAboveWriteWatermark();
    }
  }

  void sendTrailers(const http::HeaderMap& trailers) override {
    trailers_ = trailers;
    has_trailers_ = true;
    out_end_ = true;
    resume();
  }

  void resetStream() override {
    cb_ = nullptr;
    detached_ = true;
    if (id_ > 0 && !closed_) {
      nghttp2_submit_rst_stream(conn_.session(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_CANCEL);
      conn_.flush();
    }
  }

  void readDisable(bool disable) override {
    read_disabled_ = disable;
    if (!disable && unconsumed_ > 0 && id_ > 0 && !closed_) {
      nghttp2_session_consume(conn_.session(), id_, unconsumed_);
      unconsumed_ = 0;
      conn_.flush();
    }
  }

  // --- From the connection ---
  void onHeader(std::string_view name, std::string_view value) {
    if (headers_done_) {
      if (!name.empty() && name[0] != ':') trailers_in_.add(name, value);
      return;
    }
    if (name == ":status") {
      int64_t s = 0;
      parseInt(value, &s);
      response_.status = static_cast<uint32_t>(s);
    } else if (!name.empty() && name[0] != ':') {
      response_.headers.add(name, value);
    }
  }

  void onHeadersFrame(bool end_stream) {
    if (!headers_done_) {
      if (response_.status >= 100 && response_.status < 200) {
        response_ = http::ResponseHeaders();  // interim: the final response follows
        return;
      }
      headers_done_ = true;
      started_ = true;
      if (end_stream) complete_ = true;
      if (cb_ != nullptr) cb_->onResponseHeaders(std::move(response_), end_stream);
      if (end_stream) finishResponse();
      return;
    }
    complete_ = true;
    finishResponse();
  }

  void onDataChunk(std::string_view data) {
    if (cb_ != nullptr) cb_->onResponseData(data);
    if (read_disabled_) {
      unconsumed_ += data.size();
    } else {
      nghttp2_session_consume(conn_.session(), id_, data.size());
    }
  }

  void onEndStreamData() {
    complete_ = true;
    finishResponse();
  }

  void onClose(uint32_t code) {
    closed_ = true;
    if (!complete_ && cb_ != nullptr) {
      UpstreamStreamCallbacks* c = cb_;
      cb_ = nullptr;
      detached_ = true;
      bool refused = code == NGHTTP2_REFUSED_STREAM;
      c->onUpstreamReset(!started_,
                         refused ? "remote refused stream reset"
                                 : cat("remote reset (", nghttp2_http2_strerror(code), ")"),
                         refused);
    }
  }

  void connectionLost(std::string_view detail) {
    closed_ = true;
    if (cb_ != nullptr && !complete_) {
      UpstreamStreamCallbacks* c = cb_;
      cb_ = nullptr;
      detached_ = true;
      c->onUpstreamReset(!started_, detail);
    }
  }

  bool reapable() const { return closed_ && (detached_ || cb_ == nullptr); }
  int32_t id() const { return id_; }

 private:
  void finishResponse() {
    UpstreamStreamCallbacks* c = cb_;
    cb_ = nullptr;
    detached_ = true;
    if (c != nullptr) c->onResponseComplete(std::move(trailers_in_));
  }

  void resume() {
    if (id_ > 0 && deferred_ && !closed_) {
      deferred_ = false;
      nghttp2_session_resume_data(conn_.session(), id_);
    }
    conn_.flush();
  }

  static ssize_t readBody(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                          uint32_t* flags, nghttp2_data_source* source, void*) {
    auto* s = static_cast<H2Stream*>(source->ptr);
    size_t n = std::min(length, s->out_.size() - s->off_);
    memcpy(buf, s->out_.data() + s->off_, n);
    s->off_ += n;
    if (s->off_ == s->out_.size()) {
      s->out_.clear();
      s->off_ = 0;
    }
    if (s->above_ && s->out_.size() - s->off_ < kRequestBufferLimit / 2 && s->cb_ != nullptr) {
      s->above_ = false;
      s->cb_->onUpstreamBelowWriteWatermark();
    }
    if (n == 0 && !s->out_end_) {
      s->deferred_ = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    if (s->out_end_ && s->out_.empty()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      s->local_done_ = true;
      if (s->has_trailers_) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        std::vector<nghttp2_nv> nva;
        for (const auto& e : s->trailers_.entries()) {
          nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(e.name.data())),
                         reinterpret_cast<uint8_t*>(const_cast<char*>(e.value.data())),
                         e.name.size(), e.value.size(), NGHTTP2_NV_FLAG_NONE});
        }
        nghttp2_submit_trailer(session, id, nva.data(), nva.size());
      }
    }
    return static_cast<ssize_t>(n);
  }

  H2Connection& conn_;
  int32_t id_ = -1;
  UpstreamStreamCallbacks* cb_ = nullptr;
  std::string out_;
  size_t off_ = 0;
  bool out_end_ = false;
  bool has_trailers_ = false;
  http::HeaderMap trailers_;
  bool deferred_ = false;
  bool above_ = false;
  bool local_done_ = false;
  http::ResponseHeaders response_;
  http::HeaderMap trailers_in_;
  bool headers_done_ = false;
  bool started_ = false;
  bool complete_ = false;
  bool closed_ = false;
  bool detached_ = false;
  size_t unconsumed_ = 0;
  bool read_disabled_ = false;
};

// --- H2Connection ---

H2Connection::H2Connection(Http2Pool& pool, net::Connection* conn, net::Address host)
    : pool_(pool),
      conn_(conn),
      host_(std::move(host)),
      connect_timer_(pool.loop().uv(),
                     [this] {
                       pool_.stats().upstream_cx_connect_timeout.inc();
                       pool_.stats().upstream_cx_connect_fail.inc();
                       close(net::Connection::CloseMode::Abort);
                       pool_.onConnectFailed(this, "connection failure (connect timeout)");
                     }),
      reap_timer_(pool.loop().uv(), [this] { reap(); }),
      idle_timer_(pool.loop().uv(), [this] {
        if (active_ != 0 || closing_) return;
        pool_.stats().upstream_cx_idle_timeout.inc();
        shutdownGracefully();
      }) {
  conn_->setCallbacks(this);
  nghttp2_session_callbacks* cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_header_callback(cb, &H2Connection::onHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &H2Connection::onFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &H2Connection::onDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, &H2Connection::onStreamClose);
  nghttp2_option* opt;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_outbound_ack(opt, 1000);
  nghttp2_option_set_max_continuations(opt, 8);
  nghttp2_session_client_new3(&session_, cb, this, opt, http::nghttp2Allocator());
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  const auto& cc = pool_.cluster().config();
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
       std::min<uint32_t>(cc.h2_initial_stream_window_size, NGHTTP2_MAX_WINDOW_SIZE)},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 2);
  int32_t window = static_cast<int32_t>(
      std::min<uint32_t>(cc.h2_initial_connection_window_size, NGHTTP2_MAX_WINDOW_SIZE));
  if (window > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE) {
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, window);
  }
}

H2Connection::~H2Connection() { nghttp2_session_del(session_); }

size_t H2Connection::capacity() const {
  uint32_t peer =
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  size_t limit = std::min<size_t>(peer, pool_.cluster().config().h2_max_concurrent_streams);
  size_t room = active_ >= limit ? 0 : limit - active_;
  uint32_t max = pool_.cluster().config().max_requests_per_connection;
  if (max != 0) room = std::min<size_t>(room, started_ >= max ? 0 : max - started_);
  return room;
}

H2Stream* H2Connection::newStream() {
  streams_.push_back(std::make_unique<H2Stream>(*this));
  ++active_;
  ++started_;
  idle_timer_.disable();
  if (exhausted()) pool_.stats().upstream_cx_max_requests.inc();
  return streams_.back().get();
}

void H2Connection::armIdle() {
  auto idle = pool_.cluster().config().upstream_idle_timeout;
  if (active_ == 0 && !closing_ && idle.count() > 0) {
    idle_timer_.enable(static_cast<uint64_t>(idle.count()));
  }
}

void H2Connection::shutdownGracefully() {
  if (closing_) return;
  nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
  flush();
  close(net::Connection::CloseMode::Flush);
}

H2Stream* H2Connection::stream(int32_t id) {
  return static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(session_, id));
}

void H2Connection::flush() {
  if (closing_ || !connected_) return;
  for (;;) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      failAll("protocol error");
      close(net::Connection::CloseMode::Abort);
      return;
    }
    if (n == 0) break;
    pool_.stats().upstream_cx_tx_bytes_total.inc(static_cast<uint64_t>(n));
    conn_->writeCopy(std::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(n)));
  }
}

void H2Connection::close(net::Connection::CloseMode mode) {
  if (closing_) return;
  closing_ = true;
  connect_timer_.disable();
  idle_timer_.disable();
  conn_->close(mode);
}

void H2Connection::streamEnded(H2Stream*) {
  if (active_ > 0) --active_;
  reap_timer_.enable(0);
  if (goaway_ && active_ == 0) {
    close(net::Connection::CloseMode::Flush);
    return;
  }
  if (exhausted() && active_ == 0) {
    shutdownGracefully();
    return;
  }
  pool_.onCapacity(this);
  armIdle();
}

void H2Connection::reap() {
  streams_.remove_if([](const std::unique_ptr<H2Stream>& s) { return s->reapable(); });
}

void H2Connection::startConnectTimer(uint64_t ms) { connect_timer_.enable(ms); }

void H2Connection::failAll(std::string_view detail) {
  for (auto& s : streams_) s->connectionLost(detail);
}

void H2Connection::onConnect(net::Connection&, int status) {
  connect_timer_.disable();
  if (closing_) return;
  if (status != 0) {
    pool_.stats().upstream_cx_connect_fail.inc();
    close(net::Connection::CloseMode::Abort);
    pool_.onConnectFailed(this, cat("connection failure (", uv_err_name(status), ")"));
    return;
  }
  connected_ = true;
  conn_->readEnable(true);
  flush();
  pool_.onConnected(this);
}

void H2Connection::onData(net::Connection&, event::Block* block) {
  pool_.stats().upstream_cx_rx_bytes_total.inc(block->len);
  ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(block->begin()),
                                        block->len);
  pool_.loop().blocks().release(block);
  if (rv < 0) {
    REMORA_LOG(Debug, "http2 upstream %s: %s", host_.toString(),
               nghttp2_strerror(static_cast<int>(rv)));
    failAll("protocol error");
    close(net::Connection::CloseMode::Abort);
    return;
  }
  flush();
}

void H2Connection::onEof(net::Connection&) {
  remote_closed_ = true;
  failAll("connection termination");
  close(net::Connection::CloseMode::Flush);
}

void H2Connection::onError(net::Connection&, int uv_error) {
  remote_closed_ = true;
  if (!connected_ && !closing_) {
    pool_.stats().upstream_cx_connect_fail.inc();
    close(net::Connection::CloseMode::Abort);
    pool_.onConnectFailed(this, cat("connection failure (", uv_err_name(uv_error), ")"));
    return;
  }
  failAll(cat("connection termination (", uv_err_name(uv_error), ")"));
  close(net::Connection::CloseMode::Abort);
}

void H2Connection::onAboveWriteWatermark(net::Connection&) {}
void H2Connection::onBelowWriteWatermark(net::Connection&) {}

void H2Connection::onClosed(net::Connection&) {
  closing_ = true;  // however it closed: no timer may act on it any more
  idle_timer_.disable();
  connect_timer_.disable();
  ClusterStats& st = pool_.stats();
  st.upstream_cx_active.sub();
  if (remote_closed_) {
    st.upstream_cx_destroy_remote.inc();
  } else {
    st.upstream_cx_destroy_local.inc();
  }
  failAll("connection termination");
  pool_.onClosed(this);  // frees this
}

int H2Connection::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                           size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                           void* p) {
  H2Stream* s = self(p)->stream(frame->hd.stream_id);
  if (s != nullptr) {
    s->onHeader(std::string_view(reinterpret_cast<const char*>(name), namelen),
                std::string_view(reinterpret_cast<const char*>(value), valuelen));
  }
  return 0;
}

int H2Connection::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* p) {
  H2Connection* c = self(p);
  bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
      if (H2Stream* s = c->stream(frame->hd.stream_id)) s->onHeadersFrame(end);
      break;
    case NGHTTP2_DATA:
      if (end) {
        if (H2Stream* s = c->stream(frame->hd.stream_id)) s->onEndStreamData();
      }
      break;
    case NGHTTP2_GOAWAY:
      c->goaway_ = true;  // streams past last_stream_id are closed by nghttp2 (REFUSED)
      break;
    case NGHTTP2_SETTINGS:
      c->pool_.onCapacity(c);
      break;
    default:
      break;
  }
  return 0;
}

int H2Connection::onDataChunk(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data,
                              size_t len, void* p) {
  H2Stream* s = self(p)->stream(id);
  if (s == nullptr) {
    nghttp2_session_consume(session, id, len);
    return 0;
  }
  s->onDataChunk(std::string_view(reinterpret_cast<const char*>(data), len));
  return 0;
}

int H2Connection::onStreamClose(nghttp2_session*, int32_t id, uint32_t code, void* p) {
  H2Connection* c = self(p);
  H2Stream* s = c->stream(id);
  if (s == nullptr) return 0;
  s->onClose(code);
  c->streamEnded(s);
  return 0;
}

// --- Http2Pool ---

Http2Pool::Http2Pool(event::EventLoop& loop, ClusterSharedPtr cluster, HostSharedPtr host,
                     size_t worker, bool high_priority)
    : loop_(loop),
      cluster_(std::move(cluster)),
      host_(std::move(host)),
      worker_(worker),
      high_(high_priority) {}

Http2Pool::~Http2Pool() {
  for (size_t i = 0; i < pending_.size(); ++i) cluster_->pendingRemoved(high_, worker_);
}

size_t Http2Pool::busyCount() const {
  size_t n = pending_.size();
  for (const auto& c : conns_) n += c->active();
  return n;
}

uint64_t Http2Pool::newStream(Callbacks& callbacks) {
  for (auto& c : conns_) {
    if (c->connected() && c->usable() && c->capacity() > 0) {
      callbacks.onPoolReady(*c->newStream());
      return 0;
    }
  }
  if (!cluster_->canQueueRequest(high_)) {
    stats().upstream_rq_pending_overflow.inc();
    callbacks.onPoolFailure(PoolFailure::Overflow, "pending requests overflow");
    return 0;
  }
  // Wait for a connection being opened, if it will have room.
  H2Connection* opening = nullptr;
  for (auto& c : conns_) {
    if (!c->connected() && c->usable()) {
      size_t waiting = 0;
      for (const auto& p : pending_) waiting += p.conn == c.get() ? 1 : 0;
      size_t room = cluster_->config().h2_max_concurrent_streams;
      if (uint32_t max = cluster_->config().max_requests_per_connection; max != 0) {
        room = std::min<size_t>(room, max);
      }
      if (waiting < room) opening = c.get();
    }
  }
  if (opening == nullptr && !conns_.empty() && !cluster_->canOpenConnection(high_)) {
    // max_connections: wait for room on an open connection.
    stats().upstream_cx_overflow.inc();
  } else if (opening == nullptr) {
    std::string error;
    opening = openConnection(&error);
    if (opening == nullptr) {
      callbacks.onPoolFailure(PoolFailure::ConnectionFailure, error);
      return 0;
    }
  }
  uint64_t id = next_id_++;
  pending_.push_back({id, &callbacks, opening});
  cluster_->pendingAdded(high_, worker_);
  return id;
}

H2Connection* Http2Pool::openConnection(std::string* error) {
  const config::ClusterConfig& cc = cluster_->config();
  net::Connection* conn = net::Connection::create(loop_, cc.per_connection_buffer_limit_bytes);
  if (cluster_->tlsContext()) conn->startTls(cluster_->tlsContext());
  conns_.push_back(std::make_unique<H2Connection>(*this, conn, host_->address()));
  H2Connection* c = conns_.back().get();
  cluster_->connectionOpened(high_, *host_);
  stats().upstream_cx_total.inc();
  stats().upstream_cx_active.add();
  auto st = conn->connect(host_->address(), cc.source_address ? &*cc.source_address : nullptr);
  if (!st.ok()) {
    stats().upstream_cx_connect_fail.inc();
    host_->cx_connect_fail.fetch_add(1, std::memory_order_relaxed);
    c->close(net::Connection::CloseMode::Abort);
    *error = cat("connection failure (", st.message(), ")");
    return nullptr;
  }
  c->startConnectTimer(static_cast<uint64_t>(cc.connect_timeout.count()));
  return c;
}

void Http2Pool::cancel(uint64_t handle) {
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->id == handle) {
      pending_.erase(it);
      cluster_->pendingRemoved(high_, worker_);
      return;
    }
  }
}

void Http2Pool::serve(H2Connection* conn) {
  // Requests waiting for this connection, then those waiting for room anywhere.
  for (int pass = 0; pass < 2; ++pass) {
    for (auto it = pending_.begin();
         it != pending_.end() && conn->usable() && conn->capacity() > 0;) {
      if (pass == 0 ? it->conn != conn : it->conn != nullptr) {
        ++it;
        continue;
      }
      Callbacks* cb = it->callbacks;
      it = pending_.erase(it);
      cluster_->pendingRemoved(high_, worker_);
      cb->onPoolReady(*conn->newStream());
    }
  }
}

void Http2Pool::onConnected(H2Connection* conn) {
  serve(conn);
  conn->armIdle();  // nothing waited for it after all
}

void Http2Pool::onCapacity(H2Connection* conn) {
  if (conn->connected()) serve(conn);
}

void Http2Pool::onConnectFailed(H2Connection* conn, std::string_view detail) {
  std::vector<Callbacks*> failed;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->conn == conn) {
      failed.push_back(it->callbacks);
      it = pending_.erase(it);
      cluster_->pendingRemoved(high_, worker_);
    } else {
      ++it;
    }
  }
  if (!conn->connected()) host_->cx_connect_fail.fetch_add(1, std::memory_order_relaxed);
  for (Callbacks* cb : failed) cb->onPoolFailure(PoolFailure::ConnectionFailure, detail);
}

void Http2Pool::onClosed(H2Connection* conn) {
  cluster_->connectionClosed(high_, *host_);
  onConnectFailed(conn, "connection failure (closed)");
  // The connection object is on the call stack (its onClosed): free it on the next turn.
  for (auto it = conns_.begin(); it != conns_.end(); ++it) {
    if (it->get() == conn) {
      auto owned = std::make_shared<std::unique_ptr<H2Connection>>(std::move(*it));
      conns_.erase(it);
      loop_.post([owned] {});
      break;
    }
  }
  // Requests waiting for room under max_connections: a connection is opened for them (they
  // keep their handles).
  size_t waiting = 0;
  for (const auto& p : pending_) waiting += p.conn == nullptr ? 1 : 0;
  // (A draining pool too: nobody else will serve them.)
  if (waiting == 0 || (!conns_.empty() && !cluster_->canOpenConnection(high_))) return;
  std::string error;
  H2Connection* fresh = openConnection(&error);
  size_t room = cluster_->config().h2_max_concurrent_streams;
  if (uint32_t max = cluster_->config().max_requests_per_connection; max != 0) {
    room = std::min<size_t>(room, max);
  }
  std::vector<Callbacks*> failed;
  for (auto it = pending_.begin(); it != pending_.end() && room > 0;) {
    if (it->conn != nullptr) {
      ++it;
      continue;
    }
    --room;
    if (fresh != nullptr) {
      it->conn = fresh;
      ++it;
    } else {
      failed.push_back(it->callbacks);
      it = pending_.erase(it);
      cluster_->pendingRemoved(high_, worker_);
    }
  }
  for (Callbacks* cb : failed) cb->onPoolFailure(PoolFailure::ConnectionFailure, error);
}

void Http2Pool::drain() {
  draining_ = true;
  for (auto& c : conns_) {
    if (c->active() == 0) c->close(net::Connection::CloseMode::Flush);
  }
}

}  // namespace remora::upstream
