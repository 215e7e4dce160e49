// Filter registry.
#include "filters/registry.h"

#include "filters/http/rbac/rbac_filter.h"
#include "filters/http/router/router.h"
#include "filters/network/http_connection_manager/config.h"
#include "filters/network/rbac/rbac_filter.h"
#include "filters/network/tcp_proxy/tcp_proxy.h"

namespace remora::filters {

server::NetworkFilterRegistry networkFilters() {
  return {
      {"envoy.filters.network.tcp_proxy", &createTcpProxyFactory},
      {"envoy.filters.network.http_connection_manager", &createHttpConnectionManagerFactory},
      {"envoy.filters.network.rbac", &createNetworkRbacFilter},
  };
}

std::map<std::string, HttpFilterCreator> httpFilters() {
  return {
      {"envoy.filters.http.router",
       [](const config::HttpFilterConfig&,
          const HttpFilterContext&) -> absl::StatusOr<http::HttpFilterFactorySharedPtr> {
         return std::make_shared<RouterFactory>();
       }},
      {"envoy.filters.http.rbac", &createRbacFilterFactory},
  };
}

}  // namespace remora::filters
