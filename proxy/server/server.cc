// Server lifecycle: start, drain, shutdown.
#include "proxy/server/server.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/net/socket.h"

namespace remora::server {
namespace {

int64_t residentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace

Server::Server(Options options, NetworkFilterRegistry filters)
    : options_(std::move(options)),
      filters_(std::move(filters)),
      main_("main"),
      snapshot_(std::make_shared<Snapshot>()) {
  server_stats_ = std::make_shared<stats::CallbackScope>(
      "server.", "server", [this](const stats::StatVisitor& visit) {
        admin::ServerState s = state();
        visit({"live", stats::Kind::Gauge,
               "1 when the server is live, 0 while draining or starting",
               s == admin::ServerState::Live ? 1 : 0});
        visit({"state", stats::Kind::Gauge,
               "0 live, 1 draining, 2 pre-initializing, 3 initializing", static_cast<int64_t>(s)});
        visit({"concurrency", stats::Kind::Gauge, "Worker threads",
               static_cast<int64_t>(options_.concurrency)});
        visit({"uptime", stats::Kind::Gauge, "Seconds since the server started",
               static_cast<int64_t>((uv_hrtime() / 1'000'000 - start_time_ms_) / 1000)});
        visit({"memory_physical_size", stats::Kind::Gauge, "Resident set size in bytes",
               residentBytes()});
      });
  start_time_ms_ = uv_hrtime() / 1'000'000;
  store_.add(server_stats_);
}

Server::~Server() {
  for (auto& w : workers_) w->join();
}

absl::Status Server::applyConfig(const config::ProxyConfig& config) {
  size_t n = options_.concurrency;
  auto next = std::make_shared<Snapshot>();
  next->version = snapshot_->version + 1;

  // Clusters: an unchanged cluster keeps its runtime object (and its load-balancing state).
  for (const auto& cc : config.clusters) {
    if (next->clusters.contains(cc.name)) {
      return absl::InvalidArgumentError(cat("duplicate cluster '", cc.name, "'"));
    }
    const upstream::ClusterSharedPtr* old = snapshot_->cluster(cc.name);
    // A changed one is a new version that keeps the old one's hosts and circuit-breaker state.
    if (old != nullptr && (*old)->config() == cc) {
      next->clusters[cc.name] = *old;
      continue;
    }
    auto c =
        std::make_shared<upstream::Cluster>(cc, store_, n, old != nullptr ? old->get() : nullptr);
    if (cc.tls) {
      if (!cc.tls->common.secrets_ready()) {
        return absl::UnavailableError(
            cat("cluster '", cc.name, "': its TLS secrets have not arrived"));
      }
      auto ctx = tls::TlsContext::createClient(
          *cc.tls, tls::TlsStats::get(store_, cat("cluster.", cc.name, "."), "cluster",
                                      {{"envoy_cluster_name", cc.name}}));
      if (!ctx.ok()) {
        return absl::InvalidArgumentError(
            cat("cluster '", cc.name, "': transport_socket: ", ctx.status().message()));
      }
      c->setTlsContext(*ctx);
    }
    if (cc.outlier_detection) {
      auto& d = detectors_[cc.name];
      if (!d)
        d = std::make_shared<upstream::OutlierDetector>(main_, store_, cc.name, c->stateRef());
      d->setState(c->stateRef());  // a version whose update failed may have left another
      c->setOutlierDetector(d);
    }
    if (!cc.health_checks.empty()) {
      auto& h = health_checkers_[cc.name];
      if (!h) h = std::make_shared<upstream::HealthChecker>(main_, store_, cc.name, c->stateRef());
      h->setState(c->stateRef());
    }
    next->clusters[cc.name] = std::move(c);
  }

  // Route tables from RDS: an unchanged one keeps its compiled object.
  for (const auto& rc : config.routes) {
    if (next->routes.contains(rc.name)) {
      return absl::InvalidArgumentError(cat("duplicate route configuration '", rc.name, "'"));
    }
    const http::RouteTable* old = snapshot_->routeTable(rc.name);
    if (old != nullptr && old->config() == rc) {
      next->routes[rc.name] = snapshot_->routes.at(rc.name);
      continue;
    }
    auto table = http::RouteTable::create(rc);
    if (!table.ok()) {
      return absl::InvalidArgumentError(
          cat("route configuration '", rc.name, "': ", table.status().message()));
    }
    next->routes[rc.name] = *table;
  }

  // Listeners: an unchanged listener keeps its object; a changed one is rebuilt and the old
  // version drains.
  std::vector<uint16_t> own_ports;
  for (const auto& lc : config.listeners) {
    if (lc.bind_to_port) own_ports.push_back(lc.address.port());
  }
  for (const auto& lc : config.listeners) {
    if (next->listeners.contains(lc.name)) {
      return absl::InvalidArgumentError(cat("duplicate listener '", lc.name, "'"));
    }
    auto old = snapshot_->listeners.find(lc.name);
    ListenerSharedPtr l;
    if (old != snapshot_->listeners.end() && old->second->config() == lc) {
      l = old->second;
    } else {
      auto built = Listener::create(lc, filters_, store_, n);
      if (!built.ok()) {
        return absl::InvalidArgumentError(
            cat("listener '", lc.name, "': ", built.status().message()));
      }
      (*built)->setOwnPorts(own_ports);
      if (old != snapshot_->listeners.end() &&
          Listener::sameButForTlsMaterial(old->second->config(), lc)) {
        (*built)->inheritLineage(*old->second);  // a certificate rotation: no drain
      }
      l = *built;
    }
    if (next->by_address.contains(lc.address)) {
      return absl::InvalidArgumentError(cat("listener '", lc.name, "': address ",
                                            lc.address.toString(), " is already used by listener '",
                                            next->by_address[lc.address]->name(), "'"));
    }
    next->by_address[lc.address] = l;
    next->listeners[lc.name] = l;
  }

  // Sockets: bind what is new before anything changes, so that a port in use fails the
  // update and leaves the running configuration as it was.
  std::vector<SocketChanges> changes(n);
  std::vector<int> opened;
  auto closeOpened = [&] {
    for (int fd : opened) ::close(fd);
  };
  for (const auto& [name, l] : next->listeners) {
    const auto& lc = l->config();
    auto old = snapshot_->listeners.find(name);
    bool had_socket = old != snapshot_->listeners.end() && old->second->config().bind_to_port &&
                      old->second->config().address == lc.address;
    if (!lc.bind_to_port || had_socket) continue;
    for (size_t w = 0; w < n; ++w) {
      auto fd = net::bindTcpSocket(lc.address, /*reuse_port=*/true);
      if (fd.ok() && ::listen(*fd, 4096) != 0) {
        ::close(*fd);
        fd = absl::UnavailableError(cat("listen ", lc.address.toString(), ": ", strerror(errno)));
      }
      if (!fd.ok()) {
        closeOpened();
        return absl::Status(fd.status().code(),
                            cat("listener '", name, "': ", fd.status().message()));
      }
      opened.push_back(*fd);
      changes[w].open[name] = *fd;
    }
  }
  for (const auto& [name, l] : snapshot_->listeners) {
    if (!l->config().bind_to_port) continue;
    auto now = next->listeners.find(name);
    if (now == next->listeners.end() || !now->second->config().bind_to_port ||
        !(now->second->config().address == l->config().address)) {
      for (size_t w = 0; w < n; ++w) changes[w].close.push_back(name);
    }
  }

  // Circuit-breaker gauges per cluster name (Envoy's circuit_breakers.<priority>.*), read from
  // the version in force when the stats are rendered (on this thread).
  for (const auto& [name, c] : next->clusters) {
    if (breaker_stats_.contains(name)) continue;
    auto scope = std::make_shared<stats::CallbackScope>(
        cat("cluster.", name, ".circuit_breakers."), "cluster_circuit_breakers",
        [this, name = name](const stats::StatVisitor& visit) {
          const upstream::ClusterSharedPtr* cl = snapshot_->cluster(name);
          if (cl == nullptr) return;
          for (bool high : {false, true}) {
            const auto& t = (*cl)->thresholds(high);
            const auto& r = (*cl)->resources(high);
            std::string_view p = high ? "high." : "default.";
            uint64_t cx = r.connections.load(), pending = r.pending.load(), rq = r.requests.load(),
                     retries = r.retries.load();
            auto gauge = [&](std::string_view stat, uint64_t v, std::string_view help) {
              std::string full = cat(p, stat);
              visit({full, stats::Kind::Gauge, help, static_cast<int64_t>(v)});
            };
            gauge("cx_open", cx >= t.max_connections, "1 when max_connections is reached");
            gauge("rq_pending_open", pending >= t.max_pending_requests,
                  "1 when max_pending_requests is reached");
            gauge("rq_open", rq >= t.max_requests, "1 when max_requests is reached");
            gauge("rq_retry_open", !(*cl)->canRetry(high), "1 when no retry may start");
            if (t.track_remaining) {
              auto left = [](uint64_t max, uint64_t used) { return used >= max ? 0 : max - used; };
              gauge("remaining_cx", left(t.max_connections, cx), "Connections left");
              gauge("remaining_pending", left(t.max_pending_requests, pending),
                    "Pending requests left");
              gauge("remaining_rq", left(t.max_requests, rq), "Requests left");
              gauge("remaining_retries", left(t.max_retries, retries), "Retries left");
            }
          }
        },
        std::vector<std::pair<std::string, std::string>>{{"envoy_cluster_name", name}});
    store_.add(scope);
    breaker_stats_[name] = scope;
  }
  for (auto it = breaker_stats_.begin(); it != breaker_stats_.end();) {
    it = next->clusters.contains(it->first) ? std::next(it) : breaker_stats_.erase(it);
  }

  // Outlier detection follows the clusters' hosts; a cluster without it (or gone) unejects.
  for (auto it = detectors_.begin(); it != detectors_.end();) {
    auto c = next->clusters.find(it->first);
    if (c == next->clusters.end() || !c->second->config().outlier_detection) {
      it->second->stop();
      it = detectors_.erase(it);
      continue;
    }
    it->second->update(*c->second->config().outlier_detection, c->second->hosts());
    ++it;
  }
  // Health checking likewise; a cluster without health checks (or gone) stops it. A passing
  // check unejects an ejected host unless outlier detection says otherwise.
  for (auto it = health_checkers_.begin(); it != health_checkers_.end();) {
    auto c = next->clusters.find(it->first);
    if (c == next->clusters.end() || c->second->config().health_checks.empty()) {
      it->second->stop();
      it = health_checkers_.erase(it);
      continue;
    }
    const auto& od = c->second->config().outlier_detection;
    auto d = detectors_.find(it->first);
    if (od && od->successful_active_health_check_uneject_host && d != detectors_.end()) {
      std::weak_ptr<upstream::OutlierDetector> weak = d->second;
      it->second->setOnSuccess([weak](const upstream::Host* host) {
        if (auto detector = weak.lock()) detector->uneject(host);
      });
    } else {
      it->second->setOnSuccess(nullptr);
    }
    it->second->setTlsContext(c->second->tlsContext());
    it->second->update(c->second->config().health_checks, c->second->hosts());
    ++it;
  }

  snapshot_ = next;
  for (size_t w = 0; w < workers_.size(); ++w) {
    Worker* worker = workers_[w].get();
    worker->loop().post(
        [worker, next, c = std::move(changes[w]), d = options_.listener_drain_time]() mutable {
          worker->applySnapshot(next, std::move(c), d);
        });
  }
  REMORA_LOG(Info, "configuration version %d: %d listeners, %d clusters", next->version,
             next->listeners.size(), next->clusters.size());
  return absl::OkStatus();
}

admin::ServerState Server::state() const {
  admin::ServerState s = state_.load();
  if (s == admin::ServerState::Live && initialized_check_ && !initialized_check_()) {
    return admin::ServerState::Initializing;
  }
  return s;
}

void Server::addAdminHandler(std::string path, std::string help, bool mutating,
                             admin::Handler handler) {
  extra_admin_.push_back({std::move(path), std::move(help), mutating, std::move(handler)});
}

// Envoy's /clusters text: "cluster::setting::value" lines, then per host
// "cluster::ip:port::name::value".
admin::Response Server::clustersPage() {
  admin::Response r;
  std::vector<std::string> names;
  for (const auto& [name, c] : snapshot_->clusters) names.push_back(name);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const upstream::ClusterSharedPtr& c = snapshot_->clusters.at(name);
    const upstream::OutlierDetector* od = c->outlierDetector();
    if (od != nullptr) {
      append(&r.body, name, "::outlier::success_rate_average::", od->successRateAverage(), "\n");
      append(&r.body, name,
             "::outlier::success_rate_ejection_threshold::", od->successRateThreshold(), "\n");
    }
    for (bool high : {false, true}) {
      const auto& t = c->thresholds(high);
      std::string_view p = high ? "high_priority" : "default_priority";
      append(&r.body, name, "::", p, "::max_connections::", t.max_connections, "\n");
      append(&r.body, name, "::", p, "::max_pending_requests::", t.max_pending_requests, "\n");
      append(&r.body, name, "::", p, "::max_requests::", t.max_requests, "\n");
      append(&r.body, name, "::", p, "::max_retries::", t.max_retries, "\n");
    }
    for (const auto& h : c->hosts()) {
      std::string prefix = cat(name, "::", h->address().toString(), "::");
      append(&r.body, prefix, "cx_active::", h->cx_active.load(), "\n");
      append(&r.body, prefix, "cx_connect_fail::", h->cx_connect_fail.load(), "\n");
      append(&r.body, prefix, "cx_total::", h->cx_total.load(), "\n");
      append(&r.body, prefix, "rq_active::", h->rq_active.load(), "\n");
      append(&r.body, prefix, "rq_error::", h->rq_error.load(), "\n");
      append(&r.body, prefix, "rq_success::", h->rq_success.load(), "\n");
      append(&r.body, prefix, "rq_timeout::", h->rq_timeout.load(), "\n");
      append(&r.body, prefix, "rq_total::", h->rq_total.load(), "\n");
      uint32_t f = h->flags();
      std::string flags;
      auto flag = [&](uint32_t bit, std::string_view text) {
        if ((f & bit) == 0) return;
        if (!flags.empty()) flags += "|";
        flags += text;
      };
      flag(upstream::Host::kFailedActiveHealthCheck, "/failed_active_hc");
      flag(upstream::Host::kFailedOutlierCheck, "/failed_outlier_check");
      flag(upstream::Host::kPendingActiveHealthCheck, "/pending_active_hc");
      flag(upstream::Host::kDegradedEds, "/degraded_eds_health");
      append(&r.body, prefix, "health_flags::", flags.empty() ? "healthy" : flags, "\n");
      append(&r.body, prefix, "weight::", h->weight(), "\n");
      append(&r.body, prefix, "priority::", h->priority(), "\n");
      append(&r.body, prefix, "success_rate::", od != nullptr ? od->successRate(h.get()) : -1.0,
             "\n");
    }
  }
  return r;
}

absl::Status Server::startAdmin() {
  if (options_.admin_address) {
    auto router = admin::adminRouter(*this);
    router->add("/clusters", "upstream clusters and their hosts: health, ejections, counts", false,
                [this](const admin::Request&) { return clustersPage(); });
    for (auto& h : extra_admin_) router->add(h.path, h.help, h.mutating, h.handler);
    admin_ = std::make_unique<admin::HttpServer>(main_, "admin", router);
    if (auto s = admin_->listen(*options_.admin_address); !s.ok()) return s;
    if (!options_.admin_address_path.empty()) {
      std::ofstream out(options_.admin_address_path);
      out << admin_->address().toString() << "\n";
      if (!out) {
        return absl::UnavailableError(
            cat("cannot write --admin-address-path ", options_.admin_address_path));
      }
    }
  }
  if (options_.prometheus_address) {
    prometheus_ =
        std::make_unique<admin::HttpServer>(main_, "prometheus", admin::prometheusRouter(*this));
    if (auto s = prometheus_->listen(*options_.prometheus_address); !s.ok()) return s;
  }
  if (options_.health_address) {
    health_ = std::make_unique<admin::HttpServer>(main_, "health", admin::healthRouter(*this));
    if (auto s = health_->listen(*options_.health_address); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Server::start(const config::ProxyConfig& config) {
  state_ = admin::ServerState::Initializing;
  for (uint32_t w = 0; w < options_.concurrency; ++w) {
    workers_.push_back(std::make_unique<Worker>(w));
    workers_.back()->accessLogs().setFlushInterval(
        static_cast<uint64_t>(options_.file_flush_interval.count()));
  }
  // Listeners are bound here, on the main thread, so that a port in use fails start-up;
  // connections queue in the backlog until the workers pick the sockets up.
  if (auto s = applyConfig(config); !s.ok()) return s;
  if (auto s = startAdmin(); !s.ok()) return s;
  for (auto& w : workers_) w->start();
  for (const auto& [name, l] : snapshot_->listeners) {
    if (l->config().bind_to_port) {
      REMORA_LOG(Info, "listener %s on %s (%u workers)", name, l->config().address.toString(),
                 options_.concurrency);
    }
  }

  uv_signal_init(main_.uv(), &sigterm_);
  uv_signal_init(main_.uv(), &sigint_);
  sigterm_.data = sigint_.data = this;
  auto on_signal = [](uv_signal_t* h, int signum) {
    auto* self = static_cast<Server*>(h->data);
    REMORA_LOG(Info, "received %s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    if (self->exit_when_drained_) {
      self->stop();  // a second signal: stop waiting
    } else {
      self->drainAndExit();
    }
  };
  uv_signal_start(&sigterm_, on_signal, SIGTERM);
  uv_signal_start(&sigint_, on_signal, SIGINT);
  uv_timer_init(main_.uv(), &drain_timer_);
  drain_timer_.data = this;
  handles_initialized_ = true;

  state_ = admin::ServerState::Live;
  REMORA_LOG(Info, "remora is live with %u workers", options_.concurrency);
  return absl::OkStatus();
}

int Server::run() {
  main_.run();
  clean_exit_ = main_.close() && clean_exit_;
  REMORA_LOG(Info, "exited %s", clean_exit_ ? "cleanly" : "with handles left open");
  return clean_exit_ ? 0 : 1;
}

void Server::stopListeners(bool exit_when_drained) {
  state_ = admin::ServerState::Draining;
  workers_drained_ = 0;
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->loop().post([this, worker] {
      worker->stopListeners([this] { main_.post([this] { onWorkerDrained(); }); });
    });
  }
  if (exit_when_drained) {
    exit_when_drained_ = true;
    uv_timer_start(
        &drain_timer_,
        [](uv_timer_t* t) {
          auto* self = static_cast<Server*>(t->data);
          REMORA_LOG(Info, "drain timeout: resetting the connections still open");
          self->stop();
        },
        static_cast<uint64_t>(options_.drain_timeout.count()), 0);
  }
}

void Server::drainAndExit() {
  if (exit_when_drained_ || shutting_down_) return;
  REMORA_LOG(Info, "draining: listeners closed, waiting up to %dms for open connections",
             options_.drain_timeout.count());
  stopListeners(true);
}

void Server::drainListeners() {
  if (shutting_down_ || state_ == admin::ServerState::Draining) return;
  REMORA_LOG(Info, "draining listeners (admin request)");
  stopListeners(false);
}

void Server::quit() {
  REMORA_LOG(Info, "quit requested");
  main_.post([this] { stop(); });
}

void Server::onWorkerDrained() {
  if (++workers_drained_ == workers_.size() && exit_when_drained_) {
    REMORA_LOG(Info, "drained: no connections left");
    stop();
  }
}

void Server::stop() {
  if (shutting_down_) return;
  shutting_down_ = true;
  state_ = admin::ServerState::Draining;
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->loop().post([worker] { worker->shutdown(); });
  }
  for (auto& w : workers_) {
    if (!w->join()) {
      clean_exit_ = false;
      REMORA_LOG(Error, "worker_%u: loop closed with handles open", w->index());
    }
  }
  if (handles_initialized_) {
    uv_timer_stop(&drain_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer_), nullptr);
  }
  for (auto* s : {admin_.get(), prometheus_.get(), health_.get()}) {
    if (s != nullptr) s->close([] {});
  }
  if (on_stop_) on_stop_();
  for (auto& [name, d] : detectors_) d->stop();
  detectors_.clear();
  for (auto& [name, h] : health_checkers_) h->stop();
  health_checkers_.clear();
  main_.shutdown();
}

}  // namespace remora::server
