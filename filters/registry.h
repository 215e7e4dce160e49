// The one place every filter remora implements is listed (no static self-registration).
#pragma once

#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "proxy/config/http_config.h"
#include "proxy/http/filter.h"
#include "proxy/server/network_filter.h"
#include "proxy/stats/stats.h"

namespace remora::filters {

// Network filters by name: envoy.filters.network.tcp_proxy, ...http_connection_manager (terminal)
// and ...rbac (admission).
server::NetworkFilterRegistry networkFilters();

// What an HTTP filter's factory may use while it is built: the stats store and the connection
// manager it belongs to (its stat_prefix, its forwarding settings).
struct HttpFilterContext {
  stats::Store& stats;
  size_t workers;
  const config::HttpConnectionManagerConfig& manager;
};

// HTTP filters by name, in the order nothing: the connection manager's config gives the order.
using HttpFilterCreator = std::function<absl::StatusOr<http::HttpFilterFactorySharedPtr>(
    const config::HttpFilterConfig&, const HttpFilterContext&)>;
std::map<std::string, HttpFilterCreator> httpFilters();

}  // namespace remora::filters
