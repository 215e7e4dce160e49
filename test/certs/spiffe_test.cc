// SPIFFE ID parsing.
#include "certs/spiffe.h"

#include <catch2/catch.hpp>

namespace remora::certs {
namespace {

TEST_CASE("Kubernetes-style SPIFFE IDs parse and print", "[spiffe]") {
  auto id = parseSpiffeId("spiffe://cluster.local/ns/default/sa/reviews");
  REQUIRE(id.ok());
  CHECK(id->trust_domain == "cluster.local");
  CHECK(id->ns == "default");
  CHECK(id->service_account == "reviews");
  CHECK(id->uri() == "spiffe://cluster.local/ns/default/sa/reviews");
}

TEST_CASE("other shapes are rejected", "[spiffe]") {
  for (const char* bad :
       {"http://cluster.local/ns/a/sa/b", "spiffe://", "spiffe://td", "spiffe:///ns/a/sa/b",
        "spiffe://TD/ns/a/sa/b", "spiffe://td/ns/a/sa/", "spiffe://td/ns/a/sa/b/c",
        "spiffe://td/ns/../sa/b", "spiffe://td:8080/ns/a/sa/b", "spiffe://td/ns/a/sa/b?x=1",
        "spiffe://td/ns/a/xx/b"}) {
    INFO(bad);
    CHECK_FALSE(parseSpiffeId(bad).ok());
  }
}

}  // namespace
}  // namespace remora::certs
