// What a network filter makes of an accepted connection, and the per-worker list of them that
// drain and shutdown walk.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/net/address.h"
#include "proxy/net/tls_info.h"

namespace remora::server {

class Listener;

// Addresses of an accepted downstream connection.
struct ConnectionInfo {
  net::Address local;
  net::Address peer;
  // Set when the listener reads SO_ORIGINAL_DST and the kernel had one.
  std::optional<net::Address> original_dst;
  // The listener that accepted it; sessions keep it (and its stats) alive.
  std::shared_ptr<const Listener> listener;
  // What a listener filter found (http_inspector: "http/1.1", "h2c").
  std::vector<std::string> application_protocols;
  // Bytes a listener filter already read: the session treats them as the first bytes received.
  std::string initial_data;
  // What tls_inspector found: "tls" for a ClientHello (with its server name and ALPN list in
  // requested_server_name and application_protocols), else "raw_buffer".
  std::string transport_protocol = "raw_buffer";
  // The server name from a TLS ClientHello (tls_inspector), whether or not remora terminates it.
  std::string requested_server_name;
  // Set when remora terminated TLS on this connection: the handshake is done by the time a
  // filter chain's factory sees the connection, and its bytes are plaintext.
  net::TlsInfoSharedPtr tls;
  // Per connection: the istio_requests_total series its requests used (see
  // http::RequestMetrics), so a request does not look its labels up again.
  mutable std::vector<std::pair<uint64_t, void*>> metrics_cache;
};

class Session {
 public:
  virtual ~Session() = default;
  // Ends the session now (drain deadline passed, or shutdown): resets open connections.
  // The session removes itself from its list and frees itself once its handles are closed.
  virtual void abort() = 0;
  // The listener is draining: finish what is in flight and close as soon as that allows
  // (HTTP/1.1: close when idle, "connection: close" on the next response; HTTP/2: GOAWAY).
  // Raw TCP sessions have nothing to say and keep going until they end or the drain time
  // runs out.
  virtual void drain() {}

 private:
  friend class SessionList;
  friend class Worker;
  std::shared_ptr<const Listener> listener_;
  Session* prev_ = nullptr;
  Session* next_ = nullptr;
};

// Intrusive doubly-linked list: O(1) add/remove, no allocation.
class SessionList {
 public:
  void add(Session* s);
  void remove(Session* s);
  size_t size() const { return size_; }
  // Calls abort() on every session; safe when abort() removes the session synchronously.
  void abortAll() {
    abortIf([](const Session&) { return true; });
  }
  // Calls abort() on the sessions `pred` selects; returns how many.
  size_t abortIf(const std::function<bool(const Session&)>& pred);
  // Calls drain() on the sessions `pred` selects (a drain may close its session).
  void drainIf(const std::function<bool(const Session&)>& pred);

 private:
  Session* head_ = nullptr;
  size_t size_ = 0;
};

}  // namespace remora::server
