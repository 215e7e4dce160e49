// Block recycling.
#include "proxy/event/block_pool.h"

#include <cstdlib>
#include <new>

namespace remora::event {

BlockPool::~BlockPool() {
  while (free_ != nullptr) {
    Block* b = free_;
    free_ = b->next;
    b->~Block();
    std::free(b);
  }
}

Block* BlockPool::acquire() {
  Block* b = free_;
  if (b != nullptr) {
    free_ = b->next;
    --free_count_;
  } else {
    void* mem = std::malloc(Block::kSize);
    if (mem == nullptr) throw std::bad_alloc();
    b = new (mem) Block();
  }
  b->next = nullptr;
  b->owner = nullptr;
  b->start = 0;
  b->len = 0;
  ++outstanding_;
  return b;
}

void BlockPool::release(Block* block) {
  --outstanding_;
  if (free_count_ >= max_free_) {
    block->~Block();
    std::free(block);
    return;
  }
  block->next = free_;
  free_ = block;
  ++free_count_;
}

}  // namespace remora::event
