// A doubly linked list threaded through its elements: linking and unlinking never allocate,
// and an element removes itself in O(1). The list does not own its elements.
#pragma once

#include <cstddef>

#include "proxy/common/assert.h"

namespace remora {

template <typename T>
struct ListHook {
  T* prev = nullptr;
  T* next = nullptr;
  bool linked = false;
};

template <typename T, ListHook<T> T::*Hook>
class IntrusiveList {
 public:
  IntrusiveList() = default;
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }
  T* front() const { return head_; }
  static bool linked(const T* t) { return (t->*Hook).linked; }

  void pushBack(T* t) {
    ListHook<T>& h = t->*Hook;
    ASSERT(!h.linked);
    h.prev = tail_;
    h.next = nullptr;
    h.linked = true;
    if (tail_ != nullptr) {
      (tail_->*Hook).next = t;
    } else {
      head_ = t;
    }
    tail_ = t;
    ++size_;
  }

  void remove(T* t) {
    ListHook<T>& h = t->*Hook;
    if (!h.linked) return;
    if (h.prev != nullptr) {
      (h.prev->*Hook).next = h.next;
    } else {
      head_ = h.next;
    }
    if (h.next != nullptr) {
      (h.next->*Hook).prev = h.prev;
    } else {
      tail_ = h.prev;
    }
    h = ListHook<T>{};
    --size_;
  }

  T* popFront() {
    T* t = head_;
    if (t != nullptr) remove(t);
    return t;
  }

  T* popBack() {
    T* t = tail_;
    if (t != nullptr) remove(t);
    return t;
  }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace remora
