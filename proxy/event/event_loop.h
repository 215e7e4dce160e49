// One libuv loop with what every loop in remora needs: a block pool, a thread-safe task queue
// (uv_async_send coalesces, so the queue is always drained whole), and orderly shutdown.
#pragma once

#include <uv.h>

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "proxy/event/block_pool.h"
#include "proxy/event/timeout.h"

namespace remora::event {

// Work that runs once at the end of the current loop iteration, after every I/O callback of
// it: connections coalesce the small writes one event produces (a response head and its body)
// into one syscall and one segment.
class EndOfIteration {
 public:
  virtual void runEndOfIteration() = 0;

 protected:
  virtual ~EndOfIteration() = default;

 private:
  friend class EventLoop;
  bool queued_ = false;
};

class EventLoop {
 public:
  explicit EventLoop(std::string name);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  uv_loop_t* uv() { return &loop_; }
  BlockPool& blocks() { return blocks_; }
  TimeoutQueues& timeouts() { return timeouts_; }
  const std::string& name() const { return name_; }
  // Cached loop time in milliseconds (uv_now).
  uint64_t now() const { return uv_now(&loop_); }

  // Runs fn on this loop's thread. Safe from any thread; a no-op after shutdown().
  void post(std::function<void()> fn);

  // From the loop's thread: runs task->runEndOfIteration() once, at the end of this iteration
  // (the loop does not block in poll meanwhile). cancel() before the task goes away.
  void deferToEndOfIteration(EndOfIteration* task);
  void cancelEndOfIteration(EndOfIteration* task);

  // Runs the loop until every handle is closed (after shutdown() and the owners' closes).
  void run();
  // From the loop's thread: closes the task queue's handle so that run() can return once the
  // other handles are closed. Tasks posted before this still run.
  void shutdown();
  // After run() returned: uv_loop_close; true when no handle was left open.
  bool close();

 private:
  static void onAsync(uv_async_t* handle);
  static void onCheck(uv_check_t* handle);
  void drainTasks();

  std::string name_;
  uv_loop_t loop_;
  uv_async_t async_;
  uv_check_t check_;  // runs the end-of-iteration tasks
  uv_idle_t idle_;    // active while tasks wait: poll does not block
  std::vector<EndOfIteration*> end_tasks_;
  std::vector<EndOfIteration*> running_;
  BlockPool blocks_;
  TimeoutQueues timeouts_{&loop_};
  std::mutex mu_;
  std::vector<std::function<void()>> tasks_;  // guarded by mu_
  bool accepting_ = true;                     // guarded by mu_
  bool closed_ = false;
};

}  // namespace remora::event
