// The admin request parser: pipelining, keep-alive, limits, errors, byte-at-a-time input.
#include "proxy/admin/request_parser.h"

#include <catch2/catch.hpp>

namespace remora::admin {
namespace {

TEST_CASE("pipelined requests come out in order - parsing stops after connection: close",
          "[admin]") {
  RequestParser p(4096);
  std::vector<RequestParser::Parsed> out;
  auto st = p.feed(
      "GET /ready HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /stats?filter=cx HTTP/1.1\r\nConnection: close\r\n\r\n"
      "GET /after HTTP/1.1\r\n\r\n",
      &out);
  CHECK(st == RequestParser::Status::Ok);
  REQUIRE(out.size() == 2);
  CHECK(out[0].request.method == "GET");
  CHECK(out[0].request.path == "/ready");
  CHECK(out[0].keep_alive);
  CHECK(out[1].request.path == "/stats");
  CHECK(out[1].request.query == "filter=cx");
  CHECK_FALSE(out[1].keep_alive);
  CHECK(p.feed("GET /more HTTP/1.1\r\n\r\n", &out) == RequestParser::Status::Ok);
  CHECK(out.size() == 2);
}

TEST_CASE("one byte at a time gives the same request", "[admin]") {
  RequestParser p(4096);
  std::vector<RequestParser::Parsed> out;
  std::string req = "POST /quitquitquit HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
  for (char c : req) REQUIRE(p.feed(std::string_view(&c, 1), &out) == RequestParser::Status::Ok);
  REQUIRE(out.size() == 1);
  CHECK(out[0].request.method == "POST");
  CHECK(out[0].request.path == "/quitquitquit");
}

TEST_CASE("malformed and oversized requests are errors", "[admin]") {
  RequestParser bad(4096);
  std::vector<RequestParser::Parsed> out;
  CHECK(bad.feed("GET / HTTP/1.1\r\nHost x\r\n\r\n", &out) == RequestParser::Status::BadRequest);
  CHECK(bad.errorName() == "HPE_INVALID_HEADER_TOKEN");
  CHECK(bad.feed("GET / HTTP/1.1\r\n\r\n", &out) == RequestParser::Status::BadRequest);
  CHECK(out.empty());
  RequestParser big(100);
  CHECK(big.feed("GET /" + std::string(200, 'a') + " HTTP/1.1\r\n\r\n", &out) ==
        RequestParser::Status::TooLarge);
  RequestParser body(100);
  CHECK(body.feed("POST / HTTP/1.1\r\nContent-Length: 500\r\n\r\n" + std::string(500, 'b'), &out) ==
        RequestParser::Status::TooLarge);
  RequestParser http10(4096);
  CHECK(http10.feed("GET /x HTTP/1.0\r\n\r\n", &out) == RequestParser::Status::Ok);
  REQUIRE(out.size() == 1);
  CHECK_FALSE(out[0].keep_alive);
}

}  // namespace
}  // namespace remora::admin
