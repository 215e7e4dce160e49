// The control plane's snapshot cache, as go-control-plane has it: per node, a consistent set
// of resources per type with a version per resource and per type. Streams watch a node and are
// told when its snapshot changes; they decide what to send (only what changed for them).
#pragma once

#include <google/protobuf/any.pb.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace remora::xds {

struct CachedResource {
  std::shared_ptr<const google::protobuf::Any> resource;  // shared: snapshots copy pointers
  std::string version;                                    // hash of the serialized resource
};

struct TypeResources {
  std::map<std::string, CachedResource> items;  // by resource name
  std::string sealed_version;                   // version() over all items, once sealed
  // A version over the given names (all of them when `names` is empty).
  std::string version(const std::vector<std::string>& names = {}) const;
};

// Everything one node sees: type URL -> resources.
struct CacheSnapshot {
  std::map<std::string, TypeResources> types;
  // Adds a resource (its name read from the message); later additions replace earlier ones.
  bool add(const google::protobuf::Any& any, std::string* error);
  // The same with the name and version already known (see describeResource).
  void add(std::shared_ptr<const google::protobuf::Any> any, const std::string& name,
           const std::string& version);
  // Computes each type's version once, for the snapshot's life (every stream asks for it on
  // every change); call when no more resources will be added.
  void seal();
};
using CacheSnapshotPtr = std::shared_ptr<const CacheSnapshot>;

// Name and content version of a resource; false (with *error) if it has no name.
bool describeResource(const google::protobuf::Any& any, std::string* name, std::string* version,
                      std::string* error);

// Resource name of an Envoy resource in an Any (Listener.name, Cluster.name,
// ClusterLoadAssignment.cluster_name, ...); empty when the type is unknown.
std::string resourceName(const google::protobuf::Any& any);

class SnapshotCache {
 public:
  using Watcher = std::function<void()>;

  // The snapshot for nodes without one of their own (node id "") or for one node.
  void setSnapshot(const std::string& node_id, CacheSnapshotPtr snapshot);
  // Replaces every snapshot at once (a reload), notifying each watcher once.
  void setAll(std::map<std::string, CacheSnapshotPtr> snapshots);
  CacheSnapshotPtr snapshot(const std::string& node_id) const;

  // Watchers are called (on the setter's thread) after a snapshot that may concern them is set.
  uint64_t watch(Watcher w);
  void unwatch(uint64_t id);

 private:
  void notifyAll();

  mutable std::mutex mu_;
  std::map<std::string, CacheSnapshotPtr> snapshots_;
  // Held while watchers run, and by unwatch(): once unwatch() returns, that watcher is not
  // running and never will be, so its owner may go away.
  std::mutex watchers_mu_;
  std::map<uint64_t, Watcher> watchers_;
  uint64_t next_watch_ = 1;
};

}  // namespace remora::xds
