// A worker: one thread, one libuv loop, its own listener sockets (SO_REUSEPORT), sessions,
// stats shard and current configuration snapshot. Other threads talk to it only by post().
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/event/event_loop.h"
#include "proxy/server/session.h"
#include "proxy/server/snapshot.h"
#include "proxy/upstream/conn_pool.h"
#include "proxy/upstream/http1_pool.h"
#include "proxy/upstream/http2_pool.h"

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

  // This worker's connection pool for a cluster (made on first use): HTTP/2 when the cluster
  // says so (or follows the downstream, and it is HTTP/2), else HTTP/1.1. A cluster that a
  // new snapshot replaces has its pools drained: idle connections close, busy ones finish.
  upstream::ConnPool& connPool(const upstream::ClusterSharedPtr& cluster, bool downstream_h2);
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
  std::map<std::pair<const upstream::Cluster*, bool>, std::unique_ptr<upstream::ConnPool>> pools_;
  std::vector<std::unique_ptr<upstream::ConnPool>> retired_pools_;
  uv_timer_t drain_timer_;
  std::function<void()> on_drained_;
  bool clean_exit_ = false;
  bool started_ = false;
};

}  // namespace remora::server
