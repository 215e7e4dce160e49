// The proxy's view of its xDS resources: the raw resources as accepted (per type, with
// versions and update times, for ACKs, Delta resumption and /config_dump), their
// translations, and the assembly of the whole into one configuration for the server.
// Updates are staged on a copy and only committed once the server accepted the result, so a
// rejected update leaves the last good configuration in force.
#pragma once

#include <google/protobuf/any.pb.h>
#include <google/protobuf/repeated_field.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "proxy/config/config.h"
#include "xds/common/type_url.h"
#include "xds/translate/fields.h"
#include "xds/translate/translate.h"

namespace remora::xds {

// Resource name -> the initial_fetch_timeout its referrers give it (0: wait for ever).
using FetchTimeouts = std::map<std::string, config::Duration>;

struct ResourceEntry {
  google::protobuf::Any raw;
  std::string version;           // the resource's version (Delta) or the response's (SotW)
  uint64_t last_updated_ms = 0;  // wall clock, for /config_dump
};
// Shared and immutable: staging a change copies maps of pointers, not resources.
using ResourceMap = std::map<std::string, std::shared_ptr<const ResourceEntry>>;

class ConfigState {
 public:
  explicit ConfigState(config::ProxyConfig static_config = {});

  // A state-of-the-world response: the complete set for Listener and Cluster, the listed
  // resources for the others. Fails (changing nothing) naming the resource and the field.
  absl::Status applySotw(ResourceType type, const std::string& version,
                         const google::protobuf::RepeatedPtrField<google::protobuf::Any>& resources,
                         uint64_t now_ms, TranslateNotes* notes);
  // A Delta response: updates and removals.
  absl::Status applyDelta(
      ResourceType type,
      const google::protobuf::RepeatedPtrField<envoy::service::discovery::v3::Resource>& resources,
      const google::protobuf::RepeatedPtrField<std::string>& removed, uint64_t now_ms,
      TranslateNotes* notes);
  // EDS resources that did not arrive in time (initial_fetch_timeout) count as empty.
  void markAbsent(const std::string& service_name);
  // Drops endpoints no cluster refers to any more (EDS is not a wildcard type).
  void pruneEndpoints();
  // A RouteConfiguration that did not arrive in time counts as missing: its listeners go into
  // service and answer 404 (NR), as Envoy's do.
  void markRouteAbsent(const std::string& name);
  // Drops route configurations no listener (in force or warming) refers to any more.
  void pruneRoutes();
  // Secrets from the local identity provider (the CSR flow): they take precedence over the
  // bootstrap's static secrets and over ADS.
  void setLocalSecret(config::SecretConfig secret);
  // SDS names to fetch over ADS: those the clusters and listeners name with sds_config.ads.
  std::set<std::string> adsSecretNames() const;
  // The same with each name's initial_fetch_timeout (the shortest of those naming it that
  // gives up at all); likewise for route configurations and endpoints.
  FetchTimeouts sdsFetchTimeouts() const;
  FetchTimeouts rdsFetchTimeouts() const;
  FetchTimeouts edsFetchTimeouts() const;
  // Of adsSecretNames(), those neither arrived (nor given locally) nor given up on.
  std::set<std::string> pendingSecrets() const;
  // A secret that did not arrive in time: what names it serves with a context that refuses
  // every handshake (Envoy's "secrets not ready"), until it arrives.
  void markSecretAbsent(const std::string& name);
  // Forgets the given-up names nothing refers to any more (a later reference waits afresh).
  void pruneSecrets();
  // The secret of that name: local, static, then from ADS; null when there is none.
  const config::SecretConfig* findSecret(const std::string& name) const;

  // The configuration to run: static resources, then dynamic ones. An EDS cluster warms
  // (is left out, or keeps its previous version) until its endpoints arrive or time out; a
  // listener likewise until the route configurations its managers name via RDS do. `routes`
  // holds the warm route configurations the assembled listeners use.
  config::ProxyConfig assemble() const;
  // Makes the assembled clusters and listeners the active ones (make-before-break: the
  // warming version of a cluster or listener replaces the active one only once warm).
  void commitActive(const config::ProxyConfig& applied);

  // ClusterLoadAssignment names the CDS clusters need.
  std::set<std::string> edsNames() const;
  // CDS clusters waiting for their endpoints or their TLS secrets.
  std::vector<std::string> warmingClusters() const;
  // RouteConfiguration names the listeners need: those of every http_connection_manager with
  // `rds`, in static listeners, LDS listeners and the versions of them still in force.
  std::set<std::string> rdsNames() const;
  // Of rdsNames(), those neither arrived nor given up on.
  std::set<std::string> pendingRoutes() const;
  // LDS listeners whose current version waits for its route configurations or secrets.
  std::vector<std::string> warmingListeners() const;
  // The accepted resource of each LDS listener in force (for a warming listener: its previous
  // version, if it had one).
  std::map<std::string, std::shared_ptr<const ResourceEntry>> activeListenerResources() const;

  const ResourceMap& resources(ResourceType type) const;
  const config::ProxyConfig& staticConfig() const { return static_; }
  // Delta resumption: name -> version of every accepted resource of a type.
  std::map<std::string, std::string> versions(ResourceType type) const;

 private:
  absl::Status translateOne(ResourceType type, const google::protobuf::Any& any, std::string* name,
                            TranslateNotes* notes);
  void put(ResourceType type, const std::string& name, ResourceEntry entry);
  void remove(ResourceType type, const std::string& name);

  config::ProxyConfig static_;
  std::map<ResourceType, ResourceMap> raw_;
  std::map<std::string, std::shared_ptr<const config::ClusterConfig>> clusters_;    // CDS
  std::map<std::string, std::shared_ptr<const config::ListenerConfig>> listeners_;  // LDS
  // EDS, by service name.
  std::map<std::string, std::shared_ptr<const LoadAssignment>> endpoints_;
  std::set<std::string> absent_;                                  // EDS names given up on
  std::map<std::string, config::ClusterConfig> active_clusters_;  // last applied versions
  // RDS, by route configuration name.
  std::map<std::string, std::shared_ptr<const config::RouteTableConfig>> routes_;
  std::set<std::string> absent_routes_;  // RDS names given up on (or removed by the server)
  std::map<std::string, config::SecretConfig> secrets_;        // SDS over ADS
  std::map<std::string, config::SecretConfig> local_secrets_;  // the local identity provider
  // SDS names given up on (initial_fetch_timeout): placeholders with `absent` set.
  std::map<std::string, config::SecretConfig> absent_secrets_;
  struct ActiveListener {
    std::shared_ptr<const config::ListenerConfig> config;
    std::shared_ptr<const ResourceEntry> raw;
    // As applied: with the certificates and trust bundles of its secrets filled in.
    std::shared_ptr<const config::ListenerConfig> applied;
  };
  std::map<std::string, ActiveListener> active_listeners_;  // last applied LDS versions

  bool routesWarm(const config::ListenerConfig& l) const;
  bool secretsWarm(const config::ListenerConfig& l) const;
};

}  // namespace remora::xds
