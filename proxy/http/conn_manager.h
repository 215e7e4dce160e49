// The http_connection_manager: turns a downstream connection into HTTP streams (HTTP/1.1 with
// llhttp now; HTTP/2 joins through the same ResponseEncoder seam), runs each stream through
// the HTTP filters (the router last), applies the manager's header rules (x-request-id,
// x-forwarded-*, hop-by-hop), its limits and timeouts, and answers locally with the status and
// response flag Envoy would give.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/config/http_config.h"
#include "proxy/event/timeout.h"
#include "proxy/event/timer.h"
#include "proxy/http/filter.h"
#include "proxy/http/headers.h"
#include "proxy/http/request_metrics.h"
#include "proxy/server/network_filter.h"
#include "proxy/stats/stats.h"

namespace remora::http {

#define REMORA_HCM_STATS(COUNTER, GAUGE)                                                       \
  COUNTER(downstream_cx_total, "Connections handled")                                          \
  GAUGE(downstream_cx_active, "Connections open")                                              \
  COUNTER(downstream_cx_http1_total, "HTTP/1.1 connections")                                   \
  COUNTER(downstream_cx_http2_total, "HTTP/2 connections")                                     \
  COUNTER(downstream_rq_http2_total, "HTTP/2 requests")                                        \
  COUNTER(http2_rx_reset, "HTTP/2 streams reset by the client")                                \
  COUNTER(http2_tx_reset, "HTTP/2 streams reset by the proxy")                                 \
  COUNTER(http2_header_overflow, "HTTP/2 header blocks over the size or count limit")          \
  COUNTER(http2_premature_reset, "HTTP/2 connections closed for Rapid Reset")                  \
  COUNTER(http2_inbound_empty_frames_flood, "HTTP/2 connections closed: empty DATA flood")     \
  COUNTER(http2_inbound_priority_frames_flood, "HTTP/2 connections closed: PRIORITY flood")    \
  COUNTER(http2_inbound_window_update_frames_flood,                                            \
          "HTTP/2 connections closed: WINDOW_UPDATE flood")                                    \
  COUNTER(http2_outbound_control_flood, "HTTP/2 connections closed: PING/SETTINGS flood")      \
  COUNTER(http2_protocol_error, "HTTP/2 connections closed for a protocol error")              \
  COUNTER(downstream_cx_protocol_error, "Connections closed for a protocol error")             \
  COUNTER(downstream_cx_idle_timeout, "Connections closed after idle_timeout")                 \
  COUNTER(downstream_cx_destroy_remote_active_rq, "Connections the client closed mid-request") \
  COUNTER(downstream_rq_total, "Requests")                                                     \
  GAUGE(downstream_rq_active, "Requests in progress")                                          \
  COUNTER(downstream_rq_http1_total, "HTTP/1.1 requests")                                      \
  COUNTER(downstream_rq_1xx, "Responses 1xx")                                                  \
  COUNTER(downstream_rq_2xx, "Responses 2xx")                                                  \
  COUNTER(downstream_rq_3xx, "Responses 3xx")                                                  \
  COUNTER(downstream_rq_4xx, "Responses 4xx")                                                  \
  COUNTER(downstream_rq_5xx, "Responses 5xx")                                                  \
  COUNTER(downstream_rq_completed, "Requests completed")                                       \
  COUNTER(downstream_rq_rx_reset, "Requests reset by the client")                              \
  COUNTER(downstream_rq_tx_reset, "Requests reset by the proxy")                               \
  COUNTER(downstream_rq_timeout, "Requests ended by request_timeout")                          \
  COUNTER(downstream_rq_idle_timeout, "Requests ended by stream_idle_timeout")                 \
  COUNTER(downstream_rq_header_timeout, "Connections ended by request_headers_timeout")        \
  COUNTER(downstream_rq_too_large, "Requests refused for header size or count")                \
  COUNTER(no_route, "Requests without a route")                                                \
  COUNTER(downstream_rq_rx_bytes_total, "Request body bytes received")                         \
  COUNTER(downstream_rq_tx_bytes_total, "Response body bytes sent")

REMORA_STATS_STRUCT(ConnManagerStats, REMORA_HCM_STATS);

class AccessLog;

// Everything the streams of one configured connection manager share, immutable.
struct ConnManagerShared {
  config::HttpConnectionManagerConfig config;
  std::shared_ptr<const RouteTable> route_table;  // inline route_config; null with RDS
  std::vector<HttpFilterFactorySharedPtr> filters;
  std::vector<std::shared_ptr<AccessLog>> access_logs;
  bool access_logs_read_response_headers = false;  // some log has %RESP(...)%
  std::shared_ptr<stats::ShardedScope<ConnManagerStats>> stats;
  std::shared_ptr<RequestMetrics> request_metrics;  // istio_requests_total
  uint32_t buffer_limit = 1024 * 1024;
  // The route table for a new stream: inline, or the RDS one in the worker's snapshot.
  // Shared: a stream keeps the table it routed with (an RDS update may replace it meanwhile).
  std::shared_ptr<const RouteTable> routeTable(server::Worker& worker) const;
};

class ConnManagerFactory : public server::NetworkFilterFactory {
 public:
  explicit ConnManagerFactory(std::shared_ptr<const ConnManagerShared> shared)
      : shared_(std::move(shared)) {}
  void onAccept(server::Worker& worker, net::Connection* conn,
                const server::ConnectionInfo& info) override;
  const ConnManagerShared& shared() const { return *shared_; }

 private:
  std::shared_ptr<const ConnManagerShared> shared_;
};

// Envoy's x-request-id: a random UUID (version 4).
std::string newRequestId();
// The same into out[0, kRequestIdSize).
constexpr size_t kRequestIdSize = 36;
void writeRequestId(char* out);

}  // namespace remora::http
