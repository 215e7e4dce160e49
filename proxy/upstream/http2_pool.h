// HTTP/2 upstream connections (nghttp2, client side), pooled per worker and cluster: requests
// are streams multiplexed on as few connections as the peer's SETTINGS_MAX_CONCURRENT_STREAMS
// and the cluster's max_concurrent_streams allow; a connection that got GOAWAY takes no new
// streams and closes when its last one ends.
#pragma once

#include <list>
#include <memory>
#include <string>

#include "proxy/event/event_loop.h"
#include "proxy/upstream/cluster.h"
#include "proxy/upstream/conn_pool.h"

namespace remora::upstream {

class H2Connection;

class Http2Pool : public ConnPool {
 public:
  Http2Pool(event::EventLoop& loop, ClusterSharedPtr cluster, HostSharedPtr host, size_t worker,
            bool high_priority);
  ~Http2Pool() override;

  uint64_t newStream(Callbacks& callbacks) override;
  void cancel(uint64_t handle) override;
  void drain() override;
  size_t activeCount() const override { return conns_.size(); }
  size_t busyCount() const override;
  void setCluster(ClusterSharedPtr cluster) override { cluster_ = std::move(cluster); }
  const HostSharedPtr& host() const { return host_; }

  const Cluster& cluster() const { return *cluster_; }
  ClusterStats& stats() { return cluster_->stats(worker_); }
  event::EventLoop& loop() { return loop_; }

  // From connections.
  void onConnected(H2Connection* conn);
  void onConnectFailed(H2Connection* conn, std::string_view detail);
  void onCapacity(H2Connection* conn);  // a stream ended or the peer allowed more
  void onClosed(H2Connection* conn);

 private:
  struct Pending {
    uint64_t id;
    Callbacks* callbacks;
    H2Connection* conn;  // the connection being opened for it; null: waiting for room
  };
  void serve(H2Connection* conn);
  H2Connection* openConnection(std::string* error);  // null: failed at once (see error)

  event::EventLoop& loop_;
  ClusterSharedPtr cluster_;
  HostSharedPtr host_;
  size_t worker_;
  bool high_;
  std::list<std::unique_ptr<H2Connection>> conns_;
  std::list<Pending> pending_;
  uint64_t next_id_ = 1;
  bool draining_ = false;
};

}  // namespace remora::upstream
