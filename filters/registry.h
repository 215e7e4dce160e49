// The one place every filter remora implements is listed (no static self-registration).
#pragma once

#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "proxy/config/http_config.h"
#include "proxy/http/filter.h"
#include "proxy/server/network_filter.h"

namespace remora::filters {

// Network filters by name: envoy.filters.network.tcp_proxy, ...http_connection_manager.
server::NetworkFilterRegistry networkFilters();

// HTTP filters by name, in the order nothing: the connection manager's config gives the order.
using HttpFilterCreator = std::function<absl::StatusOr<http::HttpFilterFactorySharedPtr>(
    const config::HttpFilterConfig&)>;
std::map<std::string, HttpFilterCreator> httpFilters();

}  // namespace remora::filters
