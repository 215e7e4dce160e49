// xDS resource state and assembly.
#include "xds/client/config_state.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "proxy/common/strings.h"
#include "proxy/config/secrets.h"
#include "xds/translate/http.h"
#include "xds/translate/tls.h"
#include "xds/translate/translate.h"

namespace remora::xds {
namespace {

std::string_view kindName(ResourceType type) {
  switch (type) {
    case ResourceType::Listener:
      return "listener";
    case ResourceType::Cluster:
      return "cluster";
    case ResourceType::ClusterLoadAssignment:
      return "cluster_load_assignment";
    case ResourceType::RouteConfiguration:
      return "route_configuration";
    case ResourceType::Secret:
      return "secret";
  }
  return "resource";
}

// The name of a Listener, Cluster, ClusterLoadAssignment or RouteConfiguration is field 1 (a
// string) in all four; read just that field from the serialized bytes.
std::string peekName(const google::protobuf::Any& any) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(any.value().data()),
                                            static_cast<int>(any.value().size()));
  for (;;) {
    uint32_t tag = in.ReadTag();
    if (tag == 0) return {};
    if (tag == ((1u << 3) | 2u)) {
      std::string name;
      uint32_t len = 0;
      if (!in.ReadVarint32(&len) || !in.ReadString(&name, static_cast<int>(len))) return {};
      return name;
    }
    if (!google::protobuf::internal::WireFormatLite::SkipField(&in, tag)) return {};
  }
}

// The RDS names of a listener's http_connection_managers (inline route tables need none).
void addRdsNames(const config::ListenerConfig& l, std::set<std::string>* out) {
  auto chain = [&](const config::FilterChainConfig& fc) {
    for (const auto& f : fc.filters) {
      if (f.http && !f.http->route_config && !f.http->rds_name.empty())
        out->insert(f.http->rds_name);
    }
  };
  for (const auto& fc : l.filter_chains) chain(fc);
  if (l.default_filter_chain) chain(*l.default_filter_chain);
}

// The initial_fetch_timeout for a name several resources refer to: the shortest one that gives
// up at all (0, waiting for ever, only when every referrer says so).
void noteFetchTimeout(FetchTimeouts* out, const std::string& name, config::Duration d) {
  auto [it, inserted] = out->emplace(name, d);
  if (!inserted && d.count() > 0 && (it->second.count() == 0 || d < it->second)) it->second = d;
}

void addRdsNames(const config::ListenerConfig& l, FetchTimeouts* out) {
  auto chain = [&](const config::FilterChainConfig& fc) {
    for (const auto& f : fc.filters) {
      if (f.http && !f.http->route_config && !f.http->rds_name.empty())
        noteFetchTimeout(out, f.http->rds_name, f.http->rds_fetch_timeout);
    }
  };
  for (const auto& fc : l.filter_chains) chain(fc);
  if (l.default_filter_chain) chain(*l.default_filter_chain);
}

void addAdsSecrets(const config::CommonTlsConfig& tls, FetchTimeouts* out) {
  if (!tls.certificate_sds.empty() && tls.certificate_sds_ads)
    noteFetchTimeout(out, tls.certificate_sds, tls.certificate_sds_fetch_timeout);
  if (!tls.validation_sds.empty() && tls.validation_sds_ads)
    noteFetchTimeout(out, tls.validation_sds, tls.validation_sds_fetch_timeout);
}

void addAdsSecrets(const config::ClusterConfig& c, FetchTimeouts* out) {
  if (c.tls) addAdsSecrets(c.tls->common, out);
}

void addAdsSecrets(const config::ListenerConfig& l, FetchTimeouts* out) {
  for (const auto& fc : l.filter_chains) {
    if (fc.tls) addAdsSecrets(fc.tls->common, out);
  }
  if (l.default_filter_chain && l.default_filter_chain->tls)
    addAdsSecrets(l.default_filter_chain->tls->common, out);
}

std::set<std::string> keys(const FetchTimeouts& m) {
  std::set<std::string> out;
  for (const auto& [k, v] : m) out.insert(k);
  return out;
}

}  // namespace

ConfigState::ConfigState(config::ProxyConfig static_config) : static_(std::move(static_config)) {}

absl::Status ConfigState::translateOne(ResourceType type, const google::protobuf::Any& any,
                                       std::string* name, TranslateNotes* notes) {
  if (any.type_url() != typeUrl(type)) {
    return absl::InvalidArgumentError(
        cat("resource of type ", any.type_url(), " in a ", typeUrl(type), " response"));
  }
  switch (type) {
    case ResourceType::Cluster: {
      envoy::config::cluster::v3::Cluster c;
      if (!any.UnpackTo(&c)) return absl::InvalidArgumentError("malformed Cluster");
      *name = c.name();
      for (const auto& s : static_.clusters) {
        if (s.name == c.name())
          return absl::InvalidArgumentError(
              cat(resourceLabel("cluster", c.name()), ": a static cluster has this name"));
      }
      auto cc = translateCluster(c, notes);
      if (!cc.ok()) return cc.status();
      clusters_[c.name()] = std::make_shared<const config::ClusterConfig>(std::move(*cc));
      return absl::OkStatus();
    }
    case ResourceType::Listener: {
      envoy::config::listener::v3::Listener l;
      if (!any.UnpackTo(&l)) return absl::InvalidArgumentError("malformed Listener");
      *name = l.name();
      for (const auto& s : static_.listeners) {
        if (s.name == l.name())
          return absl::InvalidArgumentError(
              cat(resourceLabel("listener", l.name()), ": a static listener has this name"));
      }
      auto lc = translateListener(l, notes);
      if (!lc.ok()) return lc.status();
      listeners_[l.name()] = std::make_shared<const config::ListenerConfig>(std::move(*lc));
      return absl::OkStatus();
    }
    case ResourceType::ClusterLoadAssignment: {
      envoy::config::endpoint::v3::ClusterLoadAssignment cla;
      if (!any.UnpackTo(&cla)) return absl::InvalidArgumentError("malformed ClusterLoadAssignment");
      *name = cla.cluster_name();
      auto la = translateLoadAssignment(
          cla, resourceLabel("cluster_load_assignment", cla.cluster_name()), notes);
      if (!la.ok()) return la.status();
      endpoints_[cla.cluster_name()] = std::make_shared<const LoadAssignment>(std::move(*la));
      absent_.erase(cla.cluster_name());
      return absl::OkStatus();
    }
    case ResourceType::RouteConfiguration: {
      envoy::config::route::v3::RouteConfiguration rc;
      if (!any.UnpackTo(&rc)) return absl::InvalidArgumentError("malformed RouteConfiguration");
      *name = rc.name();
      auto table =
          translateRouteConfiguration(rc, resourceLabel("route_configuration", rc.name()), notes);
      if (!table.ok()) return table.status();
      routes_[rc.name()] = std::make_shared<const config::RouteTableConfig>(std::move(*table));
      absent_routes_.erase(rc.name());
      return absl::OkStatus();
    }
    case ResourceType::Secret: {
      envoy::extensions::transport_sockets::tls::v3::Secret sec;
      if (!any.UnpackTo(&sec)) return absl::InvalidArgumentError("malformed Secret");
      *name = sec.name();
      auto sc = translateSecret(sec, resourceLabel("secret", sec.name()), notes);
      if (!sc.ok()) return sc.status();
      secrets_[sec.name()] = std::move(*sc);
      absent_secrets_.erase(sec.name());
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(cat(typeUrl(type), " is not supported yet"));
  }
}

void ConfigState::put(ResourceType type, const std::string& name, ResourceEntry entry) {
  raw_[type][name] = std::make_shared<const ResourceEntry>(std::move(entry));
}

void ConfigState::remove(ResourceType type, const std::string& name) {
  raw_[type].erase(name);
  switch (type) {
    case ResourceType::Cluster:
      clusters_.erase(name);
      break;
    case ResourceType::Listener:
      listeners_.erase(name);
      break;
    case ResourceType::ClusterLoadAssignment:
      endpoints_.erase(name);
      break;
    case ResourceType::RouteConfiguration:
      routes_.erase(name);
      break;
    case ResourceType::Secret:
      secrets_.erase(name);
      break;
  }
}

absl::Status ConfigState::applySotw(
    ResourceType type, const std::string& version,
    const google::protobuf::RepeatedPtrField<google::protobuf::Any>& resources, uint64_t now_ms,
    TranslateNotes* notes) {
  std::set<std::string> seen;
  auto& current = raw_[type];
  for (int i = 0; i < resources.size(); ++i) {
    std::string name;
    // State of the world resends everything: a resource identical to the one in force keeps
    // its translation (re-translating 1,000 unchanged endpoint sets per push would dominate).
    const ResourceEntry* unchanged = nullptr;
    {
      // Find by the resource's own name without decoding all of it.
      std::string probe = peekName(resources[i]);
      auto it = probe.empty() ? current.end() : current.find(probe);
      if (it != current.end() && it->second->raw.value() == resources[i].value() &&
          it->second->raw.type_url() == resources[i].type_url()) {
        unchanged = it->second.get();
        name = probe;
      }
    }
    if (unchanged == nullptr) {
      if (auto s = translateOne(type, resources[i], &name, notes); !s.ok()) return s;
    }
    if (name.empty())
      return absl::InvalidArgumentError(cat(kindName(type), " #", i, " has no name"));
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          cat(resourceLabel(kindName(type), name), " appears twice in one response"));
    }
    if (unchanged != nullptr) {
      put(type, name, ResourceEntry{resources[i], version, unchanged->last_updated_ms});
    } else {
      put(type, name, ResourceEntry{resources[i], version, now_ms});
    }
  }
  if (isWildcard(type)) {
    // The complete set: what is not in it is gone.
    std::vector<std::string> gone;
    for (const auto& [name, e] : raw_[type]) {
      if (seen.count(name) == 0) gone.push_back(name);
    }
    for (const auto& n : gone) remove(type, n);
  }
  return absl::OkStatus();
}

absl::Status ConfigState::applyDelta(
    ResourceType type,
    const google::protobuf::RepeatedPtrField<envoy::service::discovery::v3::Resource>& resources,
    const google::protobuf::RepeatedPtrField<std::string>& removed, uint64_t now_ms,
    TranslateNotes* notes) {
  std::set<std::string> seen;
  for (const auto& r : resources) {
    if (!r.has_resource()) {
      // A Resource without a body: the server says it does not exist.
      remove(type, r.name());
      if (type == ResourceType::ClusterLoadAssignment) absent_.insert(r.name());
      if (type == ResourceType::RouteConfiguration) absent_routes_.insert(r.name());
      continue;
    }
    std::string name;
    if (auto s = translateOne(type, r.resource(), &name, notes); !s.ok()) return s;
    if (!r.name().empty() && r.name() != name) {
      return absl::InvalidArgumentError(
          cat(resourceLabel(kindName(type), r.name()), " contains one named '", name, "'"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          cat(resourceLabel(kindName(type), name), " appears twice in one response"));
    }
    put(type, name, ResourceEntry{r.resource(), r.version(), now_ms});
  }
  for (const auto& name : removed) {
    remove(type, name);
    if (type == ResourceType::ClusterLoadAssignment) absent_.insert(name);
    if (type == ResourceType::RouteConfiguration) absent_routes_.insert(name);
  }
  return absl::OkStatus();
}

void ConfigState::markAbsent(const std::string& service_name) {
  if (endpoints_.count(service_name) == 0) absent_.insert(service_name);
}

void ConfigState::pruneEndpoints() {
  std::set<std::string> needed = edsNames();
  std::vector<std::string> gone;
  for (const auto& [name, e] : resources(ResourceType::ClusterLoadAssignment)) {
    if (needed.count(name) == 0) gone.push_back(name);
  }
  for (const auto& n : gone) remove(ResourceType::ClusterLoadAssignment, n);
  for (auto it = absent_.begin(); it != absent_.end();) {
    it = needed.count(*it) == 0 ? absent_.erase(it) : std::next(it);
  }
}

void ConfigState::markRouteAbsent(const std::string& name) {
  if (routes_.count(name) == 0) absent_routes_.insert(name);
}

void ConfigState::pruneRoutes() {
  std::set<std::string> needed = rdsNames();
  std::vector<std::string> gone;
  for (const auto& [name, e] : resources(ResourceType::RouteConfiguration)) {
    if (needed.count(name) == 0) gone.push_back(name);
  }
  for (const auto& n : gone) remove(ResourceType::RouteConfiguration, n);
  for (auto it = absent_routes_.begin(); it != absent_routes_.end();) {
    it = needed.count(*it) == 0 ? absent_routes_.erase(it) : std::next(it);
  }
}

std::set<std::string> ConfigState::rdsNames() const { return keys(rdsFetchTimeouts()); }

FetchTimeouts ConfigState::rdsFetchTimeouts() const {
  FetchTimeouts out;
  for (const auto& l : static_.listeners) addRdsNames(l, &out);
  for (const auto& [name, l] : listeners_) addRdsNames(*l, &out);
  // A listener in force keeps its routes until its new version has replaced it.
  for (const auto& [name, a] : active_listeners_) addRdsNames(*a.config, &out);
  return out;
}

std::set<std::string> ConfigState::pendingRoutes() const {
  std::set<std::string> out;
  for (const auto& n : rdsNames()) {
    if (routes_.count(n) == 0 && absent_routes_.count(n) == 0) out.insert(n);
  }
  return out;
}

void ConfigState::setLocalSecret(config::SecretConfig secret) {
  std::string name = secret.name;
  local_secrets_[name] = std::move(secret);
}

const config::SecretConfig* ConfigState::findSecret(const std::string& name) const {
  if (auto it = local_secrets_.find(name); it != local_secrets_.end()) return &it->second;
  for (const auto& s : static_.secrets) {
    if (s.name == name) return &s;
  }
  if (auto it = secrets_.find(name); it != secrets_.end()) return &it->second;
  if (auto it = absent_secrets_.find(name); it != absent_secrets_.end()) return &it->second;
  return nullptr;
}

std::set<std::string> ConfigState::pendingSecrets() const {
  std::set<std::string> out;
  for (const auto& n : adsSecretNames()) {
    if (findSecret(n) == nullptr) out.insert(n);
  }
  return out;
}

void ConfigState::markSecretAbsent(const std::string& name) {
  if (findSecret(name) != nullptr) return;
  config::SecretConfig placeholder;
  placeholder.name = name;
  placeholder.absent = true;
  absent_secrets_[name] = std::move(placeholder);
}

void ConfigState::pruneSecrets() {
  std::set<std::string> needed = adsSecretNames();
  for (auto it = absent_secrets_.begin(); it != absent_secrets_.end();) {
    it = needed.count(it->first) == 0 ? absent_secrets_.erase(it) : std::next(it);
  }
}

std::set<std::string> ConfigState::adsSecretNames() const { return keys(sdsFetchTimeouts()); }

FetchTimeouts ConfigState::sdsFetchTimeouts() const {
  FetchTimeouts out;
  for (const auto& c : static_.clusters) addAdsSecrets(c, &out);
  for (const auto& l : static_.listeners) addAdsSecrets(l, &out);
  for (const auto& [name, c] : clusters_) addAdsSecrets(*c, &out);
  for (const auto& [name, l] : listeners_) addAdsSecrets(*l, &out);
  for (const auto& [name, a] : active_listeners_) addAdsSecrets(*a.config, &out);
  return out;
}

bool ConfigState::secretsWarm(const config::ListenerConfig& l) const {
  return config::secretsAvailable(l, [this](const std::string& n) { return findSecret(n); });
}

bool ConfigState::routesWarm(const config::ListenerConfig& l) const {
  std::set<std::string> names;
  addRdsNames(l, &names);
  for (const auto& n : names) {
    if (routes_.count(n) == 0 && absent_routes_.count(n) == 0) return false;
  }
  return true;
}

std::vector<std::string> ConfigState::warmingListeners() const {
  std::vector<std::string> out;
  for (const auto& [name, l] : listeners_) {
    if (!routesWarm(*l) || !secretsWarm(*l)) out.push_back(name);
  }
  return out;
}

std::map<std::string, std::shared_ptr<const ResourceEntry>> ConfigState::activeListenerResources()
    const {
  std::map<std::string, std::shared_ptr<const ResourceEntry>> out;
  for (const auto& [name, a] : active_listeners_) {
    if (listeners_.count(name) != 0 && a.raw) out[name] = a.raw;
  }
  return out;
}

std::set<std::string> ConfigState::edsNames() const { return keys(edsFetchTimeouts()); }

FetchTimeouts ConfigState::edsFetchTimeouts() const {
  FetchTimeouts out;
  for (const auto& [name, c] : clusters_) {
    if (c->type == config::ClusterConfig::Type::Eds)
      noteFetchTimeout(&out, c->eds_service_name, c->eds_fetch_timeout);
  }
  for (const auto& c : static_.clusters) {
    if (c.type == config::ClusterConfig::Type::Eds)
      noteFetchTimeout(&out, c.eds_service_name, c.eds_fetch_timeout);
  }
  return out;
}

config::ProxyConfig ConfigState::assemble() const {
  // Static clusters and listeners are copied below, once each, with their secrets filled in.
  config::ProxyConfig out;
  out.routes = static_.routes;
  out.secrets = static_.secrets;
  config::SecretLookup find = [this](const std::string& n) { return findSecret(n); };
  auto withEndpoints = [&](config::ClusterConfig c) -> std::optional<config::ClusterConfig> {
    // A cluster whose TLS secrets have not arrived warms, as one waiting for endpoints does.
    if (!config::resolveSecrets(c, find)) return std::nullopt;
    if (c.type != config::ClusterConfig::Type::Eds) return c;
    auto it = endpoints_.find(c.eds_service_name);
    if (it != endpoints_.end()) {
      c.endpoints = it->second->endpoints;
      c.overprovisioning_factor = it->second->overprovisioning_factor;
      return c;
    }
    if (absent_.count(c.eds_service_name) != 0) return c;  // timed out: no endpoints
    return std::nullopt;                                   // warming
  };
  for (auto c : static_.clusters) {
    // Static clusters serve from the start, endpoints or not, once their secrets are here.
    if (!config::resolveSecrets(c, find)) continue;
    if (auto warm = withEndpoints(c)) c = *warm;
    out.clusters.push_back(std::move(c));
  }
  for (const auto& [name, c] : clusters_) {
    if (auto warm = withEndpoints(*c)) {
      out.clusters.push_back(*warm);
    } else if (auto active = active_clusters_.find(name); active != active_clusters_.end()) {
      // Make before break: the old version serves, with the latest certificates it can have;
      // when one of its secrets went away, with the ones it was applied with (as Envoy keeps
      // an SDS secret the server removes). Never with its trust bundle gone: that would turn
      // verification of the upstream off.
      auto kept = active->second;
      if (!config::resolveSecrets(kept, find)) kept = active->second;
      out.clusters.push_back(std::move(kept));
    }
  }
  // Static listeners serve from the start (a missing route table answers 404 until it
  // arrives) unless their TLS secrets are missing; LDS listeners warm.
  for (auto l : static_.listeners) {
    if (config::resolveSecrets(l, find)) out.listeners.push_back(std::move(l));
  }
  for (const auto& [name, l] : listeners_) {
    config::ListenerConfig resolved = *l;
    if (routesWarm(*l) && config::resolveSecrets(resolved, find)) {
      out.listeners.push_back(std::move(resolved));
    } else if (auto active = active_listeners_.find(name); active != active_listeners_.end()) {
      config::ListenerConfig kept = *active->second.config;  // make before break
      if (!config::resolveSecrets(kept, find) && active->second.applied) {
        kept = *active->second.applied;  // a secret went away: the ones it was applied with
      }
      out.listeners.push_back(std::move(kept));
    }
  }
  std::set<std::string> used;
  for (const auto& l : out.listeners) addRdsNames(l, &used);
  for (const auto& n : used) {
    if (auto it = routes_.find(n); it != routes_.end()) out.routes.push_back(*it->second);
  }
  for (const auto& [name, sec] : secrets_) out.secrets.push_back(sec);
  return out;
}

void ConfigState::commitActive(const config::ProxyConfig& applied) {
  active_clusters_.clear();
  for (const auto& c : applied.clusters) {
    if (clusters_.count(c.name) != 0) active_clusters_[c.name] = c;
  }
  std::map<std::string, ActiveListener> next;
  const ResourceMap& raw = resources(ResourceType::Listener);
  for (const auto& l : applied.listeners) {
    auto it = listeners_.find(l.name);
    if (it == listeners_.end()) continue;  // static
    auto resolved = std::make_shared<const config::ListenerConfig>(l);
    if (routesWarm(*it->second) && secretsWarm(*it->second)) {
      auto r = raw.find(l.name);
      next[l.name] = ActiveListener{it->second, r == raw.end() ? nullptr : r->second, resolved};
    } else if (auto a = active_listeners_.find(l.name); a != active_listeners_.end()) {
      next[l.name] = a->second;
      next[l.name].applied = resolved;
    }
  }
  active_listeners_ = std::move(next);
}

std::vector<std::string> ConfigState::warmingClusters() const {
  std::vector<std::string> out;
  config::SecretLookup find = [this](const std::string& n) { return findSecret(n); };
  for (const auto& [name, c] : clusters_) {
    if (c->type == config::ClusterConfig::Type::Eds && endpoints_.count(c->eds_service_name) == 0 &&
        absent_.count(c->eds_service_name) == 0) {
      out.push_back(name);
      continue;
    }
    if (c->tls && !config::secretsAvailable(c->tls->common, find)) out.push_back(name);
  }
  return out;
}

const ResourceMap& ConfigState::resources(ResourceType type) const {
  static const ResourceMap kEmpty;
  auto it = raw_.find(type);
  return it == raw_.end() ? kEmpty : it->second;
}

std::map<std::string, std::string> ConfigState::versions(ResourceType type) const {
  std::map<std::string, std::string> out;
  for (const auto& [name, e] : resources(type)) out[name] = e->version;
  return out;
}

}  // namespace remora::xds
