// xDS type URLs.
#include "xds/common/type_url.h"

#include <catch2/catch.hpp>

#include "envoy/config/cluster/v3/cluster.pb.h"

namespace remora::xds {
namespace {

TEST_CASE("type URLs round-trip and match the generated descriptors", "[xds]") {
  for (auto t : {ResourceType::Listener, ResourceType::RouteConfiguration, ResourceType::Cluster,
                 ResourceType::ClusterLoadAssignment, ResourceType::Secret}) {
    CHECK(parseTypeUrl(typeUrl(t)) == t);
  }
  CHECK(typeUrl(ResourceType::Cluster) ==
        std::string(kTypeUrlPrefix) +
            envoy::config::cluster::v3::Cluster::descriptor()->full_name());
  CHECK(shortName(ResourceType::ClusterLoadAssignment) == "eds");
  CHECK_FALSE(parseTypeUrl("type.googleapis.com/envoy.config.cluster.v3.Nope").has_value());
  CHECK(isWildcard(ResourceType::Listener));
  CHECK_FALSE(isWildcard(ResourceType::RouteConfiguration));
}

}  // namespace
}  // namespace remora::xds
