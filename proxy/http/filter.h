// HTTP filters: per-stream objects the connection manager runs in order on the request
// (decode*) and in reverse order on the response (encode*). Every hook defaults to "continue";
// the router is the last filter and answers the request itself. Filters are listed in one
// place (filters/registry.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/common/strings.h"
#include "proxy/http/headers.h"
#include "proxy/net/address.h"
#include "proxy/net/tls_info.h"

namespace remora::server {
class Worker;
}

namespace remora::http {

class Route;
class RouteTable;

// Envoy's response flags (INTEROP.md), as a bit set; shortString() gives "UF,URX" style.
enum class ResponseFlag : uint32_t {
  FailedLocalHealthCheck = 1u << 0,            // LH
  NoHealthyUpstream = 1u << 1,                 // UH
  UpstreamRequestTimeout = 1u << 2,            // UT
  LocalReset = 1u << 3,                        // LR
  UpstreamRemoteReset = 1u << 4,               // UR
  UpstreamConnectionFailure = 1u << 5,         // UF
  UpstreamConnectionTermination = 1u << 6,     // UC
  UpstreamOverflow = 1u << 7,                  // UO
  NoRouteFound = 1u << 8,                      // NR
  DelayInjected = 1u << 9,                     // DI
  FaultInjected = 1u << 10,                    // FI
  RateLimited = 1u << 11,                      // RL
  UpstreamRetryLimitExceeded = 1u << 12,       // URX
  StreamIdleTimeout = 1u << 13,                // SI
  DownstreamConnectionTermination = 1u << 14,  // DC
  DownstreamProtocolError = 1u << 15,          // DPE
  UpstreamProtocolError = 1u << 16,            // UPE
  NoClusterFound = 1u << 17,                   // NC
  DurationTimeout = 1u << 18,                  // DT
  UnauthorizedExternalService = 1u << 19,      // UAEX
  RbacDenied = 1u << 20,                       // RBAC (Envoy prints "RBAC")
};

std::string responseFlagsString(uint32_t flags);  // "-" when none

// What the access log and the stats know about one request.
struct StreamInfo {
  uint64_t start_ms = 0;       // wall clock, for %START_TIME%
  uint64_t start_mono_ms = 0;  // loop time
  uint64_t first_upstream_rx_ms = 0;
  uint64_t end_mono_ms = 0;
  uint32_t response_code = 0;
  uint32_t flags = 0;
  std::string response_code_details;  // "via_upstream", "route_not_found", ...
  std::string protocol;               // "HTTP/1.1", "HTTP/2"
  InlineString<40> request_id;        // x-request-id; a generated one never allocates
  std::string route_name;
  InlineString<64> upstream_cluster;  // Istio's "outbound|port||fqdn" names mostly fit
  std::optional<net::Address> upstream_host;
  net::Address downstream_local;
  net::Address downstream_remote;
  // The downstream connection's TLS facts (peer SPIFFE ID, SNI); null when it is plaintext.
  // Owned by the connection, which outlives its streams.
  const net::TlsInfo* downstream_tls = nullptr;
  uint64_t bytes_received = 0;  // request body
  uint64_t bytes_sent = 0;      // response body
  uint32_t attempts = 0;
  HeaderMap response_headers;  // kept only when an access log may ask for %RESP(...)%

  void setFlag(ResponseFlag f) { flags |= static_cast<uint32_t>(f); }
  bool hasFlag(ResponseFlag f) const { return (flags & static_cast<uint32_t>(f)) != 0; }
};

enum class FilterStatus { Continue, Stop };

// What a filter may do to its stream. Implemented by the connection manager.
class FilterCallbacks {
 public:
  virtual ~FilterCallbacks() = default;
  virtual server::Worker& worker() = 0;
  virtual StreamInfo& streamInfo() = 0;
  // The route chosen for the request (after request filters may have changed headers, call
  // clearRouteCache() to choose again). Null: no route.
  virtual const Route* route() = 0;
  virtual void clearRouteCache() = 0;
  // Request side: resume a stopped iteration.
  virtual void continueDecoding() = 0;
  // Downstream flow control: stop / resume reading the request.
  virtual void readDisable(bool disable) = 0;
  // Response side (used by the router, or a filter answering itself).
  virtual void encodeHeaders(ResponseHeaders&& headers, bool end_stream) = 0;
  virtual void encodeData(std::string_view data, bool end_stream) = 0;
  virtual void encodeTrailers(HeaderMap&& trailers) = 0;
  // Whether the downstream can take more response bytes now; onDownstreamWritable() follows
  // when it can again.
  virtual bool downstreamWritable() const = 0;
  // An Envoy-style local reply: status, a text body, the flag and the details string.
  virtual void sendLocalReply(uint32_t status, std::string_view body,
                              std::optional<ResponseFlag> flag, std::string_view details) = 0;
  // Ends the stream abruptly (response already started): the downstream sees a reset or close.
  virtual void resetStream(ResponseFlag flag, std::string_view details) = 0;
  // The request headers as the filters left them.
  virtual RequestHeaders& requestHeaders() = 0;
  // The connection is TLS (for x-forwarded-proto and redirects).
  virtual bool downstreamSecure() const = 0;
};

class HttpFilter {
 public:
  virtual ~HttpFilter() = default;
  void setCallbacks(FilterCallbacks* callbacks) { callbacks_ = callbacks; }

  virtual FilterStatus decodeHeaders(RequestHeaders& headers, bool end_stream) {
    return FilterStatus::Continue;
  }
  virtual FilterStatus decodeData(std::string_view data, bool end_stream) {
    return FilterStatus::Continue;
  }
  virtual FilterStatus decodeTrailers(HeaderMap& trailers) { return FilterStatus::Continue; }
  virtual FilterStatus encodeHeaders(ResponseHeaders& headers, bool end_stream) {
    return FilterStatus::Continue;
  }
  virtual FilterStatus encodeData(std::string_view data, bool end_stream) {
    return FilterStatus::Continue;
  }
  virtual FilterStatus encodeTrailers(HeaderMap& trailers) { return FilterStatus::Continue; }
  // The downstream took the response bytes queued so far (flow control).
  virtual void onDownstreamWritable() {}
  // The stream is over (completed or reset); release upstream resources now.
  virtual void onDestroy() {}

 protected:
  FilterCallbacks* callbacks_ = nullptr;
};
using HttpFilterPtr = std::unique_ptr<HttpFilter>;

// Makes the per-stream filter; one per configured filter, shared by all streams. `worker` is
// the stream's (its loop, timeouts and pools).
class HttpFilterFactory {
 public:
  virtual ~HttpFilterFactory() = default;
  virtual HttpFilterPtr create(server::Worker& worker) const = 0;
};
using HttpFilterFactorySharedPtr = std::shared_ptr<const HttpFilterFactory>;

}  // namespace remora::http
