// The per-thread allocator nghttp2 sessions are made with.
#include "proxy/http/nghttp2_mem.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <thread>
#include <vector>

#include "proxy/common/thread_cache.h"

namespace remora::http {
namespace {

TEST_CASE("nghttp2 allocator: malloc, calloc, realloc and free keep their promises",
          "[http][http2]") {
  // Every size class, its edges, and large blocks.
  for (size_t size : {1u, 31u, 32u, 33u, 100u, 512u, 1000u, 1024u, 1025u, 70000u}) {
    INFO(size);
    auto* p = static_cast<unsigned char*>(nghttp2Malloc(size, nullptr));
    REQUIRE(p != nullptr);
    CHECK(reinterpret_cast<uintptr_t>(p) % 16 == 0);
    memset(p, 0xab, size);
    // Growing keeps the contents, through classes and into a large block.
    auto* q = static_cast<unsigned char*>(nghttp2Realloc(p, size * 3 + 1, nullptr));
    REQUIRE(q != nullptr);
    bool kept = true;
    for (size_t i = 0; i < size; ++i) kept &= q[i] == 0xab;
    CHECK(kept);
    // Shrinking stays in place.
    CHECK(nghttp2Realloc(q, 1, nullptr) == q);
    nghttp2Free(q, nullptr);
    auto* z = static_cast<unsigned char*>(nghttp2Calloc(3, size, nullptr));
    REQUIRE(z != nullptr);
    bool zero = true;
    for (size_t i = 0; i < 3 * size; ++i) zero &= z[i] == 0;
    CHECK(zero);
    nghttp2Free(z, nullptr);
  }
  void* fresh = nghttp2Realloc(nullptr, 10, nullptr);  // realloc of null: a new block
  CHECK(fresh != nullptr);
  CHECK(nghttp2Realloc(fresh, 0, nullptr) == nullptr);        // realloc to 0: freed
  CHECK(nghttp2Calloc(SIZE_MAX / 2, 4, nullptr) == nullptr);  // overflow refused
  nghttp2Free(nullptr, nullptr);
}

TEST_CASE(
    "nghttp2 allocator: a freed block is reused by the same thread, and the cache is "
    "bounded",
    "[http][http2]") {
  if (!kThreadCacheEnabled) {
    CHECK(nghttp2Allocator() == nullptr);  // sanitizer builds: nghttp2's own malloc
    return;
  }
  REQUIRE(nghttp2Allocator() != nullptr);
  void* a = nghttp2Malloc(100, nullptr);
  nghttp2Free(a, nullptr);
  CHECK(nghttp2Malloc(120, nullptr) == a);  // the same 128-byte class
  nghttp2Free(a, nullptr);
  // Far more than 1 MiB freed at once: the lists keep 1 MiB, the rest goes back to malloc
  // (nothing to see but that nothing breaks, and the blocks still work when reused).
  std::vector<void*> blocks;
  for (int i = 0; i < 5000; ++i) blocks.push_back(nghttp2Malloc(1000, nullptr));
  for (void* b : blocks) nghttp2Free(b, nullptr);
  blocks.clear();
  for (int i = 0; i < 5000; ++i) {
    auto* b = static_cast<char*>(nghttp2Malloc(1000, nullptr));
    memset(b, i & 0xff, 1000);
    blocks.push_back(b);
  }
  bool intact = true;
  for (int i = 0; i < 5000; ++i) intact &= static_cast<char*>(blocks[i])[999] == char(i & 0xff);
  CHECK(intact);
  // Freed on another thread: it joins that thread's lists, or the allocator at its exit.
  std::thread([&] {
    for (void* b : blocks) nghttp2Free(b, nullptr);
  }).join();
}

}  // namespace
}  // namespace remora::http
