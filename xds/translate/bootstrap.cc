// Bootstrap translation.
#include "xds/translate/bootstrap.h"

#include <cstdlib>

#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
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

// A DataSource for gRPC's TLS: a file stays a file (gRPC re-reads it, so a rotated bundle is
// picked up), inline PEM and an environment variable's value become PEM.
absl::Status channelDataSource(const envoy::config::core::v3::DataSource& ds,
                               const std::string& path, std::string* file, std::string* pem,
                               TranslateNotes* notes) {
  using DS = envoy::config::core::v3::DataSource;
  if (auto s = checkFields(ds, path,
                           {"filename", "inline_bytes", "inline_string", "environment_variable"},
                           {}, notes);
      !s.ok()) {
    return s;
  }
  switch (ds.specifier_case()) {
    case DS::kFilename:
      *file = ds.filename();
      return absl::OkStatus();
    case DS::kInlineBytes:
      *pem = ds.inline_bytes();
      break;
    case DS::kInlineString:
      *pem = ds.inline_string();
      break;
    case DS::kEnvironmentVariable: {
      const char* v = std::getenv(ds.environment_variable().c_str());
      if (v == nullptr) {
        return error(fieldPath(path, "environment_variable"),
                     cat("'", ds.environment_variable(), "' is not set"));
      }
      *pem = v;
      break;
    }
    default:
      return error(path, "empty data source");
  }
  if (pem->empty()) return error(path, "empty");
  return absl::OkStatus();
}

// Reads and checks the files and PEM now, so a bad bootstrap fails at start-up, naming `path`.
absl::Status checkTls(const certs::ChannelTls& tls, const std::string& path) {
  if (auto s = certs::checkChannelTls(tls); !s.ok()) return error(path, sv(s.message()));
  return absl::OkStatus();
}

// google_grpc.channel_credentials: ssl_credentials only (Google default credentials and local
// credentials are not implemented); the roots are required, as remora never trusts the
// system's roots for its control plane.
absl::StatusOr<certs::ChannelTls> googleGrpcTls(
    const envoy::config::core::v3::GrpcService::GoogleGrpc::ChannelCredentials& cc,
    const std::string& path, TranslateNotes* notes) {
  if (auto s = checkFields(cc, path, {"ssl_credentials"}, {}, notes); !s.ok()) return s;
  if (!cc.has_ssl_credentials()) return error(path, "ssl_credentials is required");
  const auto& ssl = cc.ssl_credentials();
  std::string spath = fieldPath(path, "ssl_credentials");
  if (auto s = checkFields(ssl, spath, {"root_certs", "cert_chain", "private_key"}, {}, notes);
      !s.ok()) {
    return s;
  }
  certs::ChannelTls tls;
  if (!ssl.has_root_certs()) {
    return error(fieldPath(spath, "root_certs"),
                 "is required (remora does not trust the system's roots for its xDS server)");
  }
  if (auto s = channelDataSource(ssl.root_certs(), fieldPath(spath, "root_certs"),
                                 &tls.root_certs_file, &tls.root_certs_pem, notes);
      !s.ok()) {
    return s;
  }
  if (ssl.has_cert_chain() != ssl.has_private_key()) {
    return error(spath, "cert_chain and private_key go together");
  }
  if (ssl.has_cert_chain()) {
    if (auto s = channelDataSource(ssl.cert_chain(), fieldPath(spath, "cert_chain"),
                                   &tls.cert_chain_file, &tls.cert_chain_pem, notes);
        !s.ok()) {
      return s;
    }
    if (auto s = channelDataSource(ssl.private_key(), fieldPath(spath, "private_key"),
                                   &tls.private_key_file, &tls.private_key_pem, notes);
        !s.ok()) {
      return s;
    }
  }
  if (auto s = checkTls(tls, spath); !s.ok()) return s;
  return tls;
}

// The xDS cluster's UpstreamTlsContext, for gRPC's TLS: trusted_ca, sni and one inline or
// file tls_certificate. What gRPC's credentials cannot do (SDS secrets, SAN matchers, TLS
// parameters, ALPN other than h2) is refused by field path rather than dropped.
absl::StatusOr<certs::ChannelTls> clusterTls(const envoy::config::core::v3::TransportSocket& ts,
                                             const std::string& path, TranslateNotes* notes) {
  namespace tlsv3 = envoy::extensions::transport_sockets::tls::v3;
  tlsv3::UpstreamTlsContext u;
  std::string upath = fieldPath(path, "typed_config");
  if (!ts.typed_config().UnpackTo(&u)) return error(upath, "not an UpstreamTlsContext");
  const std::string why = " (the xDS client's TLS supports trusted_ca, sni and tls_certificates)";
  if (auto s = checkFields(u, upath, {"common_tls_context", "sni"}, {"max_session_keys"}, notes);
      !s.ok()) {
    return absl::InvalidArgumentError(cat(s.message(), why));
  }
  const auto& c = u.common_tls_context();
  std::string cpath = fieldPath(upath, "common_tls_context");
  if (auto s = checkFields(c, cpath, {"tls_certificates", "validation_context", "alpn_protocols"},
                           {}, notes);
      !s.ok()) {
    return absl::InvalidArgumentError(cat(s.message(), why));
  }
  for (int i = 0; i < c.alpn_protocols_size(); ++i) {
    if (c.alpn_protocols(i) != "h2") {
      return error(indexPath(cpath, "alpn_protocols", static_cast<size_t>(i)),
                   cat("'", c.alpn_protocols(i), "': gRPC speaks h2 only"));
    }
  }
  certs::ChannelTls tls;
  tls.server_name = u.sni();
  std::string vpath = fieldPath(cpath, "validation_context");
  if (!c.has_validation_context() || !c.validation_context().has_trusted_ca()) {
    return error(fieldPath(vpath, "trusted_ca"),
                 "is required: remora verifies its xDS server (an SDS validation context is not "
                 "supported for it)");
  }
  const auto& v = c.validation_context();
  if (auto s = checkFields(v, vpath, {"trusted_ca"}, {}, notes); !s.ok()) {
    return absl::InvalidArgumentError(
        cat(s.message(),
            " (for the xDS server, gRPC checks the name given by sni or the "
            "cluster's address)"));
  }
  if (auto s = channelDataSource(v.trusted_ca(), fieldPath(vpath, "trusted_ca"),
                                 &tls.root_certs_file, &tls.root_certs_pem, notes);
      !s.ok()) {
    return s;
  }
  if (c.tls_certificates_size() > 1) {
    return error(indexPath(cpath, "tls_certificates", 1), "only one client certificate");
  }
  if (c.tls_certificates_size() == 1) {
    const auto& tc = c.tls_certificates(0);
    std::string tpath = indexPath(cpath, "tls_certificates", 0);
    if (auto s = checkFields(tc, tpath, {"certificate_chain", "private_key"}, {}, notes); !s.ok())
      return s;
    if (!tc.has_certificate_chain() || !tc.has_private_key()) {
      return error(tpath, "certificate_chain and private_key are required");
    }
    if (auto s = channelDataSource(tc.certificate_chain(), fieldPath(tpath, "certificate_chain"),
                                   &tls.cert_chain_file, &tls.cert_chain_pem, notes);
        !s.ok()) {
      return s;
    }
    if (auto s = channelDataSource(tc.private_key(), fieldPath(tpath, "private_key"),
                                   &tls.private_key_file, &tls.private_key_pem, notes);
        !s.ok()) {
      return s;
    }
  }
  if (auto s = checkTls(tls, cpath); !s.ok()) return s;
  return tls;
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
  certs::ChannelTls ads_cluster_tls;
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
      // The ADS stream must not go out in plaintext when the cluster says TLS.
      std::string cpath = indexPath(spath, "clusters", static_cast<size_t>(i));
      if (c.transport_socket_matches_size() > 0) {
        return error(fieldPath(cpath, "transport_socket_matches"),
                     "not supported on the xDS cluster (give it one transport_socket)");
      }
      if (c.has_transport_socket() && cc->tls) {
        auto tls = clusterTls(c.transport_socket(), fieldPath(cpath, "transport_socket"), notes);
        if (!tls.ok()) return tls.status();
        ads_cluster_tls = std::move(*tls);
      } else if (cc->tls) {
        return error(cpath, "the xDS cluster's TLS must be given by its transport_socket");
      }
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
      ads.tls = ads_cluster_tls;
    } else if (gs.has_google_grpc()) {
      const auto& gg = gs.google_grpc();
      std::string ggpath = fieldPath(gpath, "google_grpc");
      if (auto s = checkFields(gg, ggpath,
                               {"target_uri", "stat_prefix", "channel_credentials", "channel_args"},
                               {}, notes);
          !s.ok())
        return s;
      ads.target = gg.target_uri();
      if (ads.target.empty()) return error(fieldPath(ggpath, "target_uri"), "must not be empty");
      if (gg.has_channel_credentials()) {
        auto tls = googleGrpcTls(gg.channel_credentials(), fieldPath(ggpath, "channel_credentials"),
                                 notes);
        if (!tls.ok()) return tls.status();
        ads.tls = std::move(*tls);
      }
      for (const auto& [name, value] : gg.channel_args().args()) {
        std::string argpath = cat(fieldPath(ggpath, "channel_args.args"), "['", name, "']");
        if (name != "grpc.ssl_target_name_override") {
          return error(argpath, "not supported (grpc.ssl_target_name_override is)");
        }
        if (!value.has_string_value() || value.string_value().empty()) {
          return error(argpath, "needs a non-empty string_value");
        }
        if (!ads.tls.enabled()) {
          return error(argpath, "needs channel_credentials.ssl_credentials");
        }
        ads.tls.server_name = value.string_value();
      }
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
