// Timeouts for the data path: armed and disarmed per request without a heap allocation or a
// libuv timer operation.
//
// Nearly every timeout a proxy arms (stream idle, route timeout, connection idle) is cancelled
// long before it fires, and all of those of one duration are armed in time order. So a loop
// keeps one FIFO queue per duration, each with one libuv timer set for its head: arming is an
// append to an intrusive list, disarming an unlink. The libuv timer is only touched when a
// queue goes from empty to not empty, and when it fires (it then re-arms for the new head, and
// entries whose deadline has not come are left alone). Durations come from configuration, so
// the queues are few; a queue found empty when its timer fires is closed and freed.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <unordered_map>

namespace remora::event {

class TimeoutQueue;
class TimeoutQueues;

// One timeout, embedded in its owner. Not thread-safe: armed and fired on its loop's thread.
class Timeout {
 public:
  // The callback runs on the loop when the timeout expires; the Timeout is disarmed by then and
  // may be re-armed (or its owner destroyed) from inside it.
  Timeout(TimeoutQueues& queues, std::function<void()> cb) : queues_(queues), cb_(std::move(cb)) {}
  ~Timeout() { disable(); }
  Timeout(const Timeout&) = delete;
  Timeout& operator=(const Timeout&) = delete;

  // (Re)arms: fires `ms` (> 0) after the loop's current time. 0 disarms.
  void enable(uint64_t ms);
  void disable();
  bool enabled() const { return queue_ != nullptr; }

 private:
  friend class TimeoutQueue;
  friend class TimeoutQueues;
  TimeoutQueues& queues_;
  std::function<void()> cb_;
  TimeoutQueue* queue_ = nullptr;
  Timeout* prev_ = nullptr;
  Timeout* next_ = nullptr;
  uint64_t deadline_ = 0;
  // The queue of the last duration armed, valid while the queues' generation is unchanged
  // (saves the lookup when a timeout is re-armed with the same duration, the usual case).
  TimeoutQueue* hint_ = nullptr;
  uint64_t hint_ms_ = 0;
  uint64_t hint_generation_ = 0;
};

// Every queue of one loop. Owned by the EventLoop; close() on its thread before the loop's
// last run (timeouts armed after that never fire).
class TimeoutQueues {
 public:
  explicit TimeoutQueues(uv_loop_t* loop) : loop_(loop) {}
  ~TimeoutQueues();
  TimeoutQueues(const TimeoutQueues&) = delete;
  TimeoutQueues& operator=(const TimeoutQueues&) = delete;

  void close();
  size_t queueCount() const { return queues_.size(); }

 private:
  friend class Timeout;
  friend class TimeoutQueue;
  TimeoutQueue* queue(uint64_t ms);
  void retire(uint64_t ms);  // the queue is empty: closes its timer and frees it

  uv_loop_t* loop_;
  std::unordered_map<uint64_t, TimeoutQueue*> queues_;  // each freed by its timer's close
  uint64_t generation_ = 0;  // moves whenever a queue goes (Timeout::hint_)
  bool closed_ = false;
};

}  // namespace remora::event
