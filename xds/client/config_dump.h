// /config_dump in Envoy's layout (envoy.admin.v3.ConfigDump): the bootstrap, then clusters,
// endpoints, listeners and route configurations as applied, static and dynamic, with versions
// and update times.
#pragma once

#include <string>

#include "envoy/config/bootstrap/v3/bootstrap.pb.h"
#include "xds/client/xds_client.h"

namespace remora::xds {

std::string configDumpJson(const envoy::config::bootstrap::v3::Bootstrap& bootstrap,
                           uint64_t start_ms, const XdsClient::Dump* dynamic);

}  // namespace remora::xds
