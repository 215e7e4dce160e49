// Config dump assembly.
#include "xds/client/config_dump.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "envoy/admin/v3/config_dump.pb.h"
#include "envoy/admin/v3/config_dump_shared.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"

namespace remora::xds {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp ts(uint64_t ms) {
  return TimeUtil::MillisecondsToTimestamp(static_cast<int64_t>(ms));
}

// Envoy lists route tables inline in http_connection_managers as static route configs,
// whether their listener is static or from LDS.
void addInlineRoutes(const envoy::config::listener::v3::Listener& l, uint64_t ms,
                     envoy::admin::v3::RoutesConfigDump* rd) {
  auto chain = [&](const envoy::config::listener::v3::FilterChain& fc) {
    for (const auto& f : fc.filters()) {
      envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
      if (!f.has_typed_config() || !f.typed_config().Is<decltype(hcm)>() ||
          !f.typed_config().UnpackTo(&hcm) || !hcm.has_route_config()) {
        continue;
      }
      auto* s = rd->add_static_route_configs();
      s->mutable_route_config()->PackFrom(hcm.route_config());
      *s->mutable_last_updated() = ts(ms);
    }
  };
  for (const auto& fc : l.filter_chains()) chain(fc);
  if (l.has_default_filter_chain()) chain(l.default_filter_chain());
}

}  // namespace

std::string configDumpJson(const envoy::config::bootstrap::v3::Bootstrap& bootstrap,
                           uint64_t start_ms, const XdsClient::Dump* dynamic) {
  envoy::admin::v3::ConfigDump dump;

  envoy::admin::v3::BootstrapConfigDump bd;
  *bd.mutable_bootstrap() = bootstrap;
  *bd.mutable_last_updated() = ts(start_ms);
  dump.add_configs()->PackFrom(bd);

  envoy::admin::v3::ClustersConfigDump cd;
  for (const auto& c : bootstrap.static_resources().clusters()) {
    auto* s = cd.add_static_clusters();
    s->mutable_cluster()->PackFrom(c);
    *s->mutable_last_updated() = ts(start_ms);
  }
  envoy::admin::v3::EndpointsConfigDump ed;
  envoy::admin::v3::ListenersConfigDump ld;
  envoy::admin::v3::RoutesConfigDump rd;
  for (const auto& l : bootstrap.static_resources().listeners()) {
    auto* s = ld.add_static_listeners();
    s->mutable_listener()->PackFrom(l);
    *s->mutable_last_updated() = ts(start_ms);
    addInlineRoutes(l, start_ms, &rd);
  }
  if (dynamic != nullptr) {
    auto version = [&](ResourceType t) {
      auto it = dynamic->versions.find(t);
      return it == dynamic->versions.end() ? std::string() : it->second;
    };
    auto resources = [&](ResourceType t) -> const ResourceMap& {
      static const ResourceMap kEmpty;
      auto it = dynamic->resources.find(t);
      return it == dynamic->resources.end() ? kEmpty : it->second;
    };
    cd.set_version_info(version(ResourceType::Cluster));
    std::set<std::string> warming(dynamic->warming_clusters.begin(),
                                  dynamic->warming_clusters.end());
    for (const auto& [name, ep] : resources(ResourceType::Cluster)) {
      const ResourceEntry& e = *ep;
      auto* d = warming.count(name) != 0 ? cd.add_dynamic_warming_clusters()
                                         : cd.add_dynamic_active_clusters();
      d->set_version_info(e.version);
      *d->mutable_cluster() = e.raw;
      *d->mutable_last_updated() = ts(e.last_updated_ms);
    }
    for (const auto& [name, ep] : resources(ResourceType::ClusterLoadAssignment)) {
      const ResourceEntry& e = *ep;
      auto* d = ed.add_dynamic_endpoint_configs();
      d->set_version_info(e.version);
      *d->mutable_endpoint_config() = e.raw;
      *d->mutable_last_updated() = ts(e.last_updated_ms);
    }
    ld.set_version_info(version(ResourceType::Listener));
    // A listener waiting for its route configurations is in warming_state; the version it
    // replaces (if any) stays in active_state until then.
    std::set<std::string> warming_listeners(dynamic->warming_listeners.begin(),
                                            dynamic->warming_listeners.end());
    auto fill = [](envoy::admin::v3::ListenersConfigDump::DynamicListenerState* s,
                   const ResourceEntry& e) {
      s->set_version_info(e.version);
      *s->mutable_listener() = e.raw;
      *s->mutable_last_updated() = ts(e.last_updated_ms);
    };
    for (const auto& [name, ep] : resources(ResourceType::Listener)) {
      auto* d = ld.add_dynamic_listeners();
      d->set_name(name);
      const ResourceEntry* active = ep.get();
      if (warming_listeners.count(name) != 0) {
        fill(d->mutable_warming_state(), *ep);
        auto a = dynamic->active_listeners.find(name);
        active = a == dynamic->active_listeners.end() ? nullptr : a->second.get();
      }
      if (active != nullptr) {
        fill(d->mutable_active_state(), *active);
        envoy::config::listener::v3::Listener l;
        if (active->raw.UnpackTo(&l)) addInlineRoutes(l, active->last_updated_ms, &rd);
      }
    }
    for (const auto& [name, ep] : resources(ResourceType::RouteConfiguration)) {
      const ResourceEntry& e = *ep;
      auto* d = rd.add_dynamic_route_configs();
      d->set_version_info(e.version);
      *d->mutable_route_config() = e.raw;
      *d->mutable_last_updated() = ts(e.last_updated_ms);
    }
    // The last rejection, as Envoy reports it (error_state on the dynamic listeners/clusters).
    for (const auto& [type, msg] : dynamic->last_error) {
      envoy::admin::v3::UpdateFailureState f;
      f.set_details(msg);
      if (type == ResourceType::Listener) {
        auto* d = ld.add_dynamic_listeners();
        d->set_name("(rejected update)");
        *d->mutable_error_state() = f;
      } else if (type == ResourceType::Cluster) {
        auto* d = cd.add_dynamic_warming_clusters();
        d->set_version_info("(rejected update)");
        *d->mutable_error_state() = f;
      } else if (type == ResourceType::RouteConfiguration) {
        auto* d = rd.add_dynamic_route_configs();
        d->set_version_info("(rejected update)");
        *d->mutable_error_state() = f;
      }
    }
  }
  dump.add_configs()->PackFrom(cd);
  dump.add_configs()->PackFrom(ed);
  dump.add_configs()->PackFrom(ld);
  dump.add_configs()->PackFrom(rd);

  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.preserve_proto_field_names = true;
  auto st = google::protobuf::util::MessageToJsonString(dump, &out, opts);
  if (!st.ok()) return "{\"error\": \"config dump could not be rendered\"}\n";
  return out;
}

}  // namespace remora::xds
