// The seam between listeners (proxy/) and network filters (filters/): a listener hands each
// accepted connection to the factory of the filter chain it matched, which builds a session.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proxy/config/config.h"
#include "proxy/net/connection.h"
#include "proxy/server/session.h"
#include "proxy/stats/stats.h"

namespace remora::server {

class Worker;

class NetworkFilterFactory {
 public:
  virtual ~NetworkFilterFactory() = default;
  // Takes ownership of `conn` (it must eventually be closed).
  virtual void onAccept(Worker& worker, net::Connection* conn, const ConnectionInfo& info) = 0;
};
using NetworkFilterFactorySharedPtr = std::shared_ptr<NetworkFilterFactory>;

// What a factory may use while it is built from configuration. Clusters are not here: a
// filter looks them up per connection in the worker's current snapshot, so a listener never
// holds on to a cluster that the configuration has since replaced.
struct FilterFactoryContext {
  stats::Store& stats;
  size_t workers;
  uint32_t buffer_limit;
};

using NetworkFilterFactoryCreator = std::function<absl::StatusOr<NetworkFilterFactorySharedPtr>(
    const config::NetworkFilterConfig&, FilterFactoryContext&)>;
// Filter name -> creator. filters/registry.cc fills it: the one place every filter is listed.
using NetworkFilterRegistry = std::map<std::string, NetworkFilterFactoryCreator>;

}  // namespace remora::server
