#include "proxy/http/conn_manager.h"

#include <catch2/catch.hpp>

#include <regex>
#include <set>

namespace remora::http {
namespace {

TEST_CASE("x-request-id: version-4 UUIDs in canonical form, all different", "[http]") {
  static const std::regex kUuid(
      "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = newRequestId();
    INFO(id);
    REQUIRE(std::regex_match(id, kUuid));
    seen.insert(id);
  }
  CHECK(seen.size() == 1000);
}

}  // namespace
}  // namespace remora::http
