// Type URLs of the Envoy v3 resources, as the xDS protocol names them.
#include "xds/common/type_url.h"

#include <array>

namespace remora::xds {
namespace {

struct TypeInfo {
  ResourceType type;
  std::string_view url;
  std::string_view short_name;
};

constexpr std::array<TypeInfo, 5> kTypes = {{
    {ResourceType::Listener, "type.googleapis.com/envoy.config.listener.v3.Listener", "lds"},
    {ResourceType::RouteConfiguration,
     "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "rds"},
    {ResourceType::Cluster, "type.googleapis.com/envoy.config.cluster.v3.Cluster", "cds"},
    {ResourceType::ClusterLoadAssignment,
     "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", "eds"},
    {ResourceType::Secret, "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
     "sds"},
}};

const TypeInfo& info(ResourceType type) {
  for (const auto& t : kTypes) {
    if (t.type == type) return t;
  }
  return kTypes[0];  // unreachable: every enumerator is in the table
}

}  // namespace

std::string_view typeUrl(ResourceType type) { return info(type).url; }

std::string_view shortName(ResourceType type) { return info(type).short_name; }

std::optional<ResourceType> parseTypeUrl(std::string_view url) {
  for (const auto& t : kTypes) {
    if (t.url == url) return t.type;
  }
  return std::nullopt;
}

bool isWildcard(ResourceType type) {
  return type == ResourceType::Listener || type == ResourceType::Cluster;
}

}  // namespace remora::xds
