// Event loop lifecycle and cross-thread task posting.
#include "proxy/event/event_loop.h"

#include "proxy/common/assert.h"
#include "proxy/common/log.h"

namespace remora::event {

EventLoop::EventLoop(std::string name) : name_(std::move(name)) {
  RELEASE_ASSERT(uv_loop_init(&loop_) == 0, "uv_loop_init");
  RELEASE_ASSERT(uv_async_init(&loop_, &async_, &EventLoop::onAsync) == 0, "uv_async_init");
  async_.data = this;
}

EventLoop::~EventLoop() {
  if (!closed_) close();
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!accepting_) return;
    tasks_.push_back(std::move(fn));
  }
  uv_async_send(&async_);
}

void EventLoop::onAsync(uv_async_t* handle) { static_cast<EventLoop*>(handle->data)->drainTasks(); }

void EventLoop::drainTasks() {
  std::vector<std::function<void()>> batch;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch.swap(tasks_);
    }
    if (batch.empty()) return;
    for (auto& fn : batch) fn();
    batch.clear();
  }
}

void EventLoop::run() { uv_run(&loop_, UV_RUN_DEFAULT); }

void EventLoop::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!accepting_) return;
    accepting_ = false;
  }
  drainTasks();
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
}

bool EventLoop::close() {
  if (closed_) return true;
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&async_))) {
    shutdown();
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
  int rc = uv_loop_close(&loop_);
  if (rc != 0) {
    REMORA_LOG(Error, "loop %s: uv_loop_close: %s (handles still open)", name_, uv_err_name(rc));
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          REMORA_LOG(Error, "  open handle: %s", uv_handle_type_name(h->type));
        },
        nullptr);
    return false;
  }
  closed_ = true;
  return true;
}

}  // namespace remora::event
