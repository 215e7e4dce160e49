// HTTP/1.1 upstream pool and connections.
#include "proxy/upstream/http1_pool.h"

#include "proxy/common/log.h"
#include "proxy/common/strings.h"

namespace remora::upstream {

// --- Http1Client ---

Http1Client::Http1Client(Http1Pool& pool, net::Connection* conn, net::Address host)
    : pool_(pool),
      conn_(conn),
      host_(std::move(host)),
      parser_(http::Http1Parser::Mode::Response, http::Http1Limits{}, *this),
      idle_timeout_(pool.loop().timeouts(), [this] { pool_.onIdleTimeout(this); }) {
  conn_->setCallbacks(this);
  uv_timer_init(pool_.loop().uv(), &connect_timer_);
  connect_timer_.data = this;
}

Http1Client::~Http1Client() {
  // The timer handle lives in this object: it must be closed first (see onClientClosed).
}

void Http1Client::startRequest(const http::RequestHeaders& headers, http::BodyFraming framing,
                               bool head, UpstreamStreamCallbacks* callbacks) {
  stream_ = callbacks;
  ++requests_;
  framing_ = framing;
  request_done_ = framing == http::BodyFraming::None;  // a request without a body is whole
  response_started_ = false;
  response_done_ = false;
  parser_.expectHeadResponse(head);
  std::string& bytes = http::headScratch();
  http::encodeRequestHead(headers, framing, &bytes);
  pool_.stats().upstream_cx_tx_bytes_total.inc(bytes.size());
  conn_->writeCopy(bytes);
  conn_->readEnable(true);
}

void Http1Client::sendData(std::string_view data, bool end_stream) {
  if (closing_) return;
  pool_.stats().upstream_cx_tx_bytes_total.inc(data.size());
  if (framing_ == http::BodyFraming::Chunked) {
    if (!data.empty()) {
      conn_->writeCopy(http::chunkHeader(data.size()));
      conn_->writeCopy(data);
      conn_->writeCopy("\r\n");
    }
    if (end_stream) conn_->writeCopy(http::lastChunk({}));
  } else if (!data.empty()) {
    conn_->writeCopy(data);
  }
  if (end_stream) request_done_ = true;
}

void Http1Client::sendTrailers(const http::HeaderMap& trailers) {
  if (closing_) return;
  // Only chunked framing carries trailers on HTTP/1.1; otherwise they cannot be sent.
  if (framing_ == http::BodyFraming::Chunked) conn_->writeCopy(http::lastChunk(trailers));
  request_done_ = true;
}

void Http1Client::resetStream() {
  stream_ = nullptr;
  close();
}

void Http1Client::readDisable(bool disable) {
  if (closing_ || conn_->reading() == !disable) return;
  conn_->readEnable(!disable);
  if (disable) {
    pool_.stats().upstream_flow_control_paused_reading_total.inc();
  } else {
    pool_.stats().upstream_flow_control_resumed_reading_total.inc();
  }
}

void Http1Client::close(net::Connection::CloseMode mode) {
  if (closing_) return;
  closing_ = true;
  uv_timer_stop(&connect_timer_);
  idle_timeout_.disable();
  conn_->close(mode);
}

void Http1Client::streamBroken(std::string_view detail) {
  UpstreamStreamCallbacks* cb = stream_;
  stream_ = nullptr;
  close();
  if (cb != nullptr) cb->onUpstreamReset(!response_started_, detail);
}

void Http1Client::onConnect(net::Connection&, int status) {
  uv_timer_stop(&connect_timer_);
  if (closing_) return;
  if (status != 0) {
    pool_.stats().upstream_cx_connect_fail.inc();
    close();
    pool_.onConnectFailed(this, cat("connection failure (", uv_err_name(status), ")"));
    return;
  }
  connected_ = true;
  conn_->readEnable(true);
  pool_.onConnected(this);
}

void Http1Client::onData(net::Connection&, event::Block* block) {
  pool_.stats().upstream_cx_rx_bytes_total.inc(block->len);
  std::string_view data(block->begin(), block->len);
  while (!data.empty() && !closing_) {
    if (stream_ == nullptr) {
      // Bytes nobody asked for (on an idle connection, or after the response): the
      // connection's framing can no longer be trusted.
      REMORA_LOG(Debug, "[C%d] upstream sent %d unexpected bytes; closing", conn_->id(),
                 data.size());
      close();
      break;
    }
    size_t used = parser_.feed(data);
    data.remove_prefix(used);
    if (parser_.failed()) {
      streamBroken(cat("protocol error: ", parser_.error().detail));
      break;
    }
    if (parser_.paused()) parser_.resume();
  }
  pool_.loop().blocks().release(block);
}

void Http1Client::onResponseHeaders(http::ResponseHeaders&& headers, bool end_stream) {
  if (headers.status >= 100 && headers.status < 200) {
    // Interim responses: the proxy answers 100-continue itself, so these are not forwarded.
    if (headers.status == 101) {
      streamBroken("upgrade response without an upgrade request");
    }
    informational_ = true;
    return;
  }
  informational_ = false;
  response_started_ = true;
  if (stream_ != nullptr) stream_->onResponseHeaders(std::move(headers), end_stream);
}

void Http1Client::onBody(std::string_view data) {
  if (stream_ != nullptr) stream_->onResponseData(data);
}

void Http1Client::onMessageComplete(http::HeaderMap&& trailers) {
  if (informational_) {
    informational_ = false;
    return;
  }
  response_done_ = true;
  UpstreamStreamCallbacks* cb = stream_;
  stream_ = nullptr;
  bool reuse = parser_.keepAlive() && request_done_ && !closing_ && !remote_closed_;
  if (cb != nullptr) cb->onResponseComplete(std::move(trailers));
  if (closing_) return;
  if (reuse) {
    pool_.release(this);
  } else {
    close();
  }
}

void Http1Client::onEof(net::Connection&) {
  remote_closed_ = true;
  if (stream_ != nullptr && parser_.bodyUntilClose()) {
    parser_.finish();  // completes the response
    if (parser_.failed()) streamBroken("upstream closed mid-response");
    if (!closing_) close();
    return;
  }
  if (stream_ != nullptr) {
    streamBroken("connection termination");
    return;
  }
  close();
}

void Http1Client::onError(net::Connection&, int uv_error) {
  remote_closed_ = true;
  if (!connected_ && !closing_) {
    pool_.stats().upstream_cx_connect_fail.inc();
    close();
    pool_.onConnectFailed(this, cat("connection failure (", uv_err_name(uv_error), ")"));
    return;
  }
  streamBroken(cat("connection termination (", uv_err_name(uv_error), ")"));
}

void Http1Client::onAboveWriteWatermark(net::Connection&) {
  if (stream_ != nullptr) stream_->onUpstreamAboveWriteWatermark();
}

void Http1Client::onBelowWriteWatermark(net::Connection&) {
  if (stream_ != nullptr) stream_->onUpstreamBelowWriteWatermark();
}

void Http1Client::onClosed(net::Connection&) {
  idle_timeout_.disable();  // however it closed: the idle timeout must not act on it any more
  ClusterStats& st = pool_.stats();
  st.upstream_cx_active.sub();
  if (remote_closed_) {
    st.upstream_cx_destroy_remote.inc();
  } else {
    st.upstream_cx_destroy_local.inc();
  }
  if (stream_ != nullptr) {
    UpstreamStreamCallbacks* cb = stream_;
    stream_ = nullptr;
    cb->onUpstreamReset(!response_started_, "connection termination");
  }
  pool_.onClientClosed(this);
}

// --- Http1Pool ---

Http1Pool::Http1Pool(event::EventLoop& loop, ClusterSharedPtr cluster, HostSharedPtr host,
                     size_t worker, bool high_priority)
    : loop_(loop),
      cluster_(std::move(cluster)),
      host_(std::move(host)),
      worker_(worker),
      high_(high_priority) {}

Http1Pool::~Http1Pool() {
  // Requests still waiting are the router's to cancel; the counts are released here.
  for (size_t i = 0; i < pending_.size(); ++i) cluster_->pendingRemoved(high_, worker_);
}

uint64_t Http1Pool::newStream(Callbacks& callbacks) {
  // The most recently used idle connection (as Envoy and NGINX pick): its state is warm in
  // the caches, and the least used ones are left to time out.
  if (Http1Client* c = idle_.popBack(); c != nullptr) {
    c->idle_timeout_.disable();
    callbacks.onPoolReady(*c);
    return 0;
  }
  // No idle connection: the request waits for one (bounded by max_pending_requests).
  if (!cluster_->canQueueRequest(high_)) {
    stats().upstream_rq_pending_overflow.inc();
    callbacks.onPoolFailure(PoolFailure::Overflow, "pending requests overflow");
    return 0;
  }
  uint64_t id = next_id_++;
  pending_.push_back({id, &callbacks});
  cluster_->pendingAdded(high_, worker_);
  maybeOpen();
  // Opening may have failed at once, and answered the request already.
  for (const auto& p : pending_) {
    if (p.id == id) return id;
  }
  return 0;
}

void Http1Pool::maybeOpen() {
  // One connection per waiting request, within max_connections (a pool without any connection
  // may always open one, as Envoy's do, so that waiting requests cannot starve).
  while (connecting_ < pending_.size()) {  // a draining pool still serves who waits
    if (!cluster_->canOpenConnection(high_) && clients_ > 0) {
      stats().upstream_cx_overflow.inc();
      return;
    }
    if (!openConnection()) return;
  }
}

bool Http1Pool::openConnection() {
  const config::ClusterConfig& cc = cluster_->config();
  net::Connection* conn = net::Connection::create(loop_, cc.per_connection_buffer_limit_bytes);
  if (cluster_->tlsContext()) conn->startTls(cluster_->tlsContext());
  auto* client = new Http1Client(*this, conn, host_->address());
  ++clients_;
  ++connecting_;
  client->connecting_ = true;
  cluster_->connectionOpened(high_, *host_);
  stats().upstream_cx_total.inc();
  stats().upstream_cx_active.add();
  auto st = conn->connect(host_->address(), cc.source_address ? &*cc.source_address : nullptr);
  if (!st.ok()) {
    stats().upstream_cx_connect_fail.inc();
    client->close();
    onConnectFailed(client, cat("connection failure (", st.message(), ")"));
    return false;
  }
  uv_timer_start(
      &client->connect_timer_,
      [](uv_timer_t* t) {
        auto* c = static_cast<Http1Client*>(t->data);
        c->pool_.stats().upstream_cx_connect_timeout.inc();
        c->pool_.stats().upstream_cx_connect_fail.inc();
        c->close();
        c->pool_.onConnectFailed(c, "connection failure (connect timeout)");
      },
      static_cast<uint64_t>(cc.connect_timeout.count()), 0);
  return true;
}

void Http1Pool::cancel(uint64_t handle) {
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->id == handle) {
      pending_.erase(it);
      cluster_->pendingRemoved(high_, worker_);
      return;
    }
  }
}

void Http1Pool::onConnected(Http1Client* client) {
  client->connecting_ = false;
  --connecting_;
  release(client);
}

void Http1Pool::onConnectFailed(Http1Client* client, std::string_view detail) {
  if (!client->connecting_) return;
  client->connecting_ = false;
  --connecting_;
  host_->cx_connect_fail.fetch_add(1, std::memory_order_relaxed);
  // Waiting requests that no other connection of this pool will serve learn of the failure
  // (and may retry elsewhere); the others wait for a connection that will be free (a busy or
  // connecting one). With the host down, every connect fails and so every waiting request.
  size_t others = clients_ - 1;  // this client is counted until it has closed
  while (pending_.size() > others) {
    Pending p = pending_.front();
    pending_.pop_front();
    cluster_->pendingRemoved(high_, worker_);
    p.callbacks->onPoolFailure(PoolFailure::ConnectionFailure, detail);
  }
}

void Http1Pool::release(Http1Client* client) {
  uint32_t max = cluster_->config().max_requests_per_connection;
  if (max != 0 && client->requests_ >= max) {
    stats().upstream_cx_max_requests.inc();
    client->close(net::Connection::CloseMode::Flush);  // a waiting request gets a new connection
                                                       // once this one has closed
    return;
  }
  if (!pending_.empty()) {  // served even while draining: nobody else will serve it
    Pending p = pending_.front();
    pending_.pop_front();
    cluster_->pendingRemoved(high_, worker_);
    p.callbacks->onPoolReady(*client);
    return;
  }
  if (draining_) {
    client->close();
    return;
  }
  idle_.pushBack(client);
  auto idle = cluster_->config().upstream_idle_timeout;
  if (idle.count() > 0) client->idle_timeout_.enable(static_cast<uint64_t>(idle.count()));
}

void Http1Pool::onIdleTimeout(Http1Client* client) {
  idle_.remove(client);
  stats().upstream_cx_idle_timeout.inc();
  client->close(net::Connection::CloseMode::Flush);
}

void Http1Pool::onClientClosed(Http1Client* client) {
  idle_.remove(client);
  if (client->connecting_) {
    client->connecting_ = false;
    --connecting_;
  }
  --clients_;
  cluster_->connectionClosed(high_, *host_);
  // The timer handle is inside the client: free the client once the handle has closed.
  uv_close(reinterpret_cast<uv_handle_t*>(&client->connect_timer_),
           [](uv_handle_t* h) { delete static_cast<Http1Client*>(h->data); });
  // A request waiting for room under max_connections may have it now.
  if (!pending_.empty()) maybeOpen();
}

void Http1Pool::drain() {
  draining_ = true;
  while (Http1Client* c = idle_.popFront()) c->close();
}

}  // namespace remora::upstream
