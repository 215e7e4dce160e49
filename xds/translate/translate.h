// Translation of Envoy v3 resources into remora's configuration model, with validation:
// what remora implements is translated, what only affects observability is noted and ignored,
// and anything else is an error naming the field path (the resource is NACKed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/core/v3/address.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "proxy/config/config.h"
#include "xds/translate/fields.h"

namespace remora::xds {

// A cluster; for EDS clusters `endpoints` stays empty and overprovisioning_factor at its
// default (both come from a ClusterLoadAssignment named by eds_service_name, or the cluster's
// name).
absl::StatusOr<config::ClusterConfig> translateCluster(
    const envoy::config::cluster::v3::Cluster& cluster, TranslateNotes* notes);

// What a ClusterLoadAssignment gives its cluster.
struct LoadAssignment {
  // The endpoints that may take traffic: HEALTHY, UNKNOWN and DEGRADED ones (flagged), with
  // their locality's priority. UNHEALTHY, DRAINING and TIMEOUT ones are left out.
  std::vector<config::Endpoint> endpoints;
  uint32_t overprovisioning_factor = 140;  // policy.overprovisioning_factor, percent
  bool operator==(const LoadAssignment&) const = default;
};

// `path` prefixes error messages.
absl::StatusOr<LoadAssignment> translateLoadAssignment(
    const envoy::config::endpoint::v3::ClusterLoadAssignment& cla, const std::string& path,
    TranslateNotes* notes);

absl::StatusOr<config::ListenerConfig> translateListener(
    const envoy::config::listener::v3::Listener& listener, TranslateNotes* notes);

// A socket address (TCP, an IP literal, a port value).
absl::StatusOr<net::Address> translateAddress(const envoy::config::core::v3::Address& address,
                                              const std::string& path, TranslateNotes* notes);

// "cluster 'name': " style prefixes used in every message.
std::string resourceLabel(std::string_view kind, std::string_view name);

}  // namespace remora::xds
