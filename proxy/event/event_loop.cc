// Event loop lifecycle and cross-thread task posting.
#include "proxy/event/event_loop.h"

#include <algorithm>

#include "proxy/common/assert.h"
#include "proxy/common/log.h"

namespace remora::event {

EventLoop::EventLoop(std::string name) : name_(std::move(name)) {
  RELEASE_ASSERT(uv_loop_init(&loop_) == 0, "uv_loop_init");
  RELEASE_ASSERT(uv_async_init(&loop_, &async_, &EventLoop::onAsync) == 0, "uv_async_init");
  async_.data = this;
  uv_check_init(&loop_, &check_);
  check_.data = this;
  uv_idle_init(&loop_, &idle_);
}

void EventLoop::deferToEndOfIteration(EndOfIteration* task) {
  if (task->queued_) return;
  task->queued_ = true;
  end_tasks_.push_back(task);
  if (end_tasks_.size() == 1) {
    uv_check_start(&check_, &EventLoop::onCheck);
    uv_idle_start(&idle_, [](uv_idle_t*) {});
  }
}

void EventLoop::cancelEndOfIteration(EndOfIteration* task) {
  if (!task->queued_) return;
  task->queued_ = false;
  std::erase(end_tasks_, task);
  std::replace(running_.begin(), running_.end(), task, static_cast<EndOfIteration*>(nullptr));
}

void EventLoop::onCheck(uv_check_t* handle) {
  auto* self = static_cast<EventLoop*>(handle->data);
  while (!self->end_tasks_.empty()) {
    self->running_.swap(self->end_tasks_);
    for (size_t i = 0; i < self->running_.size(); ++i) {
      EndOfIteration* t = self->running_[i];
      if (t == nullptr) continue;  // cancelled while earlier ones ran
      t->queued_ = false;
      t->runEndOfIteration();
    }
    self->running_.clear();
  }
  uv_check_stop(&self->check_);
  uv_idle_stop(&self->idle_);
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
  timeouts_.close();
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), nullptr);
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
