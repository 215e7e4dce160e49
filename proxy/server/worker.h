// A worker: one thread, one libuv loop, its own listener sockets (SO_REUSEPORT), sessions and
// stats shard. Other threads talk to it only through post().
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proxy/event/event_loop.h"
#include "proxy/server/session.h"

namespace remora::server {

class Listener;
class ActiveListener;

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
  // Starts accepting on an already bound socket; the worker owns fd from here on.
  void addListener(std::shared_ptr<const Listener> listener, int fd);
  // Stops accepting on every listener (drain). Calls on_drained once no session is left.
  void stopListeners(std::function<void()> on_drained);
  // Resets every open session, closes listeners and ends the loop.
  void shutdown();

  // Sessions register here so that drain and shutdown can find them; the worker keeps the
  // listener's downstream_cx_active/destroy counts.
  void addSession(Session* s, std::shared_ptr<const Listener> listener);
  void removeSession(Session* s);
  size_t activeSessions() const { return sessions_.size(); }
  size_t activeListeners() const { return listeners_.size(); }

 private:
  void checkDrained();

  uint32_t index_;
  event::EventLoop loop_;
  std::thread thread_;
  SessionList sessions_;
  std::vector<ActiveListener*> listeners_;
  std::function<void()> on_drained_;
  bool clean_exit_ = false;
};

}  // namespace remora::server
