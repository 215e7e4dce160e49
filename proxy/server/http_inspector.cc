// HTTP sniffing.
#include "proxy/server/http_inspector.h"

#include "proxy/http/headers.h"

namespace remora::server {
namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// A request line longer than this without its end is not worth waiting for.
constexpr size_t kMaxRequestLine = 8192;

}  // namespace

SniffResult sniffHttp(std::string_view data) {
  size_t n = std::min(data.size(), kPreface.size());
  if (data.substr(0, n) == kPreface.substr(0, n)) {
    return data.size() >= kPreface.size() ? SniffResult::H2c : SniffResult::NeedMore;
  }
  // method SP request-target SP HTTP/1.x CRLF (RFC 9112 3)
  size_t i = 0;
  while (i < data.size() && http::isTokenChar(static_cast<unsigned char>(data[i]))) ++i;
  if (i == data.size()) return i > 32 ? SniffResult::NotHttp : SniffResult::NeedMore;
  if (i == 0 || data[i] != ' ') return SniffResult::NotHttp;
  size_t target = ++i;
  while (i < data.size() && static_cast<unsigned char>(data[i]) > 0x20 && data[i] != 0x7f) ++i;
  if (i == data.size()) {
    return data.size() > kMaxRequestLine ? SniffResult::NotHttp : SniffResult::NeedMore;
  }
  if (i == target || data[i] != ' ') return SniffResult::NotHttp;
  std::string_view rest = data.substr(i + 1);
  constexpr std::string_view kVersion = "HTTP/1.";
  size_t m = std::min(rest.size(), kVersion.size());
  if (rest.substr(0, m) != kVersion.substr(0, m)) return SniffResult::NotHttp;
  if (rest.size() < kVersion.size() + 1) return SniffResult::NeedMore;
  char minor = rest[kVersion.size()];
  if (minor != '0' && minor != '1') return SniffResult::NotHttp;
  std::string_view eol = rest.substr(kVersion.size() + 1);
  if (eol.empty() || (eol.size() == 1 && eol[0] == '\r')) return SniffResult::NeedMore;
  if (eol.substr(0, 2) != "\r\n") return SniffResult::NotHttp;
  return minor == '1' ? SniffResult::Http11 : SniffResult::Http10;
}

}  // namespace remora::server
