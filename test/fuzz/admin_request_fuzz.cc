// Fuzzes the admin server's request parser, fed whole and in two pieces: the same requests
// come out either way, and every request stays within the size limit.
#include <cstdint>
#include <string_view>
#include <vector>

#include "proxy/admin/request_parser.h"
#include "test/fuzz/fuzz_check.h"

using remora::admin::RequestParser;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  constexpr size_t kLimit = 4096;
  RequestParser whole(kLimit);
  std::vector<RequestParser::Parsed> a;
  auto sa = whole.feed(in, &a);
  RequestParser split(kLimit);
  std::vector<RequestParser::Parsed> b;
  size_t cut = size / 2;
  auto sb = split.feed(in.substr(0, cut), &b);
  if (sb == RequestParser::Status::Ok) sb = split.feed(in.substr(cut), &b);
  FUZZ_CHECK(sa == sb);
  FUZZ_CHECK(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    FUZZ_CHECK(a[i].request.method == b[i].request.method);
    FUZZ_CHECK(a[i].request.path == b[i].request.path);
    FUZZ_CHECK(a[i].request.query == b[i].request.query);
    FUZZ_CHECK(a[i].keep_alive == b[i].keep_alive);
    FUZZ_CHECK(a[i].request.path.size() + a[i].request.query.size() <= kLimit + 1);
  }
  return 0;
}
