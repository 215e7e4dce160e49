// One immutable version of the proxy's configuration as the workers see it: the listeners and
// clusters in force. Workers hold it by shared_ptr; a session keeps what it took from it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "proxy/http/route_table.h"
#include "proxy/server/listener.h"
#include "proxy/upstream/cluster.h"

namespace remora::server {

struct Snapshot {
  uint64_t version = 0;
  std::map<std::string, ListenerSharedPtr> listeners;  // by name
  absl::flat_hash_map<std::string, upstream::ClusterSharedPtr> clusters;
  // RouteConfigurations from RDS, by name.
  absl::flat_hash_map<std::string, std::shared_ptr<const http::RouteTable>> routes;
  // Every listener by address, for use_original_dst hand-off.
  absl::flat_hash_map<net::Address, ListenerSharedPtr> by_address;

  const upstream::ClusterSharedPtr* cluster(std::string_view name) const {
    auto it = clusters.find(absl::string_view(name.data(), name.size()));  // no key copy
    return it == clusters.end() ? nullptr : &it->second;
  }
  const http::RouteTable* routeTable(const std::string& name) const {
    auto it = routes.find(name);
    return it == routes.end() ? nullptr : it->second.get();
  }
  // The listener for a connection's original destination: exact address first, then a
  // wildcard (0.0.0.0 / ::) listener on the same port. Null when there is none.
  const ListenerSharedPtr* findByAddress(const net::Address& address) const;
};

using SnapshotSharedPtr = std::shared_ptr<const Snapshot>;

}  // namespace remora::server
