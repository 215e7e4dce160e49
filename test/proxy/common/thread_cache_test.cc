// ThreadCached (per-thread free lists for per-request objects) and InlineString.
#include "proxy/common/thread_cache.h"

#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "proxy/common/strings.h"

namespace remora {
namespace {

struct Base {
  virtual ~Base() = default;
};

struct Cached : Base, ThreadCached<Cached, 4> {
  explicit Cached(int v) : value(v) {}
  int value;
  char pad[100] = {};
};

// Derived from a cached class: a different size, so it bypasses the list.
struct Bigger : Cached {
  Bigger() : Cached(7) {}
  char more[64] = {};
};

}  // namespace

TEST_CASE("thread cache: freed blocks are reused on the same thread, up to its bound",
          "[thread_cache]") {
  if (!kThreadCacheEnabled) return;  // sanitizer builds: every block goes to the allocator
  // Start from an empty list, whatever ran before on this thread.
  std::vector<std::unique_ptr<Cached>> held;
  while (Cached::cachedOnThisThread() > 0) held.push_back(std::make_unique<Cached>(0));
  std::vector<std::unique_ptr<Base>> objects;
  for (int i = 0; i < 6; ++i) objects.push_back(std::make_unique<Cached>(i));
  std::set<void*> addresses;
  for (auto& o : objects) addresses.insert(o.get());
  objects.clear();  // deleted through the base: the class's own delete still runs
  CHECK(Cached::cachedOnThisThread() == 4);  // the bound; the other two went to the allocator
  // The next four come from the list, and are blocks seen before.
  for (int i = 0; i < 4; ++i) {
    auto c = std::make_unique<Cached>(10 + i);
    CHECK(c->value == 10 + i);
    CHECK(addresses.count(c.get()) == 1);
    objects.push_back(std::move(c));
  }
  CHECK(Cached::cachedOnThisThread() == 0);
  // A subclass is another size: it never takes or leaves a cached block.
  auto b = std::make_unique<Bigger>();
  CHECK(b->value == 7);
  b.reset();
  CHECK(Cached::cachedOnThisThread() == 0);
  objects.clear();
  CHECK(Cached::cachedOnThisThread() == 4);
}

TEST_CASE("thread cache: an object freed on another thread, or after its thread's list is gone",
          "[thread_cache]") {
  Cached* made_here = new Cached(1);
  std::thread t([&] {
    delete made_here;  // joins that thread's list, freed when the thread ends
    CHECK(Cached::cachedOnThisThread() == (kThreadCacheEnabled ? 1 : 0));
  });
  t.join();
  Cached* made_there = nullptr;
  std::thread u([&] { made_there = new Cached(2); });
  u.join();
  CHECK(made_there->value == 2);
  delete made_there;
}

TEST_CASE("inline string: short values inside, long ones on the heap, self-assignment",
          "[thread_cache]") {
  InlineString<8> s;
  CHECK(s.empty());
  s = std::string_view("abc");
  CHECK(s.view() == "abc");
  CHECK(s == "abc");
  s = std::string_view("123456789");  // past 8
  CHECK(s.view() == "123456789");
  CHECK(s.size() == 9);
  s = std::string_view("12345678");
  CHECK(s.view() == "12345678");
  s = s.view().substr(2);  // its own bytes
  CHECK(s.view() == "345678");
  InlineString<8> copy = s;
  s = std::string_view("x");
  CHECK(copy.view() == "345678");
  copy = copy;  // NOLINT(clang-diagnostic-self-assign-overloaded)
  CHECK(copy.view() == "345678");
  std::string as_string(s.view());
  CHECK(as_string == "x");
}

}  // namespace remora
