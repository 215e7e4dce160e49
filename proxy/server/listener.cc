// Accepting connections and handing them to the listener's network filter.
#include "proxy/server/listener.h"

#include <unistd.h>

#include <algorithm>

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/common/uv_status.h"
#include "proxy/net/connection.h"
#include "proxy/net/socket.h"
#include "proxy/server/worker.h"

namespace remora::server {
namespace {

constexpr int kBacklog = 4096;

std::string listenerStatName(const config::ListenerConfig& config) {
  // Envoy: listener.<ip>_<port>. for an address listener.
  return cat(config.address.ip(), "_", config.address.port());
}

}  // namespace

Listener::Listener(config::ListenerConfig config, NetworkFilterFactorySharedPtr filter,
                   stats::Store& store, size_t workers)
    : config_(std::move(config)),
      filter_(std::move(filter)),
      stats_(std::make_shared<stats::ShardedScope<ListenerStats>>(
          workers, cat("listener.", listenerStatName(config_), "."), "listener",
          std::vector<std::pair<std::string, std::string>>{
              {"envoy_listener_address", listenerStatName(config_)}})) {
  store.add(stats_);
}

bool Listener::isProxyAddress(const net::Address& dst) const {
  if (std::find(own_ports_.begin(), own_ports_.end(), dst.port()) == own_ports_.end()) return false;
  return net::isLocalIp(dst);  // only on this rare path: a syscall is fine
}

ActiveListener::ActiveListener(Worker& worker, std::shared_ptr<const Listener> listener)
    : worker_(worker), listener_(std::move(listener)) {
  uv_tcp_init(worker_.loop().uv(), &tcp_);
  tcp_.data = this;
}

absl::Status ActiveListener::listen(int fd) {
  int rc = uv_tcp_open(&tcp_, fd);
  if (rc != 0) {
    ::close(fd);
    return uvStatus(rc, "uv_tcp_open");
  }
  opened_ = true;
  return uvStatus(
      uv_listen(reinterpret_cast<uv_stream_t*>(&tcp_), kBacklog, &ActiveListener::onConnection),
      cat("listen ", listener_->config().address.toString()));
}

void ActiveListener::close() {
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_),
           [](uv_handle_t* h) { delete static_cast<ActiveListener*>(h->data); });
}

void ActiveListener::onConnection(uv_stream_t* server, int status) {
  auto* self = static_cast<ActiveListener*>(server->data);
  if (status < 0) {
    self->listener_->stats(self->worker_.index()).downstream_cx_accept_error.inc();
    REMORA_LOG(Warn, "listener %s: accept: %s", self->listener_->name(), uv_err_name(status));
    return;
  }
  self->acceptOne();
}

void ActiveListener::acceptOne() {
  const Listener& l = *listener_;
  ListenerStats& stats = l.stats(worker_.index());
  auto conn = net::Connection::accept(worker_.loop(), reinterpret_cast<uv_stream_t*>(&tcp_),
                                      l.config().per_connection_buffer_limit_bytes);
  if (!conn.ok()) {
    stats.downstream_cx_accept_error.inc();
    REMORA_LOG(Warn, "listener %s: %s", l.name(), conn.status().ToString());
    return;
  }
  net::Connection* c = *conn;
  ConnectionInfo info;
  info.listener = listener_;
  int fd = c->fd();
  if (auto local = net::localAddress(fd); local.ok()) info.local = *local;
  if (auto peer = net::peerAddress(fd); peer.ok()) info.peer = *peer;
  if (l.config().use_original_dst) {
    auto dst = net::originalDestination(fd, info.local.family());
    if (dst.ok()) info.original_dst = *dst;
  }
  stats.downstream_cx_total.inc();
  // A connection whose destination is one of our own listeners was not redirected by
  // iptables (or was redirected back to us): forwarding it would loop until fds run out.
  if (info.original_dst && l.isProxyAddress(*info.original_dst)) {
    stats.downstream_cx_proxy_loop.inc();
    REMORA_LOG(Debug, "[C%d] %s -> %s: destination is this proxy, refusing", c->id(),
               info.peer.toString(), info.original_dst->toString());
    c->close(net::Connection::CloseMode::Abort);
    return;
  }
  if (l.filter() == nullptr) {
    stats.no_filter_chain_match.inc();
    c->close(net::Connection::CloseMode::Abort);
    return;
  }
  REMORA_LOG(Debug, "[C%d] accepted %s -> %s (original %s) on %s", c->id(), info.peer.toString(),
             info.local.toString(),
             info.original_dst ? info.original_dst->toString() : std::string("none"), l.name());
  l.filter()->onAccept(worker_, c, info);
}

}  // namespace remora::server
