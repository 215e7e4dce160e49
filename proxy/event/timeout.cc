// Per-duration FIFO timeout queues.
#include "proxy/event/timeout.h"

#include "proxy/common/assert.h"

namespace remora::event {

class TimeoutQueue {
 public:
  TimeoutQueue(TimeoutQueues& owner, uint64_t ms) : owner_(owner), ms_(ms) {
    uv_timer_init(owner.loop_, &timer_);
    timer_.data = this;
  }

  void push(Timeout* t) {
    t->queue_ = this;
    t->deadline_ = uv_now(owner_.loop_) + ms_;
    t->prev_ = tail_;
    t->next_ = nullptr;
    if (tail_ != nullptr) {
      tail_->next_ = t;
    } else {
      head_ = t;
    }
    tail_ = t;
    // Entries go in deadline order, so a timer already set is early enough for this one. While
    // firing, onTimer() sets it for the head afterwards.
    if (!armed_ && !firing_) arm(ms_);
  }

  void unlink(Timeout* t) {
    if (t->prev_ != nullptr) {
      t->prev_->next_ = t->next_;
    } else {
      head_ = t->next_;
    }
    if (t->next_ != nullptr) {
      t->next_->prev_ = t->prev_;
    } else {
      tail_ = t->prev_;
    }
    t->prev_ = t->next_ = nullptr;
    t->queue_ = nullptr;
  }

  // Disarms every entry (their owners may outlive the loop's queues) and closes the timer; the
  // close callback frees the queue.
  void close() {
    while (head_ != nullptr) unlink(head_);
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_),
             [](uv_handle_t* h) { delete static_cast<TimeoutQueue*>(h->data); });
  }

 private:
  void arm(uint64_t ms) {
    armed_ = true;
    uv_timer_start(&timer_, &TimeoutQueue::onTimer, ms, 0);
  }

  static void onTimer(uv_timer_t* handle) {
    auto* self = static_cast<TimeoutQueue*>(handle->data);
    self->armed_ = false;
    self->firing_ = true;
    uint64_t now = uv_now(self->owner_.loop_);
    while (self->head_ != nullptr && self->head_->deadline_ <= now) {
      Timeout* t = self->head_;
      self->unlink(t);
      t->cb_();  // may arm or destroy any Timeout, this one included; never the queue
    }
    self->firing_ = false;
    if (self->owner_.closed_) return;  // a callback shut the loop down: the queue is closing
    if (self->head_ != nullptr) {
      self->arm(self->head_->deadline_ - now);
    } else {
      self->owner_.retire(self->ms_);
    }
  }

  TimeoutQueues& owner_;
  uint64_t ms_;
  uv_timer_t timer_;
  Timeout* head_ = nullptr;
  Timeout* tail_ = nullptr;
  bool armed_ = false;
  bool firing_ = false;
};

void Timeout::enable(uint64_t ms) {
  disable();
  if (ms == 0) return;
  TimeoutQueue* q;
  if (hint_ != nullptr && hint_ms_ == ms && hint_generation_ == queues_.generation_) {
    q = hint_;
  } else {
    q = queues_.queue(ms);
    if (q == nullptr) return;  // the loop is shutting down
    hint_ = q;
    hint_ms_ = ms;
    hint_generation_ = queues_.generation_;
  }
  q->push(this);
}

void Timeout::disable() {
  if (queue_ != nullptr) queue_->unlink(this);
}

TimeoutQueue* TimeoutQueues::queue(uint64_t ms) {
  if (closed_) return nullptr;
  auto [it, inserted] = queues_.try_emplace(ms, nullptr);
  if (inserted) it->second = new TimeoutQueue(*this, ms);
  return it->second;
}

void TimeoutQueues::retire(uint64_t ms) {
  auto it = queues_.find(ms);
  if (it == queues_.end()) return;
  TimeoutQueue* q = it->second;
  queues_.erase(it);
  ++generation_;
  q->close();
}

void TimeoutQueues::close() {
  if (closed_) return;
  closed_ = true;
  ++generation_;
  for (auto& [ms, q] : queues_) q->close();
  queues_.clear();
}

TimeoutQueues::~TimeoutQueues() {
  RELEASE_ASSERT(closed_ || queues_.empty(), "timeout queues destroyed while open");
}

}  // namespace remora::event
