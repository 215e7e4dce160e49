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
  enum class State : unsigned char { None, Alive, Gone };
  struct List {
    Node* head = nullptr;
    size_t count = 0;
    List() { state() = State::Alive; }
    ~List() {
      state() = State::Gone;
      while (head != nullptr) {
        Node* n = head;
        head = n->next;
        ::operator delete(n);
      }
    }
  };
  static State& state() {
    static thread_local State s = State::None;
    return s;
  }
  // Null once the thread's list is destroyed (at thread exit): blocks go to the allocator then.
  static List* threadList() {
    static thread_local List list;  // made on the first use in the thread
    if (state() == State::Gone) return nullptr;
    return &list;
  }
};

}  // namespace remora
