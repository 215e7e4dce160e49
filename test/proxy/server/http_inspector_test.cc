#include "proxy/server/http_inspector.h"

#include <catch2/catch.hpp>

namespace remora::server {
namespace {

TEST_CASE("http_inspector: HTTP/1.x, the h2 preface, and everything else", "[http_inspector]") {
  CHECK(sniffHttp("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == SniffResult::Http11);
  CHECK(sniffHttp("POST /x?y HTTP/1.0\r\n") == SniffResult::Http10);
  CHECK(sniffHttp("OPTIONS * HTTP/1.1\r\n") == SniffResult::Http11);
  CHECK(sniffHttp("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == SniffResult::H2c);
  // Not enough yet: wait.
  CHECK(sniffHttp("") == SniffResult::NeedMore);
  CHECK(sniffHttp("GE") == SniffResult::NeedMore);
  CHECK(sniffHttp("GET /long/path") == SniffResult::NeedMore);
  CHECK(sniffHttp("GET / HTTP/1.1") == SniffResult::NeedMore);
  CHECK(sniffHttp("GET / HTTP/1.1\r") == SniffResult::NeedMore);
  CHECK(sniffHttp("PRI * HTTP/2.0\r\n") == SniffResult::NeedMore);
  // Other protocols: a TLS ClientHello, SSH, Redis, a bare LF, HTTP/2 as HTTP/1, junk.
  CHECK(sniffHttp(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)) ==
        SniffResult::NotHttp);
  CHECK(sniffHttp("SSH-2.0-OpenSSH_9.2\r\n") == SniffResult::NotHttp);
  CHECK(sniffHttp("*1\r\n$4\r\nPING\r\n") == SniffResult::NotHttp);
  CHECK(sniffHttp("GET / HTTP/1.1\n") == SniffResult::NotHttp);
  CHECK(sniffHttp("GET / HTTP/2.0\r\n") == SniffResult::NotHttp);
  CHECK(sniffHttp("GET  / HTTP/1.1\r\n") == SniffResult::NotHttp);
  CHECK(sniffHttp("hello world\n") == SniffResult::NotHttp);
  CHECK(sniffHttp(std::string(40, 'A')) == SniffResult::NotHttp);  // no method is that long
  CHECK(sniffHttp("GET /" + std::string(9000, 'a')) == SniffResult::NotHttp);
}

}  // namespace
}  // namespace remora::server
