// Per-duration timeout queues: order, disarming, re-arming from callbacks, queue lifetime.
#include "proxy/event/timeout.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "proxy/event/event_loop.h"

namespace remora::event {
namespace {

// Runs the loop until `done` or 5 s of loop time pass (a guard, not a timing assertion).
template <typename Done>
void runUntil(EventLoop& loop, Done done) {
  uint64_t start = loop.now();
  while (!done() && loop.now() - start < 5000) uv_run(loop.uv(), UV_RUN_ONCE);
}

TEST_CASE("timeouts fire in deadline order across durations, each once", "[event]") {
  EventLoop loop("t");
  std::vector<std::string> fired;
  Timeout a(loop.timeouts(), [&] { fired.push_back("a30"); });
  Timeout b(loop.timeouts(), [&] { fired.push_back("b10"); });
  Timeout c(loop.timeouts(), [&] { fired.push_back("c30"); });
  Timeout d(loop.timeouts(), [&] { fired.push_back("d60"); });
  a.enable(30);
  b.enable(10);
  c.enable(30);
  d.enable(60);
  CHECK(a.enabled());
  CHECK(loop.timeouts().queueCount() == 3);
  runUntil(loop, [&] { return fired.size() == 4; });
  CHECK(fired == std::vector<std::string>{"b10", "a30", "c30", "d60"});
  CHECK_FALSE(a.enabled());
  CHECK_FALSE(d.enabled());
  // Each queue found itself empty when its timer fired, and went.
  runUntil(loop, [&] { return loop.timeouts().queueCount() == 0; });
  CHECK(loop.timeouts().queueCount() == 0);
  loop.shutdown();
  uv_run(loop.uv(), UV_RUN_NOWAIT);
  CHECK(loop.close());
}

TEST_CASE("a disarmed or re-armed timeout does not fire at its old deadline", "[event]") {
  EventLoop loop("t");
  int a_fired = 0, b_fired = 0, c_fired = 0;
  uint64_t b_at = 0;
  Timeout a(loop.timeouts(), [&] { ++a_fired; });
  Timeout b(loop.timeouts(), [&] {
    ++b_fired;
    b_at = loop.now();
  });
  Timeout c(loop.timeouts(), [&] { ++c_fired; });
  uint64_t start = loop.now();
  a.enable(20);
  b.enable(20);
  c.enable(20);
  a.disable();
  a.disable();  // twice is fine
  // b goes to the back of its queue with a later deadline: the queue's timer, set for the
  // head, fires for c, finds b not due, and re-arms for it.
  uv_update_time(loop.uv());
  uv_sleep(5);
  uv_update_time(loop.uv());
  b.enable(20);
  runUntil(loop, [&] { return b_fired == 1; });
  CHECK(a_fired == 0);
  CHECK(c_fired == 1);
  CHECK(b_fired == 1);
  CHECK(b_at - start >= 25);  // 5 ms later + 20 ms, by loop time
  // enable(0) disarms.
  c.enable(20);
  c.enable(0);
  CHECK_FALSE(c.enabled());
  runUntil(loop, [&] { return loop.timeouts().queueCount() == 0; });
  CHECK(c_fired == 1);
  loop.shutdown();
  uv_run(loop.uv(), UV_RUN_NOWAIT);
  CHECK(loop.close());
}

TEST_CASE("callbacks may re-arm, arm others and destroy timeouts", "[event]") {
  EventLoop loop("t");
  int rearmed = 0, other_fired = 0;
  auto doomed =
      std::make_unique<Timeout>(loop.timeouts(), [] { FAIL("destroyed, must not fire"); });
  Timeout other(loop.timeouts(), [&] { ++other_fired; });
  std::unique_ptr<Timeout> self;
  self = std::make_unique<Timeout>(loop.timeouts(), [&] {
    if (++rearmed < 3) self->enable(10);  // itself, in the queue that is firing
    doomed.reset();                       // an entry behind it in the same queue
    other.enable(5);                      // another duration
  });
  self->enable(10);
  doomed->enable(10);
  runUntil(loop, [&] { return rearmed == 3 && other_fired >= 1; });
  CHECK(rearmed == 3);
  CHECK(other_fired >= 1);
  // A timeout destroyed by its own callback, and the one behind it still fires.
  bool fired = false, next_fired = false;
  std::unique_ptr<Timeout> owner;
  owner = std::make_unique<Timeout>(loop.timeouts(), [&] {
    fired = true;
    owner.reset();
  });
  Timeout next(loop.timeouts(), [&] { next_fired = true; });
  owner->enable(5);
  next.enable(5);
  runUntil(loop, [&] { return next_fired; });
  CHECK(fired);
  CHECK(next_fired);
  CHECK(owner == nullptr);
  loop.shutdown();
  uv_run(loop.uv(), UV_RUN_NOWAIT);
  CHECK(loop.close());
}

TEST_CASE("a timeout re-armed after its queue went gets a new queue", "[event]") {
  EventLoop loop("t");
  int fired = 0;
  Timeout a(loop.timeouts(), [&] { ++fired; });
  Timeout other(loop.timeouts(), [] {});
  for (int round = 1; round <= 3; ++round) {
    a.enable(5);
    runUntil(loop, [&] { return fired == round; });
    CHECK(fired == round);
    // Its queue finds itself empty when it fires and is freed (the other one too); another
    // queue of another duration may then sit at the same address.
    runUntil(loop, [&] { return loop.timeouts().queueCount() == 0; });
    CHECK(loop.timeouts().queueCount() == 0);
    other.enable(7);
    other.disable();
  }
  loop.shutdown();
  uv_run(loop.uv(), UV_RUN_NOWAIT);
  CHECK(loop.close());
}

TEST_CASE("shutting the loop down disarms what is armed and closes every queue", "[event]") {
  EventLoop loop("t");
  int fired = 0;
  Timeout a(loop.timeouts(), [&] { ++fired; });
  Timeout b(loop.timeouts(), [&] { ++fired; });
  a.enable(60000);
  b.enable(120000);
  loop.shutdown();
  CHECK_FALSE(a.enabled());
  b.enable(10);  // after shutdown: stays disarmed
  CHECK_FALSE(b.enabled());
  loop.run();  // returns: no timer keeps the loop alive
  CHECK(fired == 0);
  CHECK(loop.close());
  a.disable();  // the owners outlive the queues safely
}

TEST_CASE("many timeouts of one duration use one queue and fire together", "[event]") {
  EventLoop loop("t");
  constexpr int kCount = 10000;
  int fired = 0;
  std::vector<std::unique_ptr<Timeout>> ts;
  for (int i = 0; i < kCount; ++i) {
    ts.push_back(std::make_unique<Timeout>(loop.timeouts(), [&] { ++fired; }));
    ts.back()->enable(15);
  }
  for (int i = 0; i < kCount; i += 2) ts[static_cast<size_t>(i)]->disable();
  CHECK(loop.timeouts().queueCount() == 1);
  runUntil(loop, [&] { return fired == kCount / 2; });
  CHECK(fired == kCount / 2);
  loop.shutdown();
  uv_run(loop.uv(), UV_RUN_NOWAIT);
  CHECK(loop.close());
}

}  // namespace
}  // namespace remora::event
