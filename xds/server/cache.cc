// Snapshot cache.
#include "xds/server/cache.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/evp.h>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "proxy/common/strings.h"

namespace remora::xds {
namespace {

std::string hashHex(const std::string& bytes, size_t hex_len = 16) {
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len && out.size() < hex_len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

std::string deterministicBytes(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream sos(&out);
  google::protobuf::io::CodedOutputStream cos(&sos);
  cos.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&cos);
  return out;
}

template <typename T>
std::string nameOf(const google::protobuf::Any& any, const std::string& (T::*get)() const) {
  T msg;
  if (!any.UnpackTo(&msg)) return {};
  return (msg.*get)();
}

}  // namespace

std::string resourceName(const google::protobuf::Any& any) {
  if (any.Is<envoy::config::listener::v3::Listener>()) {
    return nameOf<envoy::config::listener::v3::Listener>(
        any, &envoy::config::listener::v3::Listener::name);
  }
  if (any.Is<envoy::config::cluster::v3::Cluster>()) {
    return nameOf<envoy::config::cluster::v3::Cluster>(any,
                                                       &envoy::config::cluster::v3::Cluster::name);
  }
  if (any.Is<envoy::config::endpoint::v3::ClusterLoadAssignment>()) {
    return nameOf<envoy::config::endpoint::v3::ClusterLoadAssignment>(
        any, &envoy::config::endpoint::v3::ClusterLoadAssignment::cluster_name);
  }
  if (any.Is<envoy::config::route::v3::RouteConfiguration>()) {
    return nameOf<envoy::config::route::v3::RouteConfiguration>(
        any, &envoy::config::route::v3::RouteConfiguration::name);
  }
  if (any.Is<envoy::extensions::transport_sockets::tls::v3::Secret>()) {
    return nameOf<envoy::extensions::transport_sockets::tls::v3::Secret>(
        any, &envoy::extensions::transport_sockets::tls::v3::Secret::name);
  }
  return {};
}

std::string TypeResources::version(const std::vector<std::string>& names) const {
  if (names.empty() && !sealed_version.empty()) return sealed_version;
  std::string acc;
  if (names.empty()) {
    for (const auto& [name, r] : items) append(&acc, name, "=", r.version, ";");
  } else {
    for (const auto& name : names) {
      auto it = items.find(name);
      append(&acc, name, "=", it == items.end() ? std::string("-") : it->second.version, ";");
    }
  }
  return hashHex(acc);
}

bool describeResource(const google::protobuf::Any& any, std::string* name, std::string* version,
                      std::string* error) {
  *name = resourceName(any);
  if (name->empty()) {
    *error = cat("resource of type ", any.type_url(),
                 " has no name (or the type is not an xDS resource)");
    return false;
  }
  *version = hashHex(deterministicBytes(any));
  return true;
}

bool CacheSnapshot::add(const google::protobuf::Any& any, std::string* error) {
  std::string name, version;
  if (!describeResource(any, &name, &version, error)) return false;
  add(std::make_shared<const google::protobuf::Any>(any), name, version);
  return true;
}

void CacheSnapshot::add(std::shared_ptr<const google::protobuf::Any> any, const std::string& name,
                        const std::string& version) {
  const std::string& type = any->type_url();
  CachedResource r;
  r.resource = std::move(any);
  r.version = version;
  TypeResources& t = types[type];
  t.items[name] = std::move(r);
  t.sealed_version.clear();
}

void CacheSnapshot::seal() {
  for (auto& [type, t] : types) {
    t.sealed_version.clear();
    t.sealed_version = t.version();
  }
}

void SnapshotCache::setSnapshot(const std::string& node_id, CacheSnapshotPtr snapshot) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    snapshots_[node_id] = std::move(snapshot);
  }
  notifyAll();
}

void SnapshotCache::setAll(std::map<std::string, CacheSnapshotPtr> snapshots) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    snapshots_ = std::move(snapshots);
  }
  notifyAll();
}

CacheSnapshotPtr SnapshotCache::snapshot(const std::string& node_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = snapshots_.find(node_id);
  if (it == snapshots_.end()) it = snapshots_.find("");
  return it == snapshots_.end() ? nullptr : it->second;
}

uint64_t SnapshotCache::watch(Watcher w) {
  std::lock_guard<std::mutex> lock(watchers_mu_);
  uint64_t id = next_watch_++;
  watchers_[id] = std::move(w);
  return id;
}

void SnapshotCache::unwatch(uint64_t id) {
  std::lock_guard<std::mutex> lock(watchers_mu_);
  watchers_.erase(id);
}

void SnapshotCache::notifyAll() {
  std::lock_guard<std::mutex> lock(watchers_mu_);
  for (auto& [id, w] : watchers_) w();
}

}  // namespace remora::xds
