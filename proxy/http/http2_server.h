// The HTTP/2 downstream of the connection manager, on nghttp2 (server side): one ActiveStream
// per stream, per-stream flow control tied to the upstream's backpressure, and the defences
// RFC 9113 servers need against hostile peers — HPACK bombs and oversized header blocks,
// Rapid Reset (CVE-2023-44487), CONTINUATION floods (CVE-2024-27919 / -30255), PING and
// SETTINGS floods, empty DATA, PRIORITY and WINDOW_UPDATE floods — with Envoy's limits
// (INTEROP.md). A detected flood ends the connection with GOAWAY ENHANCE_YOUR_CALM.
#pragma once

#include <memory>
#include <string_view>

#include "proxy/http/conn_manager.h"
#include "proxy/net/connection.h"
#include "proxy/server/session.h"

namespace remora::http {

// Starts an HTTP/2 server session on `conn`; `initial` holds bytes already read from it (the
// connection preface, when the codec was detected).
void startHttp2Server(std::shared_ptr<const ConnManagerShared> shared, server::Worker& worker,
                      net::Connection* conn, const server::ConnectionInfo& info,
                      std::string_view initial);

}  // namespace remora::http
