// HeaderMap: order and repeats, removal, and the recycled storage (strings kept across clear and
// remove, storage handed between maps through the thread's pool) without changing what a map
// holds.
#include "proxy/http/headers.h"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

namespace remora::http {
namespace {

std::vector<std::string> dump(const HeaderMap& h) {
  std::vector<std::string> out;
  for (const auto& e : h.entries()) out.push_back(e.name + ": " + e.value);
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

TEST_CASE("header map: clear and remove keep the strings' storage for the next add", "[headers]") {
  HeaderMap h;
  h.add("x-request-id", kLong + "a");
  const char* before = h.entries()[0].value.data();
  h.clear();
  CHECK(h.empty());
  CHECK(h.byteSize() == 0);
  h.add("x-request-id", kLong + "b");
  CHECK(h.entries()[0].value == kLong + "b");
  CHECK(h.entries()[0].value.data() == before);  // the same buffer, not a new one
  h.remove("x-request-id");
  h.add("x-other", kLong + "c");
  CHECK(h.entries()[0].value.data() == before);
  CHECK(dump(h) == std::vector<std::string>{"x-other: " + kLong + "c"});
}

TEST_CASE("header map: storage moves between maps through the pool, contents never do",
          "[headers]") {
  const char* buffer = nullptr;
  {
    HeaderMap a;
    a.add("x-long-value", kLong + "a");
    buffer = a.entries()[0].value.data();
  }  // a's storage goes to this thread's pool
  HeaderMap b;
  CHECK(b.empty());
  b.add("k", kLong + "c");
  CHECK(dump(b) == std::vector<std::string>{"k: " + kLong + "c"});
  if (kThreadCacheEnabled) CHECK(b.entries()[0].value.data() == buffer);  // recycled

  // Copies and moves carry the entries only.
  b.add("k2", "v2");
  HeaderMap c = b;
  CHECK(dump(c) == dump(b));
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
