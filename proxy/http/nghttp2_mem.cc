// Per-thread free lists for nghttp2's allocations.
#include "proxy/http/nghttp2_mem.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "proxy/common/thread_cache.h"

namespace remora::http {

namespace {

constexpr size_t kClassSizes[] = {32, 64, 128, 256, 512, 1024};
constexpr int kClasses = sizeof(kClassSizes) / sizeof(kClassSizes[0]);
constexpr uint32_t kLarge = 0xff;
constexpr size_t kMaxCachedBytes = 1 << 20;  // per thread

struct alignas(16) Header {
  uint64_t size;   // the usable size: the class's, or what a large block was asked for
  uint32_t klass;  // index into kClassSizes, or kLarge
  uint32_t magic;  // catches a pointer nghttp2 did not get from here
};
static_assert(sizeof(Header) == 16);
constexpr uint32_t kMagic = 0x6e676832;  // "ngh2"

struct FreeBlock {
  FreeBlock* next;
};

struct Lists {
  FreeBlock* head[kClasses] = {};
  size_t bytes = 0;
  ~Lists() {
    for (FreeBlock*& h : head) {
      while (h != nullptr) {
        FreeBlock* next = h->next;
        std::free(reinterpret_cast<Header*>(h) - 1);
        h = next;
      }
    }
  }
};
// Null after the thread's exit: blocks freed then go to the allocator.
Lists* lists() { return PerThread<Lists>::get(); }

int classOf(size_t size) {
  for (int c = 0; c < kClasses; ++c) {
    if (size <= kClassSizes[c]) return c;
  }
  return -1;
}

Header* headerOf(void* ptr) { return static_cast<Header*>(ptr) - 1; }

nghttp2_mem g_mem = {nullptr, &nghttp2Malloc, &nghttp2Free, &nghttp2Calloc, &nghttp2Realloc};

}  // namespace

nghttp2_mem* nghttp2Allocator() { return kThreadCacheEnabled ? &g_mem : nullptr; }

void* nghttp2Malloc(size_t size, void*) {
  int c = classOf(size);
  if (c >= 0) {
    Lists* l = lists();
    if (l != nullptr && l->head[c] != nullptr) {
      FreeBlock* b = l->head[c];
      l->head[c] = b->next;
      l->bytes -= kClassSizes[c];
      return b;  // its header is still in place
    }
  }
  size_t usable = c >= 0 ? kClassSizes[c] : size;
  auto* h = static_cast<Header*>(std::malloc(sizeof(Header) + usable));
  if (h == nullptr) return nullptr;
  h->size = usable;
  h->klass = c >= 0 ? static_cast<uint32_t>(c) : kLarge;
  h->magic = kMagic;
  return h + 1;
}

void nghttp2Free(void* ptr, void*) {
  if (ptr == nullptr) return;
  Header* h = headerOf(ptr);
  if (h->magic != kMagic) abort();  // not ours: freeing it would corrupt the heap
  if (h->klass != kLarge) {
    Lists* l = lists();
    size_t size = kClassSizes[h->klass];
    if (l != nullptr && l->bytes + size <= kMaxCachedBytes) {
      auto* b = static_cast<FreeBlock*>(ptr);
      b->next = l->head[h->klass];
      l->head[h->klass] = b;
      l->bytes += size;
      return;
    }
  }
  std::free(h);
}

void* nghttp2Calloc(size_t n, size_t size, void* user) {
  if (size != 0 && n > SIZE_MAX / size) return nullptr;
  void* p = nghttp2Malloc(n * size, user);
  if (p != nullptr) memset(p, 0, n * size);
  return p;
}

void* nghttp2Realloc(void* ptr, size_t size, void* user) {
  if (ptr == nullptr) return nghttp2Malloc(size, user);
  if (size == 0) {
    nghttp2Free(ptr, user);
    return nullptr;
  }
  Header* h = headerOf(ptr);
  if (size <= h->size) return ptr;  // it fits where it is
  void* p = nghttp2Malloc(size, user);
  if (p == nullptr) return nullptr;  // the old block stays valid, as realloc promises
  memcpy(p, ptr, h->size);
  nghttp2Free(ptr, user);
  return p;
}

}  // namespace remora::http
