// Accepting connections, hand-off by original destination, and filter chain selection.
#include "proxy/server/listener.h"

#include "proxy/event/timer.h"
#include "proxy/server/http_inspector.h"
#include "proxy/server/tls_inspector.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/common/uv_status.h"
#include "proxy/net/connection.h"
#include "proxy/net/socket.h"
#include "proxy/server/filter_chain_match.h"
#include "proxy/server/snapshot.h"
#include "proxy/server/worker.h"

namespace remora::server {
namespace {

constexpr int kBacklog = 4096;

std::atomic<uint64_t> g_next_lineage{1};

absl::StatusOr<tls::TlsContextSharedPtr> buildTls(const config::FilterChainConfig& chain,
                                                  const std::string& where,
                                                  const std::shared_ptr<tls::TlsStats>& stats) {
  if (!chain.tls) return tls::TlsContextSharedPtr();
  if (!chain.tls->common.secrets_ready()) {
    return absl::UnavailableError(cat(where, ".transport_socket: secret '",
                                      chain.tls->common.certificate_sds.empty()
                                          ? chain.tls->common.validation_sds
                                          : chain.tls->common.certificate_sds,
                                      "' has not arrived"));
  }
  auto ctx = tls::TlsContext::createServer(*chain.tls, stats);
  if (!ctx.ok()) {
    return absl::InvalidArgumentError(cat(where, ".transport_socket: ", ctx.status().message()));
  }
  return tls::TlsContextSharedPtr(*ctx);
}

// The listener with every SDS-delivered certificate and trust bundle left out.
config::ListenerConfig withoutTlsMaterial(config::ListenerConfig c) {
  auto strip = [](config::FilterChainConfig& fc) {
    if (!fc.tls) return;
    auto& common = fc.tls->common;
    common.secrets_timed_out = false;  // material too: its arrival is a rotation
    if (!common.certificate_sds.empty()) common.certificate.reset();
    if (!common.validation_sds.empty() && common.validation)
      common.validation->trusted_ca_pem.clear();
  };
  for (auto& fc : c.filter_chains) strip(fc);
  if (c.default_filter_chain) strip(*c.default_filter_chain);
  return c;
}

std::string listenerStatName(const config::ListenerConfig& config) {
  // Envoy: listener.<ip>_<port>. for an address listener.
  return cat(config.address.ip(), "_", config.address.port());
}

absl::StatusOr<NetworkFilterFactorySharedPtr> buildChain(const config::FilterChainConfig& chain,
                                                         const std::string& where,
                                                         const NetworkFilterRegistry& registry,
                                                         FilterFactoryContext& ctx) {
  if (chain.filters.empty()) {
    return absl::InvalidArgumentError(cat(where, ": a filter chain needs a network filter"));
  }
  // Admission filters (RBAC) first, then exactly one terminal filter, last (Envoy refuses a
  // terminal filter anywhere else, and a chain that does not end in one).
  std::vector<AdmissionFilterSharedPtr> admission;
  NetworkFilterFactorySharedPtr terminal;
  for (size_t i = 0; i < chain.filters.size(); ++i) {
    const auto& fc = chain.filters[i];
    std::string fwhere = cat(where, ".filters[", i, "]");
    auto creator = registry.find(fc.name);
    if (creator == registry.end()) {
      return absl::InvalidArgumentError(cat(fwhere, ": unknown network filter '", fc.name, "'"));
    }
    if (terminal) {
      return absl::InvalidArgumentError(
          cat(fwhere, ": '", fc.name, "' follows the terminal filter '", chain.filters[i - 1].name,
              "', which must be the last filter of the chain"));
    }
    if (const auto* make = std::get_if<NetworkFilterFactoryCreator>(&creator->second)) {
      auto factory = (*make)(fc, ctx);
      if (!factory.ok()) {
        return absl::InvalidArgumentError(cat(fwhere, ": ", factory.status().message()));
      }
      terminal = *factory;
    } else {
      auto filter = std::get<AdmissionFilterCreator>(creator->second)(fc, ctx);
      if (!filter.ok()) {
        return absl::InvalidArgumentError(cat(fwhere, ": ", filter.status().message()));
      }
      admission.push_back(*filter);
    }
  }
  if (!terminal) {
    return absl::InvalidArgumentError(
        cat(where, ".filters[", chain.filters.size() - 1, "]: '", chain.filters.back().name,
            "' is not a terminal filter; a chain ends in tcp_proxy or http_connection_manager"));
  }
  if (admission.empty()) return terminal;
  return std::make_shared<AdmissionChain>(std::move(admission), std::move(terminal));
}

}  // namespace

Listener::Listener(config::ListenerConfig config, size_t workers, stats::Store& store)
    : config_(std::move(config)),
      stats_(store.shardedScope<ListenerStats>(
          workers, cat("listener.", listenerStatName(config_), "."), "listener",
          {{"envoy_listener_address", listenerStatName(config_)}})),
      lineage_(g_next_lineage.fetch_add(1, std::memory_order_relaxed)) {}

absl::StatusOr<std::shared_ptr<Listener>> Listener::create(const config::ListenerConfig& config,
                                                           const NetworkFilterRegistry& registry,
                                                           stats::Store& store, size_t workers) {
  std::shared_ptr<Listener> l(new Listener(config, workers, store));
  // Chains that cannot be told apart are refused before anything is built for them.
  for (const auto& fc : config.filter_chains) l->matches_.push_back(fc.match);
  if (auto s = checkDistinctMatches(l->matches_); !s.ok()) return s;
  FilterFactoryContext ctx{store, workers, config.per_connection_buffer_limit_bytes};
  std::shared_ptr<tls::TlsStats> tls_stats;
  auto chainHasTls = [](const config::FilterChainConfig& fc) { return fc.tls.has_value(); };
  if (std::any_of(config.filter_chains.begin(), config.filter_chains.end(), chainHasTls) ||
      (config.default_filter_chain && config.default_filter_chain->tls)) {
    std::string addr = listenerStatName(config);
    tls_stats = tls::TlsStats::get(store, cat("listener.", addr, "."), "listener",
                                   {{"envoy_listener_address", addr}});
  }
  for (size_t i = 0; i < config.filter_chains.size(); ++i) {
    std::string where = cat("filter_chains[", i, "]");
    auto f = buildChain(config.filter_chains[i], where, registry, ctx);
    if (!f.ok()) return f.status();
    l->chains_.push_back(*f);
    auto t = buildTls(config.filter_chains[i], where, tls_stats);
    if (!t.ok()) return t.status();
    l->chain_tls_.push_back(*t);
  }
  if (config.default_filter_chain) {
    auto f = buildChain(*config.default_filter_chain, "default_filter_chain", registry, ctx);
    if (!f.ok()) return f.status();
    l->default_chain_ = *f;
    auto t = buildTls(*config.default_filter_chain, "default_filter_chain", tls_stats);
    if (!t.ok()) return t.status();
    l->default_tls_ = *t;
  }
  if (l->chains_.empty() && !l->default_chain_) {
    return absl::InvalidArgumentError("no filter_chains and no default_filter_chain");
  }
  return l;
}

Listener::Chain Listener::selectChain(const ConnectionInfo& info) const {
  MatchInput in;
  in.destination = info.local;
  in.source = info.peer;
  in.direct_source = info.peer;
  in.server_name = info.requested_server_name;
  in.transport_protocol = info.transport_protocol;
  for (const auto& p : info.application_protocols) in.application_protocols.push_back(p);
  int i = selectFilterChain(matches_, in);
  Chain out;
  if (i >= 0) {
    auto idx = static_cast<size_t>(i);
    out.factory = chains_[idx].get();
    if (chain_tls_[idx]) out.tls = &chain_tls_[idx];
    out.name = &config_.filter_chains[idx].name;
  } else if (default_chain_) {
    out.factory = default_chain_.get();
    if (default_tls_) out.tls = &default_tls_;
    out.name = &config_.default_filter_chain->name;
  }
  return out;
}

bool Listener::sameButForTlsMaterial(const config::ListenerConfig& a,
                                     const config::ListenerConfig& b) {
  return withoutTlsMaterial(a) == withoutTlsMaterial(b);
}

bool Listener::isProxyAddress(const net::Address& dst) const {
  if (std::find(own_ports_.begin(), own_ports_.end(), dst.port()) == own_ports_.end()) return false;
  return net::isLocalIp(dst);  // only on this rare path: a syscall is fine
}

ActiveListener::ActiveListener(Worker& worker, ListenerSharedPtr listener)
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
  return uvStatus(
      uv_listen(reinterpret_cast<uv_stream_t*>(&tcp_), kBacklog, &ActiveListener::onConnection),
      cat("listen ", listener_->config().address.toString()));
}

void ActiveListener::close() {
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_),
           [](uv_handle_t* h) { delete static_cast<ActiveListener*>(h->data); });
}

namespace {

// Terminates TLS for a chain with a DownstreamTlsContext: the handshake, with the peer's
// certificate verified, completes before the chain's filters see the connection, so a
// refused peer never reaches them (nor the application behind them).
class TlsHandshakeSession : public Session, public net::Connection::Callbacks {
 public:
  TlsHandshakeSession(Worker& worker, net::Connection* c, ConnectionInfo info,
                      NetworkFilterFactory* chain, tls::TlsContextSharedPtr ctx)
      : worker_(worker),
        conn_(c),
        info_(std::move(info)),
        chain_(chain),
        ctx_(std::move(ctx)),
        timer_(worker.loop().uv(), [this] { onTimeout(); }) {}

  void start() {
    worker_.addSession(this, nullptr);  // the chain's session counts the connection
    conn_->setCallbacks(this);
    conn_->startTls(ctx_, info_.initial_data);
    info_.initial_data.clear();
    conn_->readEnable(true);
    uint64_t ms = static_cast<uint64_t>(info_.listener->config().listener_filters_timeout.count());
    if (ms > 0) timer_.enable(ms);
  }

  void abort() override { conn_->close(net::Connection::CloseMode::Abort); }

  void onHandshakeDone(net::Connection& c) override {
    timer_.disable();
    info_.tls = c.tlsInfo();
    REMORA_LOG(Debug, "[C%d] TLS from %s: %s", c.id(), info_.peer.toString(),
               info_.tls->peer_uri_sans.empty() ? std::string("no peer certificate")
                                                : info_.tls->peer_uri_sans[0]);
    conn_->setCallbacks(nullptr);
    conn_->readEnable(false);
    worker_.removeSession(this);
    // The chain takes the connection over now; plaintext that came with the last flight is
    // held by the connection until the chain reads.
    chain_->onAccept(worker_, conn_, info_);
    delete this;
  }
  void onData(net::Connection&, event::Block* block) override {
    worker_.loop().blocks().release(block);  // not reached: no plaintext before the handshake
  }
  void onEof(net::Connection&) override { conn_->close(net::Connection::CloseMode::Abort); }
  void onError(net::Connection& c, int) override {
    info_.listener->stats(worker_.index()).ssl_handshake_error.inc();
    REMORA_LOG(Debug, "[C%d] TLS handshake from %s refused: %s", c.id(), info_.peer.toString(),
               c.tlsError());
    // Flush: the alert that says why goes out before the FIN.
    conn_->close(net::Connection::CloseMode::Flush);
  }
  void onClosed(net::Connection&) override {
    worker_.removeSession(this);
    delete this;
  }

 private:
  void onTimeout() {
    info_.listener->stats(worker_.index()).ssl_handshake_timeout.inc();
    REMORA_LOG(Debug, "[C%d] TLS handshake timed out", conn_->id());
    conn_->close(net::Connection::CloseMode::Abort);
  }

  Worker& worker_;
  net::Connection* conn_;
  ConnectionInfo info_;
  NetworkFilterFactory* chain_;
  tls::TlsContextSharedPtr ctx_;
  event::Timer timer_;
};

// Matches the connection to a filter chain of its listener and hands it over (through the
// TLS handshake first when the chain terminates TLS).
void dispatchToChain(Worker& worker, net::Connection* c, ConnectionInfo info) {
  const Listener& l = *info.listener;
  ListenerStats& stats = l.stats(worker.index());
  Listener::Chain chain = l.selectChain(info);
  if (chain.factory == nullptr) {
    stats.no_filter_chain_match.inc();
    REMORA_LOG(Debug, "[C%d] %s -> %s: no filter chain matches on %s (%s%s%s)", c->id(),
               info.peer.toString(), info.local.toString(), l.name(), info.transport_protocol,
               info.requested_server_name.empty() ? "" : ", sni ", info.requested_server_name);
    c->close(net::Connection::CloseMode::Abort);
    return;
  }
  REMORA_LOG(Debug, "[C%d] accepted %s -> %s (original %s) on %s, chain '%s'", c->id(),
             info.peer.toString(), info.local.toString(),
             info.original_dst ? info.original_dst->toString() : std::string("none"), l.name(),
             *chain.name);
  if (chain.tls != nullptr) {
    auto* hs = new TlsHandshakeSession(worker, c, std::move(info), chain.factory, *chain.tls);
    hs->start();
    return;
  }
  chain.factory->onAccept(worker, c, info);
}

// The listener filters that read before a chain is chosen: tls_inspector (a ClientHello's
// SNI and ALPN) and http_inspector (HTTP/1.x or HTTP/2 prior knowledge). They read until
// the first bytes say enough, then hand the connection and those bytes, unchanged, to the
// filter chain they select.
class InspectorSession : public Session, public net::Connection::Callbacks {
 public:
  InspectorSession(Worker& worker, net::Connection* c, ConnectionInfo info)
      : worker_(worker),
        conn_(c),
        info_(std::move(info)),
        timer_(worker.loop().uv(), [this] { onTimeout(); }) {}

  void start() {
    worker_.addSession(this, nullptr);  // the chain's session counts the connection
    conn_->setCallbacks(this);
    conn_->readEnable(true);
    uint64_t ms = static_cast<uint64_t>(info_.listener->config().listener_filters_timeout.count());
    if (ms > 0) timer_.enable(ms);
  }

  void abort() override { conn_->close(net::Connection::CloseMode::Abort); }

  void onData(net::Connection&, event::Block* block) override {
    seen_.append(block->begin(), block->len);
    worker_.loop().blocks().release(block);
    const auto& cfg = info_.listener->config();
    if (cfg.tls_inspector) {
      ClientHelloInfo hello;
      switch (hello_parser_.parse(seen_, &hello)) {
        case ClientHelloResult::NeedMore:
          return;
        case ClientHelloResult::ClientHello:
          info_.transport_protocol = "tls";
          info_.requested_server_name = std::move(hello.server_name);
          info_.application_protocols = std::move(hello.alpn);
          handOver({});
          return;
        case ClientHelloResult::Invalid:
          info_.listener->stats(worker_.index()).tls_inspector_client_hello_invalid.inc();
          REMORA_LOG(Debug, "[C%d] tls_inspector: malformed or oversized ClientHello", conn_->id());
          conn_->close(net::Connection::CloseMode::Abort);
          return;
        case ClientHelloResult::NotTls:
          break;
      }
    }
    if (!cfg.http_inspector) {
      handOver({});
      return;
    }
    switch (sniffHttp(seen_)) {
      case SniffResult::NeedMore:
        return;
      case SniffResult::Http10:
        handOver("http/1.0");
        return;
      case SniffResult::Http11:
        handOver("http/1.1");
        return;
      case SniffResult::H2c:
        handOver("h2c");
        return;
      case SniffResult::NotHttp:
        handOver({});
        return;
    }
  }
  // The peer ended before it said enough: nothing to hand on.
  void onEof(net::Connection&) override { conn_->close(net::Connection::CloseMode::Abort); }
  void onError(net::Connection&, int) override { conn_->close(net::Connection::CloseMode::Abort); }
  void onClosed(net::Connection&) override {
    worker_.removeSession(this);
    delete this;
  }

 private:
  void onTimeout() {
    if (info_.listener->config().continue_on_listener_filters_timeout) {
      handOver({});  // a server-speaks-first protocol, most likely: plain TCP
      return;
    }
    REMORA_LOG(Debug, "[C%d] listener_filters_timeout: closing", conn_->id());
    conn_->close(net::Connection::CloseMode::Abort);
  }

  void handOver(std::string protocol) {
    timer_.disable();
    conn_->readEnable(false);
    conn_->setCallbacks(nullptr);
    worker_.removeSession(this);
    if (!protocol.empty()) info_.application_protocols.push_back(std::move(protocol));
    info_.initial_data = std::move(seen_);
    dispatchToChain(worker_, conn_, std::move(info_));
    delete this;
  }

  Worker& worker_;
  net::Connection* conn_;
  ConnectionInfo info_;
  std::string seen_;
  ClientHelloParser hello_parser_;
  event::Timer timer_;
};

}  // namespace

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
  const Listener& accepting = *listener_;
  size_t w = worker_.index();
  auto conn = net::Connection::accept(worker_.loop(), reinterpret_cast<uv_stream_t*>(&tcp_),
                                      accepting.config().per_connection_buffer_limit_bytes);
  if (!conn.ok()) {
    accepting.stats(w).downstream_cx_accept_error.inc();
    REMORA_LOG(Warn, "listener %s: %s", accepting.name(), conn.status().ToString());
    return;
  }
  net::Connection* c = *conn;
  ConnectionInfo info;
  int fd = c->fd();
  if (auto local = net::localAddress(fd); local.ok()) info.local = *local;
  if (auto peer = net::peerAddress(fd); peer.ok()) info.peer = *peer;
  const auto& cfg = accepting.config();
  if (cfg.use_original_dst || cfg.original_dst_filter) {
    auto dst = net::originalDestination(fd, info.local.family());
    if (dst.ok()) info.original_dst = *dst;
  }
  // A connection whose destination is one of our own listeners was not redirected by
  // iptables (or was redirected back to us): forwarding it would loop until fds run out.
  if (info.original_dst && accepting.isProxyAddress(*info.original_dst)) {
    accepting.stats(w).downstream_cx_total.inc();
    accepting.stats(w).downstream_cx_proxy_loop.inc();
    REMORA_LOG(Debug, "[C%d] %s -> %s: destination is this proxy, refusing", c->id(),
               info.peer.toString(), info.original_dst->toString());
    c->close(net::Connection::CloseMode::Abort);
    return;
  }
  info.listener = listener_;
  if (info.original_dst && cfg.use_original_dst && !(*info.original_dst == info.local)) {
    // Envoy's use_original_dst: the listener of the original destination takes over.
    if (const ListenerSharedPtr* target = worker_.snapshot().findByAddress(*info.original_dst);
        target != nullptr && target->get() != &accepting) {
      accepting.stats(w).downstream_cx_handed_off.inc();
      info.listener = *target;
    }
  }
  if (info.original_dst && (cfg.original_dst_filter || info.listener.get() != &accepting)) {
    info.local = *info.original_dst;  // the restored local address
  }
  const Listener& l = *info.listener;
  l.stats(w).downstream_cx_total.inc();
  if (l.config().http_inspector || l.config().tls_inspector) {
    auto* inspector = new InspectorSession(worker_, c, std::move(info));
    inspector->start();
    return;
  }
  dispatchToChain(worker_, c, std::move(info));
}

}  // namespace remora::server
