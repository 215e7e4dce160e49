// The admin endpoints (Envoy's paths and semantics): /ready, /stats, /stats/prometheus,
// /quitquitquit, /drain_listeners on the admin port; /stats/prometheus alone on the scrape
// port; /healthz/ready on the kubelet's port.
#pragma once

#include <memory>
#include <string_view>

#include "proxy/admin/http_server.h"
#include "proxy/stats/stats.h"

namespace remora::admin {

// Envoy's server.state values.
enum class ServerState { Live = 0, Draining = 1, PreInitializing = 2, Initializing = 3 };
std::string_view stateName(ServerState state);

// What the handlers need from the server; a seam so that tests can drive them directly.
class AdminHooks {
 public:
  virtual ~AdminHooks() = default;
  virtual ServerState state() const = 0;
  virtual stats::Store& stats() = 0;
  // Stop the process now (open connections are reset), exit 0.
  virtual void quit() = 0;
  // Stop accepting on every listener; open connections continue. The process stays up.
  virtual void drainListeners() = 0;
};

std::shared_ptr<Router> adminRouter(AdminHooks& hooks);
std::shared_ptr<Router> prometheusRouter(AdminHooks& hooks);
std::shared_ptr<Router> healthRouter(AdminHooks& hooks);

}  // namespace remora::admin
