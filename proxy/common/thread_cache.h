// Per-thread free lists for objects made and destroyed for every request (the stream, its
// filters): a class that derives from ThreadCached<Self> gets a class-level operator new and
// delete that reuse this thread's freed blocks of its size instead of going to malloc. Each
// thread keeps at most kMax blocks; the rest go back to the allocator. A block freed on another
// thread joins that thread's list (workers only free their own).
#pragma once

#include <cstddef>
#include <new>

namespace remora {

#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer sees use-after-free only in memory that really goes back to the allocator:
// sanitizer builds recycle nothing (these lists and HeaderMap's storage pool alike).
inline constexpr bool kThreadCacheEnabled = false;
#else
inline constexpr bool kThreadCacheEnabled = true;
#endif

// One T per thread, made on the thread's first get() and destroyed at its exit; get() returns
// null from then on, so memory freed late (by an object that outlives the thread's pools) goes
// to the allocator instead of into a destroyed pool. The per-thread caches below all use it.
template <typename T>
class PerThread {
 public:
  static T* get() {
    if (state() == State::Gone) return nullptr;
    return &holder().value;
  }

 private:
  enum class State : unsigned char { None, Alive, Gone };
  // Trivially destructible: still readable after the holder is gone.
  static State& state() {
    static thread_local State s = State::None;
    return s;
  }
  struct Holder {
    T value;
    Holder() { state() = State::Alive; }
    ~Holder() { state() = State::Gone; }
  };
  static Holder& holder() {
    static thread_local Holder h;
    return h;
  }
};

template <typename T, size_t kMax = 512>
class ThreadCached {
 public:
  static void* operator new(size_t size) {
    if (kThreadCacheEnabled && size == sizeof(T)) {
      List* list = threadList();
      if (list != nullptr && list->head != nullptr) {
        Node* n = list->head;
        list->head = n->next;
        --list->count;
        return n;
      }
    }
    return ::operator new(size);
  }

  static void operator delete(void* p, size_t size) {
    if (p == nullptr) return;
    if (kThreadCacheEnabled && size == sizeof(T)) {
      List* list = threadList();
      if (list != nullptr && list->count < kMax) {
        Node* n = static_cast<Node*>(p);
        n->next = list->head;
        list->head = n;
        ++list->count;
        return;
      }
    }
    ::operator delete(p);
  }

  // Blocks waiting on this thread's list (for tests).
  static size_t cachedOnThisThread() {
    List* list = threadList();
    return list == nullptr ? 0 : list->count;
  }

 private:
  struct Node {
    Node* next;
  };
  struct List {
    Node* head = nullptr;
    size_t count = 0;
    ~List() {
      while (head != nullptr) {
        Node* n = head;
        head = n->next;
        ::operator delete(n);
      }
    }
  };
  // Null once the thread's list is destroyed (at thread exit): blocks go to the allocator then.
  static List* threadList() { return PerThread<List>::get(); }
};

}  // namespace remora
