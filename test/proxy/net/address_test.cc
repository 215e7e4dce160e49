// Address and CIDR parsing and matching.
#include "proxy/net/address.h"

#include <catch2/catch.hpp>

namespace remora::net {
namespace {

TEST_CASE("IPv4 and IPv6 addresses parse and print", "[address]") {
  auto a = Address::parse("192.0.2.1:8080");
  REQUIRE(a.ok());
  CHECK(a->isV4());
  CHECK(a->port() == 8080);
  CHECK(a->ip() == "192.0.2.1");
  CHECK(a->toString() == "192.0.2.1:8080");
  auto b = Address::parse("[2001:db8::1]:443");
  REQUIRE(b.ok());
  CHECK(b->isV6());
  CHECK(b->toString() == "[2001:db8::1]:443");
  CHECK(b->withPort(80).toString() == "[2001:db8::1]:80");
}

TEST_CASE("malformed addresses are rejected with the reason", "[address]") {
  for (const char* bad : {"192.0.2.1", "192.0.2.1:", "192.0.2.1:65536", "192.0.2.1:-1",
                          "192.0.2.1:80x", "300.0.0.1:80", "2001:db8::1:80", "[192.0.2.1]:80",
                          "[2001:db8::1]80", "", ":80", "host.example:80"}) {
    INFO(bad);
    CHECK_FALSE(Address::parse(bad).ok());
  }
  CHECK(std::string(Address::parse("192.0.2.1:99999").status().message()) ==
        "address '192.0.2.1:99999': invalid port '99999'");
}

TEST_CASE("loopback, any and equality", "[address]") {
  CHECK(Address::parse("127.0.0.6:1")->isLoopback());
  CHECK(Address::parse("[::1]:1")->isLoopback());
  CHECK(Address::parse("[::ffff:127.0.0.1]:1")->isLoopback());
  CHECK_FALSE(Address::parse("192.0.2.1:1")->isLoopback());
  CHECK(Address::parse("0.0.0.0:1")->isAny());
  CHECK(Address::parse("[::]:1")->isAny());
  CHECK(*Address::parse("192.0.2.1:80") == *Address::parse("192.0.2.1:80"));
  CHECK_FALSE(*Address::parse("192.0.2.1:80") == *Address::parse("192.0.2.1:81"));
  CHECK(Address::parse("192.0.2.1:80")->sameIp(*Address::parse("192.0.2.1:81")));
  CHECK_FALSE(Address::parse("192.0.2.1:80")->sameIp(*Address::parse("[::1]:80")));
}

TEST_CASE("CIDRs parse canonically and match by prefix", "[address]") {
  auto c = Cidr::parse("10.1.2.3/8");
  REQUIRE(c.ok());
  CHECK(c->toString() == "10.0.0.0/8");
  CHECK(c->contains(*Address::parse("10.255.0.1:1")));
  CHECK_FALSE(c->contains(*Address::parse("11.0.0.1:1")));
  auto host = Cidr::parse("169.254.169.254");
  REQUIRE(host.ok());
  CHECK(host->toString() == "169.254.169.254/32");
  auto odd = Cidr::parse("198.51.100.0/23");
  REQUIRE(odd.ok());
  CHECK(odd->toString() == "198.51.100.0/23");
  CHECK(odd->contains(*Address::parse("198.51.101.200:1")));
  CHECK_FALSE(odd->contains(*Address::parse("198.51.102.1:1")));
  auto v6 = Cidr::parse("2001:db8::/32");
  REQUIRE(v6.ok());
  CHECK(v6->contains(*Address::parse("[2001:db8:ffff::1]:1")));
  CHECK_FALSE(v6->contains(*Address::parse("192.0.2.1:1")));
  CHECK(Cidr::parse("0.0.0.0/0")->contains(*Address::parse("203.0.113.9:1")));
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/a", "2001:db8::/129", "x/8"}) {
    INFO(bad);
    CHECK_FALSE(Cidr::parse(bad).ok());
  }
}

}  // namespace
}  // namespace remora::net
