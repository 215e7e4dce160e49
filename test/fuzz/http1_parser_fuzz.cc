// Fuzzes the HTTP/1.1 parser in both modes, fed whole and byte by byte: the same messages and
// the same verdict come out either way, and nothing that passes could be framed differently
// by the next hop (no CR, LF or NUL in a header value, token-only names, limits respected).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/http1_parser.h"
#include "test/fuzz/fuzz_check.h"

namespace {

using remora::http::HeaderMap;
using remora::http::Http1Limits;
using remora::http::Http1Parser;

struct Events : Http1Parser::Callbacks {
  std::vector<std::string> log;
  void headers(const HeaderMap& h) {
    for (const auto& e : h.entries()) {
      for (unsigned char c : e.name)
        FUZZ_CHECK(remora::http::isTokenChar(c) && !(c >= 'A' && c <= 'Z'));
      for (unsigned char c : e.value) FUZZ_CHECK(c != '\r' && c != '\n' && c != 0);
      log.push_back(std::string(e.name).append(":").append(e.value));
    }
  }
  void onRequestHeaders(remora::http::RequestHeaders&& h, bool end) override {
    for (unsigned char c : h.path) FUZZ_CHECK(c > 0x20 && c != 0x7f);
    for (unsigned char c : h.authority) FUZZ_CHECK(c != '\r' && c != '\n' && c != 0);
    log.push_back("REQ " + h.method + " " + h.path + " " + h.authority + (end ? " end" : ""));
    headers(h.headers);
  }
  void onResponseHeaders(remora::http::ResponseHeaders&& h, bool end) override {
    log.push_back("RESP " + std::to_string(h.status) + (end ? " end" : ""));
    headers(h.headers);
  }
  std::string body;
  void onBody(std::string_view d) override { body.append(d); }
  void onMessageComplete(HeaderMap&& t) override {
    log.push_back("BODY " + body);
    body.clear();
    headers(t);
    log.push_back("DONE");
  }
};

std::vector<std::string> run(Http1Parser::Mode mode, std::string_view in, bool bytewise,
                             uint32_t* status) {
  Events ev;
  Http1Limits limits{2048, 20};
  Http1Parser p(mode, limits, ev);
  size_t pos = 0;
  while (pos < in.size() && !p.failed()) {
    size_t n = bytewise ? 1 : in.size() - pos;
    size_t used = p.feed(in.substr(pos, n));
    pos += used;
    if (p.paused()) {
      p.resume();
    } else if (used < n && !p.failed()) {
      FUZZ_CHECK(false);  // only a pause or an error may leave bytes unread
    }
  }
  if (!p.failed()) p.finish();
  *status = p.failed() ? p.error().status : 0;
  if (p.failed()) ev.log.push_back("ERROR");
  return ev.log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (auto mode : {Http1Parser::Mode::Request, Http1Parser::Mode::Response}) {
    uint32_t s1 = 0, s2 = 0;
    auto whole = run(mode, in, false, &s1);
    auto bytes = run(mode, in, true, &s2);
    FUZZ_CHECK(s1 == s2);
    FUZZ_CHECK(whole == bytes);
  }
  return 0;
}
