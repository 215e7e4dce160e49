// HTTP/1.1 upstream connections, pooled per worker and cluster: a request takes an idle
// keep-alive connection or opens a new one; a connection carries one request at a time and
// goes back to the pool when its response completed cleanly with keep-alive.
#pragma once

#include <uv.h>

#include <list>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/common/intrusive_list.h"
#include "proxy/event/event_loop.h"
#include "proxy/http/http1_parser.h"
#include "proxy/net/connection.h"
#include "proxy/upstream/cluster.h"
#include "proxy/upstream/conn_pool.h"

namespace remora::upstream {

class Http1Pool;

// One upstream connection and its response parser.
class Http1Client : public UpstreamRequest,
                    public net::Connection::Callbacks,
                    public http::Http1Parser::Callbacks {
 public:
  Http1Client(Http1Pool& pool, net::Connection* conn, net::Address host);
  ~Http1Client() override;

  const net::Address& host() const override { return host_; }
  net::Connection& connection() { return *conn_; }

  // Sends the request head and binds the stream's callbacks until the response completes.
  void startRequest(const http::RequestHeaders& headers, http::BodyFraming framing, bool head,
                    UpstreamStreamCallbacks* callbacks) override;
  // Request body bytes, framed as startRequest was told; `end_stream` finishes the request.
  void sendData(std::string_view data, bool end_stream) override;
  void sendTrailers(const http::HeaderMap& trailers) override;
  // The stream gives up (timeout, downstream gone): the connection cannot be reused.
  void resetStream() override;
  // Backpressure from the downstream: stop / resume reading the response.
  void readDisable(bool disable) override;

  // --- net::Connection::Callbacks ---
  void onConnect(net::Connection& conn, int status) override;
  void onData(net::Connection& conn, event::Block* block) override;
  void onEof(net::Connection& conn) override;
  void onError(net::Connection& conn, int uv_error) override;
  void onAboveWriteWatermark(net::Connection& conn) override;
  void onBelowWriteWatermark(net::Connection& conn) override;
  void onClosed(net::Connection& conn) override;

  // --- http::Http1Parser::Callbacks ---
  void onResponseHeaders(http::ResponseHeaders&& headers, bool end_stream) override;
  void onBody(std::string_view data) override;
  void onMessageComplete(http::HeaderMap&& trailers) override;

 private:
  friend class Http1Pool;
  void streamBroken(std::string_view detail);
  // Abort (RST) for a broken or abandoned exchange; Flush (FIN) for a clean idle connection.
  void close(net::Connection::CloseMode mode = net::Connection::CloseMode::Abort);

  Http1Pool& pool_;
  net::Connection* conn_;
  net::Address host_;
  http::Http1Parser parser_;
  UpstreamStreamCallbacks* stream_ = nullptr;
  http::BodyFraming framing_ = http::BodyFraming::None;
  bool connected_ = false;
  bool request_done_ = false;  // the whole request has been queued
  bool response_started_ = false;
  bool response_done_ = false;
  bool informational_ = false;  // the message being parsed is a 1xx
  bool closing_ = false;
  bool remote_closed_ = false;
  ListHook<Http1Client> idle_hook_;  // in the pool's idle list
  event::Timeout idle_timeout_;      // armed while idle
  uint32_t requests_ = 0;            // started on this connection
  uv_timer_t connect_timer_;
  bool connecting_ = false;
};

class Http1Pool : public ConnPool {
 public:
  Http1Pool(event::EventLoop& loop, ClusterSharedPtr cluster, HostSharedPtr host, size_t worker,
            bool high_priority);
  ~Http1Pool() override;
  Http1Pool(const Http1Pool&) = delete;
  Http1Pool& operator=(const Http1Pool&) = delete;

  // Asks for a connection. Returns 0 when the callback already ran (an idle connection, or an
  // immediate failure); otherwise a handle for cancel().
  uint64_t newStream(Callbacks& callbacks) override;
  void cancel(uint64_t handle) override;

  const Cluster& cluster() const { return *cluster_; }
  ClusterStats& stats() { return cluster_->stats(worker_); }
  event::EventLoop& loop() { return loop_; }
  size_t idleCount() const { return idle_.size(); }
  size_t activeCount() const override { return clients_; }
  size_t busyCount() const override { return clients_ - idle_.size() + pending_.size(); }
  void setCluster(ClusterSharedPtr cluster) override { cluster_ = std::move(cluster); }
  const HostSharedPtr& host() const { return host_; }
  // Closes idle connections; busy ones close when their request ends. The pool may be
  // destroyed once activeCount() is zero.
  void drain() override;

 private:
  friend class Http1Client;
  struct Pending {
    uint64_t id;
    Callbacks* callbacks;
  };
  // Called by clients.
  void onConnected(Http1Client* client);
  void onConnectFailed(Http1Client* client, std::string_view detail);
  void release(Http1Client* client);  // response done with keep-alive: back to idle
  void onIdleTimeout(Http1Client* client);
  void onClientClosed(Http1Client* client);
  void maybeOpen();
  bool openConnection();  // false: failed at once (a waiting request was told)

  event::EventLoop& loop_;
  ClusterSharedPtr cluster_;
  HostSharedPtr host_;
  size_t worker_;
  bool high_;
  size_t connecting_ = 0;
  IntrusiveList<Http1Client, &Http1Client::idle_hook_> idle_;
  std::list<Pending> pending_;
  uint64_t next_id_ = 1;
  size_t clients_ = 0;
  bool draining_ = false;
};

}  // namespace remora::upstream
