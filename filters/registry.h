// The one place every filter remora implements is listed (no static self-registration).
#pragma once

#include "proxy/server/network_filter.h"

namespace remora::filters {

// Network filters by name: envoy.filters.network.tcp_proxy.
server::NetworkFilterRegistry networkFilters();

}  // namespace remora::filters
