// envoy.filters.network.http_connection_manager: builds the shared, immutable part of a
// connection manager (route table, HTTP filter factories, access logs, stats) from its config.
#pragma once

#include "absl/status/statusor.h"
#include "proxy/config/config.h"
#include "proxy/server/network_filter.h"

namespace remora::filters {

absl::StatusOr<server::NetworkFilterFactorySharedPtr> createHttpConnectionManagerFactory(
    const config::NetworkFilterConfig& config, server::FilterFactoryContext& context);

}  // namespace remora::filters
