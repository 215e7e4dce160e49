// The TCP relay. One session per downstream connection:
//   Connecting: downstream reads are off until the upstream connects (nothing is buffered).
//   Relaying:   each read block is handed to the other side's write queue without a copy; a
//               side whose queue passes the high watermark pauses reading on the other side
//               until it drains to the low watermark. FIN in one direction becomes a shutdown
//               of the other after its queue is flushed; a reset on either side resets both.
//   Closing:    handles close; the session frees itself when the last one has.
#include "filters/network/tcp_proxy/tcp_proxy.h"

#include <uv.h>

#include "absl/status/status.h"
#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/net/connection.h"
#include "proxy/server/worker.h"

namespace remora::filters {
namespace {

using net::Connection;

class TcpProxySession : public server::Session, public Connection::Callbacks {
 public:
  TcpProxySession(server::Worker& worker, std::shared_ptr<const TcpProxyFactory> factory,
                  Connection* downstream, const server::ConnectionInfo& info)
      : worker_(worker),
        factory_(std::move(factory)),
        stats_(factory_->stats(worker.index())),
        down_(downstream) {
    worker_.addSession(this, info.listener);
    uv_timer_init(worker_.loop().uv(), &timer_);
    timer_.data = this;
    down_->setCallbacks(this);
    if (info.original_dst) original_dst_ = *info.original_dst;
    initial_ = info.initial_data;  // read by a listener filter: goes upstream first
  }

  void start() {
    stats_.downstream_cx_total.inc();
    // The cluster is taken from the configuration in force now and kept for the session.
    const std::string& name = factory_->pickCluster(worker_.index());
    const upstream::ClusterSharedPtr* cluster = worker_.snapshot().cluster(name);
    if (cluster == nullptr) {
      stats_.downstream_cx_no_route.inc();
      REMORA_LOG(Debug, "[C%d] tcp_proxy %s: cluster '%s' does not exist", down_->id(),
                 factory_->config().stat_prefix, name);
      finish(Connection::CloseMode::Abort);
      return;
    }
    cluster_ = *cluster;
    cluster_stats_ = &cluster_->stats(worker_.index());
    connectUpstream();
  }

  void abort() override { finish(Connection::CloseMode::Abort); }

  // One connection attempt; max_connect_attempts allows more after a failure.
  void connectUpstream() {
    ++attempts_;
    upstream::LbContext lb;
    std::vector<const upstream::Host*> tried;
    if (cx_count_.host()) {
      tried.push_back(cx_count_.host().get());
      lb.avoid = &tried;
      lb.selection_attempts = 3;
    }
    cx_count_.release();
    upstream::HostSharedPtr host =
        worker_.chooseHost(cluster_, lb, original_dst_.valid() ? &original_dst_ : nullptr);
    if (!host) {
      stats_.downstream_cx_no_route.inc();
      cluster_stats_->upstream_cx_none_healthy.inc();
      REMORA_LOG(Debug, "[C%d] cluster '%s' has no host to connect to", down_->id(),
                 cluster_->name());
      finish(Connection::CloseMode::Abort);
      return;
    }
    if (!cluster_->canOpenConnection(false)) {
      cluster_stats_->upstream_cx_overflow.inc();
      REMORA_LOG(Debug, "[C%d] cluster '%s': max_connections reached", down_->id(),
                 cluster_->name());
      finish(Connection::CloseMode::Abort);
      return;
    }
    cx_count_.acquire(cluster_, host, false);
    const net::Address* dest = &host->address();
    const config::ClusterConfig& cc = cluster_->config();
    up_ = Connection::create(worker_.loop(), factory_->bufferLimit());
    if (cluster_->tlsContext()) up_->startTls(cluster_->tlsContext());
    up_->setCallbacks(this);
    cluster_stats_->upstream_cx_total.inc();
    cluster_stats_->upstream_cx_active.add();
    auto status = up_->connect(*dest, cc.source_address ? &*cc.source_address : nullptr);
    if (!status.ok()) {
      REMORA_LOG(Debug, "[C%d] upstream %s: %s", down_->id(), dest->toString(), status.message());
      connectFailed();
      return;
    }
    REMORA_LOG(Debug, "[C%d] connecting to %s (cluster %s, attempt %d) as [C%d]", down_->id(),
               dest->toString(), cluster_->name(), attempts_, up_->id());
    uv_timer_start(&timer_, &TcpProxySession::onTimer,
                   static_cast<uint64_t>(cc.connect_timeout.count()), 0);
  }

  // The current attempt failed: try again if attempts remain, else reset the client.
  void connectFailed() {
    cluster_stats_->upstream_cx_connect_fail.inc();
    if (cx_count_.host()) {
      cx_count_.host()->cx_connect_fail.fetch_add(1, std::memory_order_relaxed);
      // A local-origin failure for outlier detection (consecutive ones eject the host).
      if (auto* od = cluster_->outlierDetector()) od->report(*cx_count_.host(), 0);
    }
    if (attempts_ < factory_->config().max_connect_attempts && !finishing_) {
      Connection* failed = up_;
      up_ = nullptr;
      failed->setCallbacks(&closer_);
      ++failed_attempts_closing_;
      failed->close(Connection::CloseMode::Abort);
      uv_timer_stop(&timer_);
      connectUpstream();
      return;
    }
    if (factory_->config().max_connect_attempts > 1) {
      cluster_stats_->upstream_cx_connect_attempts_exceeded.inc();
    }
    finish(Connection::CloseMode::Abort);
  }

  // --- Connection::Callbacks ---
  void onConnect(Connection& conn, int status) override {
    if (finishing_) return;
    if (status != 0) {
      REMORA_LOG(Debug, "[C%d] upstream connect failed: %s", down_->id(), uv_err_name(status));
      connectFailed();
      return;
    }
    connected_ = true;
    // Envoy's "connect success, final" ends a streak of connect failures.
    if (auto* od = cluster_->outlierDetector(); od != nullptr && cx_count_.host())
      od->report(*cx_count_.host(), 200);
    last_activity_ = worker_.loop().now();
    if (!initial_.empty()) {
      stats_.downstream_cx_rx_bytes_total.inc(initial_.size());
      cluster_stats_->upstream_cx_tx_bytes_total.inc(initial_.size());
      up_->writeCopy(initial_);
      initial_.clear();
      initial_.shrink_to_fit();
    }
    down_->readEnable(true);
    up_->readEnable(true);
    armIdleTimer(idleTimeoutMs());
  }

  void onData(Connection& conn, event::Block* block) override {
    last_activity_ = worker_.loop().now();
    if (&conn == down_) {
      stats_.downstream_cx_rx_bytes_total.inc(block->len);
      cluster_stats_->upstream_cx_tx_bytes_total.inc(block->len);
    } else {
      cluster_stats_->upstream_cx_rx_bytes_total.inc(block->len);
      stats_.downstream_cx_tx_bytes_total.inc(block->len);
    }
    Connection* other = peer(conn);
    if (other == nullptr) {
      worker_.loop().blocks().release(block);
      return;
    }
    other->write(block);
  }

  void onEof(Connection& conn) override {
    REMORA_LOG(Debug, "[C%d] %s half-closed", conn.id(),
               &conn == down_ ? "downstream" : "upstream");
    Connection* other = peer(conn);
    if (other != nullptr) other->shutdownWrite();
    maybeDone();
  }

  void onShutdown(Connection& conn, int status) override { maybeDone(); }

  void onError(Connection& conn, int uv_error) override {
    REMORA_LOG(Debug, "[C%d] %s error: %s", conn.id(), &conn == down_ ? "downstream" : "upstream",
               uv_err_name(uv_error));
    if (&conn == up_) upstream_remote_close_ = true;
    stats_.downstream_cx_reset.inc();
    finish(Connection::CloseMode::Abort);
  }

  void onAboveWriteWatermark(Connection& conn) override {
    Connection* other = peer(conn);
    if (other == nullptr) return;
    other->readEnable(false);
    if (other == down_) {
      stats_.downstream_flow_control_paused_reading_total.inc();
    } else {
      cluster_stats_->upstream_flow_control_paused_reading_total.inc();
    }
  }

  void onBelowWriteWatermark(Connection& conn) override {
    Connection* other = peer(conn);
    if (other == nullptr || finishing_ || !connected_) return;
    other->readEnable(true);
    if (other == down_) {
      stats_.downstream_flow_control_resumed_reading_total.inc();
    } else {
      cluster_stats_->upstream_flow_control_resumed_reading_total.inc();
    }
  }

  void onClosed(Connection& conn) override {
    if (&conn == up_) {
      up_ = nullptr;
      cx_count_.release();
      cluster_stats_->upstream_cx_active.sub();
      if (upstream_remote_close_) {
        cluster_stats_->upstream_cx_destroy_remote.inc();
      } else {
        cluster_stats_->upstream_cx_destroy_local.inc();
      }
    } else if (&conn == down_) {
      down_ = nullptr;
    }
    handleClosed();
  }

 private:
  Connection* peer(Connection& conn) { return &conn == down_ ? up_ : down_; }

  uint64_t idleTimeoutMs() const {
    return static_cast<uint64_t>(factory_->config().idle_timeout.count());
  }

  void armIdleTimer(uint64_t ms) {
    if (ms == 0) return;  // disabled
    uv_timer_start(&timer_, &TcpProxySession::onTimer, ms, 0);
  }

  static void onTimer(uv_timer_t* timer) {
    auto* self = static_cast<TcpProxySession*>(timer->data);
    if (self->finishing_) return;
    if (!self->connected_) {
      self->cluster_stats_->upstream_cx_connect_timeout.inc();
      REMORA_LOG(Debug, "[C%d] upstream connect timeout", self->down_->id());
      self->connectFailed();
      return;
    }
    uint64_t idle = self->idleTimeoutMs();
    uint64_t quiet = self->worker_.loop().now() - self->last_activity_;
    if (quiet < idle) {
      self->armIdleTimer(idle - quiet);
      return;
    }
    self->stats_.idle_timeout.inc();
    REMORA_LOG(Debug, "[C%d] idle timeout", self->down_->id());
    self->finish(Connection::CloseMode::Flush);
  }

  // Both directions are finished once each side sent FIN and each shutdown completed.
  void maybeDone() {
    if (finishing_ || down_ == nullptr || up_ == nullptr) return;
    bool down_done = down_->eofReceived() && up_->writeShutdownComplete();
    bool up_done = up_->eofReceived() && down_->writeShutdownComplete();
    if (down_done && up_done) {
      upstream_remote_close_ = true;
      finish(Connection::CloseMode::Flush);
    }
  }

  // Closes everything. Flush keeps queued bytes unless a peer is stuck (then resets it).
  void finish(Connection::CloseMode mode) {
    if (finishing_) return;
    finishing_ = true;
    worker_.removeSession(this);
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
      auto* self = static_cast<TcpProxySession*>(h->data);
      self->timer_closed_ = true;
      self->handleClosed();
    });
    for (Connection* c : {down_, up_}) {
      if (c == nullptr) continue;
      // Queued bytes at this point belong to a peer that stopped reading (the normal end has
      // nothing queued): waiting for them could last forever, so that peer is reset.
      bool stuck = c->pendingWriteBytes() > 0;
      c->close(mode == Connection::CloseMode::Flush && !stuck ? Connection::CloseMode::Flush
                                                              : Connection::CloseMode::Abort);
    }
  }

  void handleClosed() {
    if (down_ == nullptr && up_ == nullptr && timer_closed_ && failed_attempts_closing_ == 0) {
      delete this;
    }
  }

  // Takes over a failed attempt's connection until its handle is closed.
  struct Closer : Connection::Callbacks {
    explicit Closer(TcpProxySession& s) : session(s) {}
    TcpProxySession& session;
    void onData(Connection& c, event::Block* b) override { c.loop().blocks().release(b); }
    void onEof(Connection&) override {}
    void onError(Connection&, int) override {}
    void onClosed(Connection&) override {
      session.cluster_stats_->upstream_cx_active.sub();
      session.cluster_stats_->upstream_cx_destroy_local.inc();
      --session.failed_attempts_closing_;
      session.handleClosed();
    }
  };

  server::Worker& worker_;
  std::shared_ptr<const TcpProxyFactory> factory_;
  TcpProxyStats& stats_;
  upstream::ClusterSharedPtr cluster_;
  upstream::ClusterStats* cluster_stats_ = nullptr;
  upstream::ConnectionCount cx_count_;  // the current attempt's (max_connections, its host)
  std::string initial_;
  net::Address original_dst_;
  Connection* down_;
  Connection* up_ = nullptr;
  Closer closer_{*this};
  uint32_t failed_attempts_closing_ = 0;
  uv_timer_t timer_;
  uint64_t last_activity_ = 0;
  uint32_t attempts_ = 0;
  bool connected_ = false;
  bool finishing_ = false;
  bool timer_closed_ = false;
  bool upstream_remote_close_ = false;
};

}  // namespace

TcpProxyFactory::TcpProxyFactory(config::TcpProxyConfig config, uint32_t buffer_limit,
                                 stats::Store& store, size_t workers)
    : config_(std::move(config)),
      buffer_limit_(buffer_limit),
      stats_(store.shardedScope<TcpProxyStats>(workers, cat("tcp.", config_.stat_prefix, "."),
                                               "tcp", {{"envoy_tcp_prefix", config_.stat_prefix}})),
      rng_(new Rng[workers]) {
  for (const auto& wc : config_.weighted_clusters) total_weight_ += wc.weight;
  for (size_t w = 0; w < workers; ++w) {
    rng_[w].state = 0x9e3779b97f4a7c15ULL * (w + 1) ^ reinterpret_cast<uintptr_t>(this);
  }
}

const std::string& TcpProxyFactory::pickCluster(size_t worker) const {
  if (config_.weighted_clusters.empty()) return config_.cluster;
  uint64_t& x = rng_[worker].state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  uint64_t r = (x * 0x2545F4914F6CDD1DULL) % total_weight_;
  for (const auto& wc : config_.weighted_clusters) {
    if (r < wc.weight) return wc.name;
    r -= wc.weight;
  }
  return config_.weighted_clusters.back().name;
}

void TcpProxyFactory::onAccept(server::Worker& worker, net::Connection* conn,
                               const server::ConnectionInfo& info) {
  auto* session = new TcpProxySession(worker, shared_from_this(), conn, info);
  session->start();
}

absl::StatusOr<server::NetworkFilterFactorySharedPtr> createTcpProxyFactory(
    const config::NetworkFilterConfig& config, server::FilterFactoryContext& context) {
  const config::TcpProxyConfig& tcp = config.tcp_proxy;
  if (tcp.stat_prefix.empty()) {
    return absl::InvalidArgumentError("tcp_proxy: stat_prefix must not be empty");
  }
  if (tcp.cluster.empty() == tcp.weighted_clusters.empty()) {
    return absl::InvalidArgumentError(
        cat("tcp_proxy '", tcp.stat_prefix, "': exactly one of cluster and weighted_clusters"));
  }
  for (const auto& wc : tcp.weighted_clusters) {
    if (wc.weight == 0 || wc.name.empty()) {
      return absl::InvalidArgumentError(cat("tcp_proxy '", tcp.stat_prefix, "': weighted cluster '",
                                            wc.name, "' needs a name and a positive weight"));
    }
  }
  if (tcp.max_connect_attempts == 0) {
    return absl::InvalidArgumentError(
        cat("tcp_proxy '", tcp.stat_prefix, "': max_connect_attempts must be at least 1"));
  }
  return std::make_shared<TcpProxyFactory>(tcp, context.buffer_limit, context.stats,
                                           context.workers);
}

}  // namespace remora::filters
