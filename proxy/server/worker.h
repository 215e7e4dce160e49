// A worker: one thread, one libuv loop, its own listener sockets (SO_REUSEPORT), sessions,
// stats shard and current configuration snapshot. Other threads talk to it only by post().
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "proxy/config/config.h"
#include "proxy/event/event_loop.h"
#include "proxy/http/access_log.h"
#include "proxy/server/session.h"
#include "proxy/server/snapshot.h"
#include "proxy/upstream/conn_pool.h"
#include "proxy/upstream/http1_pool.h"
#include "proxy/upstream/http2_pool.h"
#include "proxy/upstream/load_balancer.h"

namespace remora::server {

class ActiveListener;

// What a new snapshot changes about a worker's sockets.
struct SocketChanges {
  std::map<std::string, int> open;  // listener name -> this worker's new bound socket
  std::vector<std::string> close;   // listener names whose socket goes away
};

class Worker {
 public:
  explicit Worker(uint32_t index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  uint32_t index() const { return index_; }
  event::EventLoop& loop() { return loop_; }
  // This worker's unwritten access log lines (its thread only).
  http::AccessLogBuffers& accessLogs() { return access_logs_; }

  void start();
  // Waits for the thread to end (after shutdown()); returns whether the loop closed cleanly.
  bool join();

  // --- Called on the worker's own thread (through post) ---
  // Installs a configuration version: opens and closes sockets, points the others at their
  // new listener versions. Sessions of listener versions that are gone keep running and are
  // reset after `drain_time` unless they finish first.
  void applySnapshot(SnapshotSharedPtr snapshot, SocketChanges changes,
                     config::Duration drain_time);
  const Snapshot& snapshot() const { return *snapshot_; }
  // Stops accepting on every listener (drain). Calls on_drained once no session is left.
  void stopListeners(std::function<void()> on_drained);
  // Resets every open session, closes listeners and ends the loop.
  void shutdown();

  // Sessions register here so that drain and shutdown can find them; the worker keeps the
  // listener's downstream_cx_active/destroy counts.
  void addSession(Session* s, ListenerSharedPtr listener);
  void removeSession(Session* s);
  size_t activeSessions() const { return sessions_.size(); }

  // The host for a request or connection, by this worker's balancer for the cluster (rebuilt
  // when the cluster's membership or health changes). ORIGINAL_DST clusters: the host of
  // `original_dst`. nullptr: no host at all.
  upstream::HostSharedPtr chooseHost(const upstream::ClusterSharedPtr& cluster,
                                     const upstream::LbContext& context,
                                     const net::Address* original_dst);
  // The balancer's feedback (peak EWMA): a request to `host` of `cluster` started / ended.
  upstream::LoadBalancer* loadBalancer(const upstream::ClusterSharedPtr& cluster);
  // The balancer in use for a cluster name, without rebuilding it (null if none).
  upstream::LoadBalancer* currentBalancer(const std::string& cluster) const {
    auto it = balancers_.find(cluster);
    return it == balancers_.end() ? nullptr : it->second.lb.get();
  }

  // This worker's connection pool for a host of a cluster (made on first use): HTTP/2 when the
  // cluster says so (or follows the downstream, and it is HTTP/2), else HTTP/1.1; one per
  // routing priority, for the circuit breakers. A host that a new snapshot no longer has gets
  // its pools drained: idle connections close, busy ones finish.
  upstream::ConnPool& connPool(const upstream::ClusterSharedPtr& cluster,
                               const upstream::HostSharedPtr& host, bool downstream_h2,
                               bool high_priority);
  size_t activeListeners() const { return listeners_.size(); }

 private:
  void checkDrained();
  void armDrainTimer();
  static void onDrainTimer(uv_timer_t* timer);

  uint32_t index_;
  event::EventLoop loop_;
  std::thread thread_;
  SessionList sessions_;
  SnapshotSharedPtr snapshot_;
  std::map<std::string, ActiveListener*> listeners_;  // by listener name
  // Listener versions no longer in force, and when their remaining sessions are reset.
  std::vector<std::pair<ListenerSharedPtr, uint64_t>> retired_;
  struct PoolKey {
    const upstream::Host* host;
    bool h2;
    bool high;
    auto operator<=>(const PoolKey&) const = default;
  };
  struct PoolEntry {
    std::string cluster;  // the cluster's name
    upstream::HostSharedPtr host;
    std::unique_ptr<upstream::ConnPool> pool;
  };
  std::map<PoolKey, PoolEntry> pools_;
  std::vector<std::unique_ptr<upstream::ConnPool>> retired_pools_;
  // Per cluster name: the balancer, and the cluster version and health generation it was
  // built from.
  struct Balancer {
    const upstream::Cluster* version = nullptr;
    uint64_t generation = 0;
    std::unique_ptr<upstream::LoadBalancer> lb;
  };
  std::map<std::string, Balancer> balancers_;
  // ORIGINAL_DST hosts, per cluster name and destination (made on first use; a host whose
  // pools are idle goes at the next sweep).
  absl::flat_hash_map<std::pair<std::string, net::Address>, upstream::HostSharedPtr>
      original_dst_hosts_;
  event::Timeout sweep_timer_;
  http::AccessLogBuffers access_logs_;
  void sweepOriginalDst();
  uint64_t seed_;
  uv_timer_t drain_timer_;
  std::function<void()> on_drained_;
  bool clean_exit_ = false;
  bool started_ = false;
};

}  // namespace remora::server
