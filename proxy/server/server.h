// The sidecar process: main loop (admin, signals, drain), workers, listeners and clusters.
#pragma once

#include <uv.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proxy/admin/admin.h"
#include "proxy/admin/http_server.h"
#include "proxy/event/event_loop.h"
#include "proxy/server/listener.h"
#include "proxy/server/network_filter.h"
#include "proxy/server/options.h"
#include "proxy/server/snapshot.h"
#include "proxy/server/worker.h"
#include "proxy/stats/stats.h"
#include "proxy/upstream/cluster.h"
#include "proxy/upstream/health_checker.h"

namespace remora::server {

class Server : public admin::AdminHooks {
 public:
  Server(Options options, NetworkFilterRegistry filters);
  ~Server() override;

  // Builds the configuration, binds every listener and admin port (errors name which), and
  // starts the workers. After OK the server is LIVE.
  absl::Status start(const config::ProxyConfig& config);
  // From the main thread: installs a new configuration. Unchanged listeners and clusters are
  // kept as they are; new sockets are bound first, so an error (a port in use, a filter that
  // cannot be built) changes nothing. Connections keep the versions they started with;
  // those of replaced listeners are reset after the listener drain time.
  absl::Status applyConfig(const config::ProxyConfig& config);
  const Snapshot& snapshot() const { return *snapshot_; }
  event::EventLoop& mainLoop() { return main_; }
  // Runs the main loop until the server has shut down; returns the exit code.
  int run();

  // Stops at once: resets open connections, closes every handle; run() then returns.
  void stop();
  // SIGTERM: stop accepting, let open connections finish up to the drain timeout, exit.
  void drainAndExit();

  // --- admin::AdminHooks ---
  admin::ServerState state() const override;
  stats::Store& stats() override { return store_; }
  void quit() override;
  void drainListeners() override;

  const admin::HttpServer* adminServer() const { return admin_.get(); }

  // Before start(): an extra admin endpoint (e.g. /config_dump from the xDS layer).
  void addAdminHandler(std::string path, std::string help, bool mutating, admin::Handler handler);
  // Before start(): the server reports INITIALIZING (not ready) until this returns true
  // (Envoy's init manager: the first xDS fetch).
  void setInitializedCheck(std::function<bool()> check) { initialized_check_ = std::move(check); }
  // Runs on the main loop once every handle is closed, before run() returns.
  void setOnStop(std::function<void()> fn) { on_stop_ = std::move(fn); }

 private:
  absl::Status startAdmin();
  admin::Response clustersPage();
  void onWorkerDrained();
  void stopListeners(bool exit_when_drained);

  Options options_;
  NetworkFilterRegistry filters_;
  event::EventLoop main_;
  stats::Store store_;
  std::shared_ptr<stats::Scope> server_stats_;
  std::vector<std::unique_ptr<Worker>> workers_;
  SnapshotSharedPtr snapshot_;
  std::unique_ptr<admin::HttpServer> admin_;
  std::unique_ptr<admin::HttpServer> prometheus_;
  std::unique_ptr<admin::HttpServer> health_;
  uv_signal_t sigterm_;
  uv_signal_t sigint_;
  uv_timer_t drain_timer_;
  std::atomic<admin::ServerState> state_{admin::ServerState::PreInitializing};
  uint64_t start_time_ms_ = 0;
  size_t workers_drained_ = 0;
  bool exit_when_drained_ = false;
  bool shutting_down_ = false;
  bool clean_exit_ = true;
  bool handles_initialized_ = false;
  struct ExtraHandler {
    std::string path, help;
    bool mutating;
    admin::Handler handler;
  };
  std::vector<ExtraHandler> extra_admin_;
  std::function<bool()> initialized_check_;
  std::function<void()> on_stop_;
  // Circuit-breaker gauges per cluster name.
  std::map<std::string, std::shared_ptr<stats::Scope>> breaker_stats_;
  // Outlier detection per cluster name, across the cluster's versions.
  std::map<std::string, std::shared_ptr<upstream::OutlierDetector>> detectors_;
  // Active health checking per cluster name, across the cluster's versions.
  std::map<std::string, std::shared_ptr<upstream::HealthChecker>> health_checkers_;
};

}  // namespace remora::server
