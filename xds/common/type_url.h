// The xDS resource types remora understands: type URLs and their short names (LDS, CDS, ...).
#pragma once

#include <optional>
#include <string_view>

namespace remora::xds {

enum class ResourceType { Listener, RouteConfiguration, Cluster, ClusterLoadAssignment, Secret };

inline constexpr std::string_view kTypeUrlPrefix = "type.googleapis.com/";

// Full type URL, e.g. "type.googleapis.com/envoy.config.cluster.v3.Cluster".
std::string_view typeUrl(ResourceType type);
// Short name used in logs and stats: "lds", "rds", "cds", "eds", "sds".
std::string_view shortName(ResourceType type);
// Parses a full type URL; nullopt for types remora does not serve or consume.
std::optional<ResourceType> parseTypeUrl(std::string_view url);
// Wildcard types (Listener, Cluster): every response carries the complete set.
bool isWildcard(ResourceType type);

}  // namespace remora::xds
