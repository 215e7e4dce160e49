// Event loop task posting, shutdown, and the block pool.
#include "proxy/event/event_loop.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

namespace remora::event {
namespace {

TEST_CASE("tasks posted from many threads all run on the loop thread", "[event]") {
  EventLoop loop("t");
  std::atomic<int> ran{0};
  std::thread::id loop_thread;
  std::thread runner([&] {
    loop_thread = std::this_thread::get_id();
    loop.run();
  });
  std::vector<std::thread> posters;
  std::atomic<bool> wrong_thread{false};
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        loop.post([&] {
          if (std::this_thread::get_id() != loop_thread) wrong_thread = true;
          ++ran;
        });
      }
    });
  }
  for (auto& p : posters) p.join();
  loop.post([&] { loop.shutdown(); });
  runner.join();
  CHECK(ran == 4000);
  CHECK_FALSE(wrong_thread);
  CHECK(loop.close());
  loop.post([&] { ++ran; });  // after shutdown: dropped, not run, not crashed
  CHECK(ran == 4000);
}

TEST_CASE("close reports handles left open", "[event]") {
  EventLoop loop("leaky");
  uv_timer_t timer;
  uv_timer_init(loop.uv(), &timer);
  loop.shutdown();
  uv_run(loop.uv(), UV_RUN_NOWAIT);
  CHECK_FALSE(loop.close());
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  uv_run(loop.uv(), UV_RUN_NOWAIT);
  CHECK(loop.close());
}

TEST_CASE("block pool recycles and bounds its idle list", "[event]") {
  BlockPool pool(2);
  Block* a = pool.acquire();
  Block* b = pool.acquire();
  Block* c = pool.acquire();
  CHECK(pool.outstanding() == 3);
  CHECK(Block::capacity() > 16000);
  a->len = 5;
  pool.release(a);
  pool.release(b);
  pool.release(c);  // over max_free: freed
  CHECK(pool.outstanding() == 0);
  CHECK(pool.idle() == 2);
  Block* d = pool.acquire();
  CHECK((d == a || d == b));
  CHECK(d->len == 0);
  pool.release(d);
}

}  // namespace
}  // namespace remora::event
