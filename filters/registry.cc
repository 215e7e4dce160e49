// Filter registry.
#include "filters/registry.h"

#include "filters/network/tcp_proxy/tcp_proxy.h"

namespace remora::filters {

server::NetworkFilterRegistry networkFilters() {
  return {
      {"envoy.filters.network.tcp_proxy", &createTcpProxyFactory},
  };
}

}  // namespace remora::filters
