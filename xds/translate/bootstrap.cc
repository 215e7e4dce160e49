// Bootstrap translation.
#include "xds/translate/bootstrap.h"

#include "proxy/common/strings.h"
#include "xds/translate/tls.h"
#include "xds/translate/translate.h"

namespace remora::xds {
namespace {

using envoy::config::core::v3::ApiConfigSource;
using envoy::config::core::v3::ConfigSource;

absl::Status error(std::string_view path, std::string_view what) {
  return absl::InvalidArgumentError(cat(path, ": ", what));
}

// lds_config / cds_config: only `ads: {}` (with an optional initial_fetch_timeout).
absl::Status checkAdsSource(const ConfigSource& src, const std::string& path,
                            config::Duration* fetch_timeout, TranslateNotes* notes) {
  if (src.has_ads() && src.resource_api_version() != envoy::config::core::v3::V3) {
    return error(fieldPath(path, "resource_api_version"), "only V3");
  }
  auto timeout = adsSourceFetchTimeout(src, path, "resources", notes);
  if (!timeout.ok()) return timeout.status();
  *fetch_timeout = *timeout;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BootstrapConfig> translateBootstrap(const envoy::config::bootstrap::v3::Bootstrap& b,
                                                   TranslateNotes* notes) {
  const std::string path = "bootstrap";
  if (auto s = checkFields(b, path, {"node", "static_resources", "dynamic_resources", "admin"},
                           {"stats_config", "stats_sinks", "stats_flush_interval", "tracing",
                            "layered_runtime", "cluster_manager", "enable_dispatcher_stats",
                            "stats_server_version_override", "watchdog", "watchdogs"},
                           notes);
      !s.ok()) {
    return s;
  }
  BootstrapConfig out;
  out.node = b.node();
  if (b.has_admin()) {
    std::string apath = fieldPath(path, "admin");
    if (auto s = checkFields(b.admin(), apath, {"address"},
                             {"access_log", "access_log_path", "profile_path"}, notes);
        !s.ok()) {
      return s;
    }
    if (b.admin().has_address()) {
      auto a = translateAddress(b.admin().address(), fieldPath(apath, "address"), notes);
      if (!a.ok()) return a.status();
      out.admin_address = *a;
    }
  }

  // The xDS server's cluster, if any, is for the ADS client, not for traffic: it may carry
  // HTTP/2 settings that data-path clusters may not.
  std::string ads_cluster;
  if (b.has_dynamic_resources() && b.dynamic_resources().has_ads_config()) {
    const auto& ac = b.dynamic_resources().ads_config();
    if (ac.grpc_services_size() > 0 && ac.grpc_services(0).has_envoy_grpc()) {
      ads_cluster = ac.grpc_services(0).envoy_grpc().cluster_name();
    }
  }

  const auto& sr = b.static_resources();
  std::string spath = fieldPath(path, "static_resources");
  if (auto s = checkFields(sr, spath, {"listeners", "clusters", "secrets"}, {}, notes); !s.ok())
    return s;
  for (int i = 0; i < sr.secrets_size(); ++i) {
    auto sc =
        translateSecret(sr.secrets(i), indexPath(spath, "secrets", static_cast<size_t>(i)), notes);
    if (!sc.ok()) return sc.status();
    out.static_config.secrets.push_back(std::move(*sc));
  }
  std::optional<std::string> ads_target;
  for (int i = 0; i < sr.clusters_size(); ++i) {
    envoy::config::cluster::v3::Cluster c = sr.clusters(i);
    if (!ads_cluster.empty() && c.name() == ads_cluster) {
      // (By reflection: the typed accessor of http2_protocol_options is deprecated.)
      for (const char* f : {"http2_protocol_options", "typed_extension_protocol_options"}) {
        c.GetReflection()->ClearField(&c, c.GetDescriptor()->FindFieldByName(f));
      }
    }
    auto cc = translateCluster(c, notes);
    if (!cc.ok())
      return absl::InvalidArgumentError(
          cat(indexPath(spath, "clusters", static_cast<size_t>(i)), ": ", cc.status().message()));
    if (c.name() == ads_cluster) {
      if (cc->type != config::ClusterConfig::Type::Static || cc->endpoints.empty()) {
        return error(cat("cluster '", ads_cluster, "'"),
                     "the xDS cluster must be STATIC with an endpoint");
      }
      ads_target = cc->endpoints[0].address.toString();
    }
    out.static_config.clusters.push_back(*cc);
  }
  for (int i = 0; i < sr.listeners_size(); ++i) {
    auto lc = translateListener(sr.listeners(i), notes);
    if (!lc.ok())
      return absl::InvalidArgumentError(
          cat(indexPath(spath, "listeners", static_cast<size_t>(i)), ": ", lc.status().message()));
    out.static_config.listeners.push_back(*lc);
  }

  if (b.has_dynamic_resources()) {
    const auto& dr = b.dynamic_resources();
    std::string dpath = fieldPath(path, "dynamic_resources");
    if (auto s = checkFields(dr, dpath, {"ads_config", "lds_config", "cds_config"}, {}, notes);
        !s.ok())
      return s;
    if (!dr.has_ads_config())
      return error(dpath, "ads_config is required (remora speaks ADS only)");
    AdsConfig ads;
    const ApiConfigSource& ac = dr.ads_config();
    std::string apath = fieldPath(dpath, "ads_config");
    if (auto s = checkFields(ac, apath,
                             {"api_type", "transport_api_version", "grpc_services",
                              "set_node_on_first_message_only"},
                             {}, notes);
        !s.ok()) {
      return s;
    }
    if (ac.api_type() == ApiConfigSource::GRPC) {
      ads.delta = false;
    } else if (ac.api_type() == ApiConfigSource::DELTA_GRPC) {
      ads.delta = true;
    } else {
      return error(fieldPath(apath, "api_type"),
                   cat(ApiConfigSource::ApiType_Name(ac.api_type()),
                       " is not supported (GRPC and DELTA_GRPC are)"));
    }
    if (ac.transport_api_version() != envoy::config::core::v3::V3) {
      return error(fieldPath(apath, "transport_api_version"), "only V3");
    }
    ads.set_node_on_first_message_only = ac.set_node_on_first_message_only();
    if (ac.grpc_services_size() != 1)
      return error(fieldPath(apath, "grpc_services"), "exactly one is needed");
    const auto& gs = ac.grpc_services(0);
    std::string gpath = indexPath(apath, "grpc_services", 0);
    if (auto s = checkFields(gs, gpath, {"envoy_grpc", "google_grpc", "timeout"}, {}, notes);
        !s.ok())
      return s;
    if (gs.has_envoy_grpc()) {
      if (auto s = checkFields(gs.envoy_grpc(), fieldPath(gpath, "envoy_grpc"), {"cluster_name"},
                               {"authority"}, notes);
          !s.ok()) {
        return s;
      }
      ads.cluster_name = gs.envoy_grpc().cluster_name();
      if (!ads_target) {
        return error(fieldPath(gpath, "envoy_grpc.cluster_name"),
                     cat("'", ads.cluster_name, "' is not a static cluster"));
      }
      ads.target = *ads_target;
    } else if (gs.has_google_grpc()) {
      std::string ggpath = fieldPath(gpath, "google_grpc");
      if (auto s = checkFields(gs.google_grpc(), ggpath, {"target_uri", "stat_prefix"}, {}, notes);
          !s.ok())
        return s;
      ads.target = gs.google_grpc().target_uri();
      if (ads.target.empty()) return error(fieldPath(ggpath, "target_uri"), "must not be empty");
    } else {
      return error(gpath, "envoy_grpc or google_grpc is required");
    }
    if (dr.has_lds_config()) {
      if (auto s = checkAdsSource(dr.lds_config(), fieldPath(dpath, "lds_config"),
                                  &ads.lds_fetch_timeout, notes);
          !s.ok())
        return s;
      ads.lds = true;
    }
    if (dr.has_cds_config()) {
      if (auto s = checkAdsSource(dr.cds_config(), fieldPath(dpath, "cds_config"),
                                  &ads.cds_fetch_timeout, notes);
          !s.ok())
        return s;
      ads.cds = true;
    }
    out.ads = ads;
  }
  return out;
}

}  // namespace remora::xds
