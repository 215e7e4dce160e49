// A one-shot timer whose owner may be destroyed at any time: the libuv handle lives in its own
// heap block, closed and freed after the owner lets go (libuv forbids freeing an open handle).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>

namespace remora::event {

class Timer {
 public:
  Timer(uv_loop_t* loop, std::function<void()> cb);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // (Re)arms the timer; 0 ms fires on the next loop iteration.
  void enable(uint64_t ms);
  void disable();
  bool enabled() const;

 private:
  struct Handle {
    uv_timer_t timer;
    Timer* owner;
  };
  Handle* handle_;
  std::function<void()> cb_;
};

}  // namespace remora::event
