// HeaderMap: order and repeats, removal, and the recycled storage (strings kept across clear and
// remove, storage handed between maps through the thread's pool) without changing what a map
// holds.
#include "proxy/http/headers.h"

#include "proxy/common/strings.h"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

namespace remora::http {
namespace {

std::vector<std::string> dump(const HeaderMap& h) {
  std::vector<std::string> out;
  for (const auto& e : h.entries()) out.push_back(std::string(e.name).append(": ").append(e.value));
  return out;
}

const std::string kLong(40, 'v');  // past the inline capacity of std::string

}  // namespace

TEST_CASE("header map keeps order and repeats, removes and sets", "[headers]") {
  HeaderMap h;
  h.add("a", "1");
  h.add("b", "2");
  h.add("a", "3");
  h.add("c", kLong);
  CHECK(dump(h) == std::vector<std::string>{"a: 1", "b: 2", "a: 3", "c: " + kLong});
  CHECK(h.byteSize() == 1 + 1 + 1 + 1 + 1 + 1 + 1 + kLong.size());
  CHECK(h.getJoined("a") == "1, 3");
  CHECK(h.count("a") == 2);
  CHECK(h.remove("a") == 2);
  CHECK(dump(h) == std::vector<std::string>{"b: 2", "c: " + kLong});
  CHECK(h.byteSize() == 2 + 1 + kLong.size());
  h.set("b", "x");
  CHECK(dump(h) == std::vector<std::string>{"c: " + kLong, "b: x"});
  h.add("d", "4");
  CHECK(dump(h) == std::vector<std::string>{"c: " + kLong, "b: x", "d: 4"});
  CHECK(h.removeIf([](const HeaderMap::Entry& e) { return e.name != "b"; }) == 2);
  CHECK(dump(h) == std::vector<std::string>{"b: x"});
  CHECK(h.byteSize() == 2);
}

TEST_CASE("header map: views into the map itself survive add and set", "[headers]") {
  HeaderMap h;
  h.add("x-a", kLong + "a");
  // Set to its own value: the value is read from a slot the set first removes.
  h.set("x-a", *h.get("x-a"));
  CHECK(dump(h) == std::vector<std::string>{"x-a: " + kLong + "a"});
  // Add from an entry while the storage grows past its initial room.
  for (int i = 0; i < 40; ++i) h.add("x-b", *h.get("x-a"));
  CHECK(h.size() == 41);
  for (const auto& e : h.entries()) CHECK(e.value == kLong + "a");
  // An entry's own name as another's value.
  h.clear();
  h.add("short", "s");
  h.set("short", h.entries()[0].name);
  CHECK(dump(h) == std::vector<std::string>{"short: short"});
}

TEST_CASE("header map: clear keeps the arena for the next adds, remove leaves bytes behind",
          "[headers]") {
  HeaderMap h;
  h.add("x-request-id", kLong + "a");
  const char* arena = h.entries()[0].name.data();
  h.clear();
  CHECK(h.empty());
  CHECK(h.byteSize() == 0);
  h.add("x-request-id", kLong + "b");
  CHECK(h.entries()[0].value == kLong + "b");
  CHECK(h.entries()[0].name.data() == arena);  // the same buffer, from its start
  // A removed entry's bytes stay where they were (a view taken before is still readable) and
  // the next entry goes after them.
  std::string_view old = h.entries()[0].value;
  h.remove("x-request-id");
  h.add("x-other", kLong + "c");
  CHECK(old == kLong + "b");
  CHECK(h.entries()[0].name.data() > arena);
  CHECK(dump(h) == std::vector<std::string>{"x-other: " + kLong + "c"});
  CHECK(h.byteSize() == 7 + kLong.size() + 1);
}

TEST_CASE("header map: a header set over and over is compacted, not grown without end",
          "[headers]") {
  HeaderMap h;
  h.add("first", "1");
  h.add("keep", kLong);
  const char* arena = h.entries()[0].name.data();
  for (int i = 0; i < 10000; ++i) {
    h.set("x-counter", cat(kLong, i));
    if (i % 3 == 0) h.set("keep", *h.get("keep"));  // from its own (about to be dead) bytes
  }
  CHECK(dump(h) ==
        std::vector<std::string>{"first: 1", "x-counter: " + kLong + "9999", "keep: " + kLong});
  // 10,000 sets of 50-byte values went through an arena of about a kilobyte: compacted in
  // place each time it filled, never reallocated.
  CHECK(h.entries()[0].name.data() == arena);
  CHECK(h.byteSize() == 5 + 1 + 4 + kLong.size() + 9 + kLong.size() + 4);

  // Growing while dead bytes are there: only the live entries move to the bigger arena.
  for (int i = 0; i < 200; ++i) h.add(cat("x-", i), kLong);
  h.remove("x-counter");
  for (int i = 200; i < 400; ++i) h.add(cat("x-", i), kLong);
  CHECK(h.size() == 402);
  CHECK(h.entries()[0].name == "first");
  CHECK(*h.get("keep") == kLong);
  for (int i = 0; i < 400; ++i) CHECK(*h.get(cat("x-", i)) == kLong);
  CHECK(h.count("x-counter") == 0);
}

TEST_CASE("header map: storage moves between maps through the pool, contents never do",
          "[headers]") {
  const char* buffer = nullptr;
  {
    HeaderMap a;
    a.add("x-long-value", kLong + "a");
    buffer = a.entries()[0].name.data();
  }  // a's storage goes to this thread's pool
  HeaderMap b;
  CHECK(b.empty());
  b.add("k", kLong + "c");
  CHECK(dump(b) == std::vector<std::string>{"k: " + kLong + "c"});
  if (kThreadCacheEnabled) CHECK(b.entries()[0].name.data() == buffer);  // recycled

  // Copies and moves carry the entries only; a moved map's views stay with their bytes.
  b.add("k2", "v2");
  HeaderMap c = b;
  CHECK(dump(c) == dump(b));
  CHECK(c.entries()[0].name.data() != b.entries()[0].name.data());
  HeaderMap d;
  d.add("old", "o");
  d = std::move(c);
  CHECK(dump(d) == dump(b));
  CHECK(c.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  c.add("fresh", "f");
  CHECK(dump(c) == std::vector<std::string>{"fresh: f"});
  HeaderMap e(std::move(d));
  CHECK(dump(e) == dump(b));
  CHECK(d.empty());  // NOLINT(bugprone-use-after-move)
  d = e;
  CHECK(dump(d) == dump(b));
  // A small map (its bytes would fit in a string's inline buffer) moved and swapped around.
  HeaderMap s1;
  s1.add("a", "b");
  HeaderMap s2(std::move(s1));
  HeaderMap s3;
  s3 = std::move(s2);
  CHECK(dump(s3) == std::vector<std::string>{"a: b"});
}

TEST_CASE("header map: a map may die on a thread whose pool is gone or never made", "[headers]") {
  HeaderMap* outlives = nullptr;
  std::thread t([&] {
    HeaderMap m;
    m.add("a", kLong);
    outlives = new HeaderMap(m);
  });
  t.join();
  CHECK(dump(*outlives) == std::vector<std::string>{"a: " + kLong});
  std::thread u([&] { delete outlives; });  // this thread never took storage
  u.join();
}

TEST_CASE("request headers clear keeps nothing of the last request", "[headers]") {
  RequestHeaders r;
  r.method = "POST";
  r.scheme = "https";
  r.authority = "example.com";
  r.path = "/a/b?c=d";
  r.protocol = "websocket";
  r.http_minor = 0;
  r.headers.add("a", "b");
  r.clear();
  CHECK(r.method.empty());
  CHECK(r.scheme.empty());
  CHECK(r.authority.empty());
  CHECK(r.path.empty());
  CHECK(r.protocol.empty());
  CHECK(r.headers.empty());
  CHECK(r.http_minor == 1);
}

}  // namespace remora::http
