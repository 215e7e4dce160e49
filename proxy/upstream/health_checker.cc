// Active health checking: one probe session per host and health check, on the main loop.
#include "proxy/upstream/health_checker.h"

#include <algorithm>

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/http/http1_parser.h"
#include "proxy/net/connection.h"
#include "proxy/upstream/cluster.h"

namespace remora::upstream {

namespace {
constexpr uint32_t kBufferLimit = 64 * 1024;
constexpr size_t kMaxTcpReply = 64 * 1024;  // bytes kept while matching a TCP reply

uint64_t ms(config::Duration d) { return static_cast<uint64_t>(std::max<int64_t>(d.count(), 0)); }

// Envoy's TCP matching: each expected string found in the reply, in order, after the previous.
bool tcpReplyMatches(std::string_view reply, const std::vector<std::string>& expected) {
  size_t start = 0;
  for (const auto& segment : expected) {
    size_t at = reply.find(segment, start);
    if (at == std::string_view::npos) return false;
    start = at + segment.size();
  }
  return true;
}
}  // namespace

// --- Session: one host probed by one health check ---

class HealthChecker::Session : public net::Connection::Callbacks,
                               public http::Http1Parser::Callbacks {
 public:
  Session(HealthChecker& parent, HostSharedPtr host, const config::HealthCheckConfig& config,
          bool unhealthy, bool pending)
      : unhealthy_(unhealthy),
        pending_(pending),
        parent_(parent),
        host_(std::move(host)),
        config_(config) {
    timer_ = new uv_timer_t;
    uv_timer_init(parent_.main_.uv(), timer_);
    timer_->data = this;
  }
  ~Session() override {
    dropConnection(net::Connection::CloseMode::Abort);
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* t) { delete reinterpret_cast<uv_timer_t*>(t); });
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start(uint64_t delay_ms) { arm(delay_ms); }

  const HostSharedPtr& host() const { return host_; }
  const config::HealthCheckConfig& config() const { return config_; }

  // Health as this check sees it (HealthChecker::onResult moves it).
  bool unhealthy_;
  bool pending_;
  uint32_t successes_ = 0;  // consecutive, while unhealthy
  uint32_t failures_ = 0;   // consecutive, while healthy

  // The interval before the next check; `changed`: the check just moved the host's health.
  uint64_t nextInterval(bool changed) {
    const auto& c = config_;
    config::Duration unhealthy = c.unhealthy_interval.value_or(c.interval);
    config::Duration base;
    if (unhealthy_) {
      base = changed ? c.unhealthy_edge_interval.value_or(unhealthy) : unhealthy;
    } else {
      base = changed ? c.healthy_edge_interval.value_or(c.interval) : c.interval;
    }
    uint64_t t = ms(base);
    if (c.interval_jitter_percent > 0) t += parent_.jitter(c.interval_jitter_percent * t / 100);
    t += parent_.jitter(ms(c.interval_jitter));
    return std::max<uint64_t>(t, 1);
  }

  void arm(uint64_t delay_ms) {
    uv_timer_start(
        timer_, [](uv_timer_t* t) { static_cast<Session*>(t->data)->onTimer(); }, delay_ms, 0);
  }

 private:
  bool http() const { return config_.kind == config::HealthCheckConfig::Kind::Http; }

  void onTimer() {
    if (in_check_) {
      REMORA_LOG(Debug, "health check: %s timed out", host_->address().toString());
      finish(false, /*network=*/true);
      return;
    }
    begin();
  }

  void begin() {
    in_check_ = true;
    parent_.s_.attempt.inc();
    uv_timer_start(
        timer_, [](uv_timer_t* t) { static_cast<Session*>(t->data)->onTimer(); },
        std::max<uint64_t>(ms(config_.timeout), 1), 0);
    if (conn_ != nullptr && connected_) {
      sendProbe();  // a kept-alive HTTP connection
      return;
    }
    dropConnection(net::Connection::CloseMode::Abort);
    conn_ = net::Connection::create(parent_.main_, kBufferLimit);
    if (parent_.tls_) conn_->startTls(parent_.tls_);
    conn_->setCallbacks(this);
    auto st = conn_->connect(host_->address(), nullptr);
    if (!st.ok()) {
      REMORA_LOG(Debug, "health check: connect %s: %s", host_->address().toString(), st.message());
      finish(false, /*network=*/true);
    }
  }

  void sendProbe() {
    reply_.clear();
    if (http()) {
      parser_ = std::make_unique<http::Http1Parser>(http::Http1Parser::Mode::Response,
                                                    http::Http1Limits{}, *this);
      status_ = 0;
      http::RequestHeaders req;
      req.method = "GET";
      req.authority = config_.host.empty() ? parent_.cluster_ : config_.host;
      req.path = config_.path.empty() ? "/" : config_.path;
      req.headers.add("user-agent", "Envoy/HC");
      // Envoy's order: the base headers, then removals, then additions.
      for (const auto& name : config_.request_headers_to_remove) {
        std::string lower = name;
        http::toLower(lower);
        req.headers.remove(lower);
      }
      for (const auto& [name, value] : config_.request_headers_to_add) {
        std::string lower = name;
        http::toLower(lower);
        req.headers.add(std::move(lower), value);
      }
      conn_->writeCopy(http::encodeRequestHead(req, http::BodyFraming::None));
      return;
    }
    if (!config_.send.empty()) conn_->writeCopy(config_.send);
    if (config_.receive.empty()) finish(true, false);  // connecting (and sending) is enough
  }

  // The check's outcome: the connection closes unless it may carry the next HTTP probe.
  // `immediate`: an HTTP answer with an unexpected status fails the host at once (Envoy:
  // unhealthy_threshold only applies to timeouts and connection failures).
  void finish(bool success, bool network, bool keep_connection = false, bool immediate = false) {
    if (!in_check_) return;
    in_check_ = false;
    uv_timer_stop(timer_);
    if (!keep_connection) {
      dropConnection(success ? net::Connection::CloseMode::Flush
                             : net::Connection::CloseMode::Abort);
    }
    if (success) {
      parent_.s_.success.inc();
    } else {
      parent_.s_.failure.inc();
      if (network) parent_.s_.network_failure.inc();
    }
    parent_.onResult(*this, success, immediate);  // arms the next check
  }

  void dropConnection(net::Connection::CloseMode mode) {
    if (conn_ == nullptr) return;
    net::Connection* c = conn_;
    conn_ = nullptr;
    connected_ = false;
    c->setCallbacks(nullptr);  // it is freed by its close callback, without us
    c->close(mode);
  }

  // net::Connection::Callbacks
  void onConnect(net::Connection& conn, int status) override {
    if (&conn != conn_) return;
    if (status != 0) {
      REMORA_LOG(Debug, "health check: connect %s: %s", host_->address().toString(),
                 uv_err_name(status));
      finish(false, /*network=*/true);
      return;
    }
    connected_ = true;
    conn_->readEnable(true);
    sendProbe();
  }

  void onData(net::Connection& conn, event::Block* block) override {
    std::string_view data(block->begin(), block->len);
    if (&conn != conn_ || !in_check_) {
      // Bytes nobody asked for: this connection cannot be trusted with the next probe.
      conn.loop().blocks().release(block);
      if (&conn == conn_) dropConnection(net::Connection::CloseMode::Abort);
      return;
    }
    if (http()) {
      while (!data.empty() && in_check_ && parser_ != nullptr) {
        size_t used = parser_->feed(data);
        data.remove_prefix(used);
        if (parser_->failed()) {
          REMORA_LOG(Debug, "health check: %s: %s", host_->address().toString(),
                     parser_->error().detail);
          finish(false, false);
          break;
        }
        if (parser_->paused()) {
          if (!in_check_) break;  // the response completed the check
          parser_->resume();      // an interim (1xx) response: the final one follows
        }
      }
    } else {
      reply_.append(data.data(), std::min(data.size(), kMaxTcpReply - reply_.size()));
      if (tcpReplyMatches(reply_, config_.receive)) finish(true, false);
    }
    conn.loop().blocks().release(block);
  }

  void onEof(net::Connection& conn) override {
    if (&conn != conn_) return;
    if (in_check_ && http() && parser_ != nullptr && parser_->bodyUntilClose()) {
      parser_->finish();  // completes the response (onMessageComplete)
      if (in_check_) finish(false, false);
      return;
    }
    if (in_check_) {
      finish(false, /*network=*/true);
      return;
    }
    dropConnection(net::Connection::CloseMode::Abort);
  }

  void onError(net::Connection& conn, int uv_error) override {
    if (&conn != conn_) return;
    REMORA_LOG(Debug, "health check: %s: %s", host_->address().toString(), uv_err_name(uv_error));
    if (in_check_) {
      finish(false, /*network=*/true);
    } else {
      dropConnection(net::Connection::CloseMode::Abort);
    }
  }

  void onClosed(net::Connection& conn) override {
    if (&conn == conn_) {
      conn_ = nullptr;
      connected_ = false;
    }
  }

  // http::Http1Parser::Callbacks
  void onResponseHeaders(http::ResponseHeaders&& headers, bool) override {
    status_ = headers.status;
  }
  void onBody(std::string_view) override {}
  void onMessageComplete(http::HeaderMap&&) override {
    if (status_ >= 100 && status_ < 200) return;  // an interim response
    bool pass = false;
    if (config_.expected_statuses.empty()) {
      pass = status_ == 200;
    } else {
      for (const auto& [lo, hi] : config_.expected_statuses) pass |= status_ >= lo && status_ < hi;
    }
    if (!pass) {
      REMORA_LOG(Debug, "health check: %s answered %d", host_->address().toString(), status_);
    }
    bool keep = parser_->keepAlive() && conn_ != nullptr && !conn_->eofReceived();
    finish(pass, false, keep, /*immediate=*/!pass);
  }

  HealthChecker& parent_;
  HostSharedPtr host_;
  config::HealthCheckConfig config_;
  uv_timer_t* timer_;                // freed by its close callback
  net::Connection* conn_ = nullptr;  // self-owned; detached before it closes
  std::unique_ptr<http::Http1Parser> parser_;
  std::string reply_;  // TCP: what the host answered so far
  uint32_t status_ = 0;
  bool connected_ = false;
  bool in_check_ = false;
};

// --- HealthChecker ---

HealthChecker::HealthChecker(event::EventLoop& main, stats::Store& store,
                             const std::string& cluster, std::weak_ptr<ClusterState> state)
    : main_(main),
      cluster_(cluster),
      state_(std::move(state)),
      stats_(store.shardedScope<HealthCheckStats>(1, cat("cluster.", cluster, ".health_check."),
                                                  "cluster_health_check",
                                                  {{"envoy_cluster_name", cluster}})),
      s_(stats_->shard(0)) {}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::stop() {
  if (stopped_) return;
  stopped_ = true;
  bool changed = false;
  for (auto& [p, h] : hosts_) {
    h.sessions.clear();
    constexpr uint32_t kMine = Host::kFailedActiveHealthCheck | Host::kPendingActiveHealthCheck;
    if ((h.host->flags() & kMine) != 0) {
      h.host->clearFlag(Host::kFailedActiveHealthCheck);
      h.host->clearFlag(Host::kPendingActiveHealthCheck);
      changed = true;
    }
  }
  hosts_.clear();
  s_.healthy.set(0);
  if (changed) {
    if (auto st = state_.lock()) st->health_generation.fetch_add(1, std::memory_order_acq_rel);
  }
}

void HealthChecker::startSessions(HostState& h) {
  h.sessions.clear();
  uint32_t flags = h.host->flags();
  for (const auto& c : checks_) {
    auto s =
        std::make_unique<Session>(*this, h.host, c, (flags & Host::kFailedActiveHealthCheck) != 0,
                                  (flags & Host::kPendingActiveHealthCheck) != 0);
    s->start(jitter(ms(c.initial_jitter)));
    h.sessions.push_back(std::move(s));
  }
}

void HealthChecker::update(const std::vector<config::HealthCheckConfig>& checks,
                           const HostVector& hosts) {
  if (stopped_) return;
  bool restart = checks != checks_;
  checks_ = checks;
  std::map<const Host*, HostState> next;
  bool flagged = false;
  for (const auto& host : hosts) {
    auto it = hosts_.find(host.get());
    if (it != hosts_.end()) {
      HostState& h = next.emplace(host.get(), std::move(it->second)).first->second;
      hosts_.erase(it);
      if (restart) startSessions(h);
      continue;
    }
    // New to the checker: out of rotation until its first check passes (Envoy's rule).
    host->setFlag(Host::kFailedActiveHealthCheck);
    host->setFlag(Host::kPendingActiveHealthCheck);
    flagged = true;
    HostState& h = next.emplace(host.get(), HostState{host, {}}).first->second;
    startSessions(h);
  }
  hosts_ = std::move(next);  // the hosts that left are dropped with their sessions
  if (flagged) {
    if (auto st = state_.lock()) st->health_generation.fetch_add(1, std::memory_order_acq_rel);
  }
  int64_t healthy = 0;
  for (auto& [p, h] : hosts_) {
    refresh(h);
    healthy +=
        (h.host->flags() & (Host::kFailedActiveHealthCheck | Host::kPendingActiveHealthCheck)) == 0;
  }
  s_.healthy.set(healthy);
}

void HealthChecker::onResult(Session& s, bool success, bool immediate) {
  bool changed = false;
  if (success) {
    s.failures_ = 0;
    if (s.unhealthy_ &&
        (s.pending_ || ++s.successes_ >= std::max<uint32_t>(s.config().healthy_threshold, 1))) {
      s.unhealthy_ = false;
      s.successes_ = 0;
      changed = true;
    }
  } else {
    s.successes_ = 0;
    if (!s.unhealthy_ &&
        (immediate || ++s.failures_ >= std::max<uint32_t>(s.config().unhealthy_threshold, 1))) {
      s.unhealthy_ = true;
      s.failures_ = 0;
      changed = true;
    }
  }
  s.pending_ = false;
  HostSharedPtr host = s.host();  // the session may not outlive the callbacks below
  s.arm(s.nextInterval(changed));
  auto it = hosts_.find(host.get());
  if (it != hosts_.end()) refresh(it->second);
  if (success && on_success_) on_success_(host.get());
}

void HealthChecker::refresh(HostState& h) {
  bool failed = false, pending = false;
  for (const auto& s : h.sessions) {
    failed |= s->unhealthy_;
    pending |= s->pending_;
  }
  uint32_t before = h.host->flags();
  bool was_failed = (before & Host::kFailedActiveHealthCheck) != 0;
  bool was_pending = (before & Host::kPendingActiveHealthCheck) != 0;
  if (failed == was_failed && pending == was_pending) return;
  failed ? h.host->setFlag(Host::kFailedActiveHealthCheck)
         : h.host->clearFlag(Host::kFailedActiveHealthCheck);
  pending ? h.host->setFlag(Host::kPendingActiveHealthCheck)
          : h.host->clearFlag(Host::kPendingActiveHealthCheck);
  bool was_healthy = !was_failed && !was_pending;
  bool healthy = !failed && !pending;
  if (was_healthy != healthy) {
    REMORA_LOG(Info, "health check: cluster '%s' host %s is %s", cluster_,
               h.host->address().toString(), healthy ? "healthy" : "unhealthy");
    s_.healthy.add(healthy ? 1 : -1);
  }
  if (auto st = state_.lock()) st->health_generation.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace remora::upstream
