// Fixed-size I/O blocks recycled per event loop: a read fills a block, the same block is
// written to the peer (its uv_write_t is inside it), and completion returns it to the pool.
// No allocation and no copy per read once the pool is warm.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>

namespace remora::event {

struct Block {
  static constexpr uint32_t kSize = 64 * 1024;

  uv_write_t req;  // the write of this block, when it is queued on a stream
  Block* next = nullptr;
  void* owner = nullptr;  // the connection that is writing it
  uint32_t start = 0;     // valid bytes are data[start, start + len)
  uint32_t len = 0;

  static constexpr uint32_t capacity();
  char* begin() { return data + start; }
  char data[];  // extends to the end of the allocation (kSize bytes in all)
};

constexpr uint32_t Block::capacity() { return kSize - offsetof(Block, data); }

// One per loop; not thread-safe. Keeps at most `max_free` idle blocks.
class BlockPool {
 public:
  explicit BlockPool(size_t max_free = 512) : max_free_(max_free) {}
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  Block* acquire();
  void release(Block* block);

  // Blocks handed out and not yet released: the bytes in flight on this loop.
  size_t outstanding() const { return outstanding_; }
  size_t idle() const { return free_count_; }

 private:
  Block* free_ = nullptr;
  size_t free_count_ = 0;
  size_t outstanding_ = 0;
  size_t max_free_;
};

}  // namespace remora::event
