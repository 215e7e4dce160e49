// Owner-independent timers.
#include "proxy/event/timer.h"

namespace remora::event {

Timer::Timer(uv_loop_t* loop, std::function<void()> cb) : handle_(new Handle), cb_(std::move(cb)) {
  uv_timer_init(loop, &handle_->timer);
  handle_->owner = this;
  handle_->timer.data = handle_;
}

Timer::~Timer() {
  uv_timer_stop(&handle_->timer);
  handle_->owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_->timer),
           [](uv_handle_t* h) { delete static_cast<Handle*>(h->data); });
}

void Timer::enable(uint64_t ms) {
  uv_timer_start(
      &handle_->timer,
      [](uv_timer_t* t) {
        auto* h = static_cast<Handle*>(t->data);
        if (h->owner != nullptr) h->owner->cb_();
      },
      ms, 0);
}

void Timer::disable() { uv_timer_stop(&handle_->timer); }

bool Timer::enabled() const {
  return uv_is_active(reinterpret_cast<const uv_handle_t*>(&handle_->timer)) != 0;
}

}  // namespace remora::event
