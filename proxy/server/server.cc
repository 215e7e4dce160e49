// Server lifecycle: start, drain, shutdown.
#include "proxy/server/server.h"

#include <unistd.h>

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
    : options_(std::move(options)), filters_(std::move(filters)), main_("main") {
  server_stats_ = std::make_shared<stats::CallbackScope>(
      "server.", "server", [this](const stats::StatVisitor& visit) {
        admin::ServerState s = state_.load();
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

absl::Status Server::buildConfig(const config::ProxyConfig& config) {
  size_t n = options_.concurrency;
  for (const auto& cc : config.clusters) {
    if (clusters_.count(cc.name) != 0) {
      return absl::InvalidArgumentError(cat("duplicate cluster '", cc.name, "'"));
    }
    clusters_[cc.name] = std::make_shared<const upstream::Cluster>(cc, store_, n);
  }
  std::vector<uint16_t> own_ports;
  for (const auto& lc : config.listeners) own_ports.push_back(lc.address.port());
  for (const auto& lc : config.listeners) {
    if (lc.filters.size() != 1) {
      return absl::InvalidArgumentError(
          cat("listener '", lc.name, "': exactly one network filter is supported"));
    }
    const auto& fc = lc.filters[0];
    auto creator = filters_.find(fc.name);
    if (creator == filters_.end()) {
      return absl::InvalidArgumentError(
          cat("listener '", lc.name, "': unknown network filter '", fc.name, "'"));
    }
    FilterFactoryContext ctx{store_, n, clusters_, lc.per_connection_buffer_limit_bytes};
    auto factory = creator->second(fc, ctx);
    if (!factory.ok()) {
      return absl::InvalidArgumentError(
          cat("listener '", lc.name, "': ", factory.status().message()));
    }
    auto listener = std::make_shared<Listener>(lc, *factory, store_, n);
    listener->setOwnPorts(own_ports);
    listeners_.push_back(std::move(listener));
  }
  return absl::OkStatus();
}

absl::Status Server::startAdmin() {
  if (options_.admin_address) {
    admin_ = std::make_unique<admin::HttpServer>(main_, "admin", admin::adminRouter(*this));
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
  if (auto s = buildConfig(config); !s.ok()) return s;

  // Bind and listen on every worker's socket here, so that a port in use fails start-up and
  // connections queue in the backlog before the workers pick the sockets up.
  std::vector<std::vector<int>> fds(listeners_.size());
  for (size_t i = 0; i < listeners_.size(); ++i) {
    const auto& addr = listeners_[i]->config().address;
    for (uint32_t w = 0; w < options_.concurrency; ++w) {
      auto fd = net::bindTcpSocket(addr, /*reuse_port=*/true);
      if (fd.ok() && ::listen(*fd, 4096) != 0) {
        ::close(*fd);
        fd = absl::UnavailableError(cat("listen ", addr.toString(), ": ", strerror(errno)));
      }
      if (!fd.ok()) {
        for (auto& v : fds)
          for (int f : v) ::close(f);
        return absl::Status(fd.status().code(),
                            cat("listener '", listeners_[i]->name(), "': ", fd.status().message()));
      }
      fds[i].push_back(*fd);
    }
  }
  if (auto s = startAdmin(); !s.ok()) {
    for (auto& v : fds)
      for (int f : v) ::close(f);
    return s;
  }

  for (uint32_t w = 0; w < options_.concurrency; ++w) {
    workers_.push_back(std::make_unique<Worker>(w));
  }
  for (size_t i = 0; i < listeners_.size(); ++i) {
    for (uint32_t w = 0; w < options_.concurrency; ++w) {
      Worker* worker = workers_[w].get();
      auto listener = listeners_[i];
      int fd = fds[i][w];
      worker->loop().post([worker, listener, fd] { worker->addListener(listener, fd); });
    }
    REMORA_LOG(Info, "listener %s on %s (%u workers)", listeners_[i]->name(),
               listeners_[i]->config().address.toString(), options_.concurrency);
  }
  for (auto& w : workers_) w->start();

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
  main_.shutdown();
}

}  // namespace remora::server
