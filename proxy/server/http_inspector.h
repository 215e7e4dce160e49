// http_inspector: tells HTTP apart from other protocols by a connection's first bytes, without
// changing them (they are handed on to the filter chain as its first bytes).
#pragma once

#include <string_view>

namespace remora::server {

enum class SniffResult {
  NeedMore,  // not enough bytes to tell
  Http10,    // an HTTP/1.0 request line
  Http11,    // an HTTP/1.1 request line
  H2c,       // the HTTP/2 connection preface (prior knowledge)
  NotHttp,   // anything else (TLS, a database protocol, ...)
};

// Looks at the first bytes of a connection. Bytes are never consumed or changed.
SniffResult sniffHttp(std::string_view data);

}  // namespace remora::server
