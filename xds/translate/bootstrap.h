// Envoy's bootstrap (node, admin, static_resources, dynamic_resources.ads_config), validated
// and translated: the static configuration the proxy starts with and where its ADS stream
// goes.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "certs/grpc_tls.h"
#include "envoy/config/bootstrap/v3/bootstrap.pb.h"
#include "envoy/config/core/v3/base.pb.h"
#include "proxy/config/config.h"
#include "xds/translate/fields.h"

namespace remora::xds {

struct AdsConfig {
  bool delta = false;        // api_type DELTA_GRPC (else GRPC: state of the world)
  std::string target;        // gRPC target, "ip:port" (from the xDS cluster or a target_uri)
  std::string cluster_name;  // the static cluster that names the server, if any
  bool lds = false;          // listeners come from ADS (dynamic_resources.lds_config.ads)
  bool cds = false;          // clusters come from ADS
  // initial_fetch_timeout of cds_config and lds_config: 0 waits for ever.
  config::Duration cds_fetch_timeout{std::chrono::seconds(15)};
  config::Duration lds_fetch_timeout{std::chrono::seconds(15)};
  bool set_node_on_first_message_only = false;
  // TLS to the xDS server (plaintext unless it has roots): from google_grpc's
  // channel_credentials.ssl_credentials (and channel_args grpc.ssl_target_name_override), or
  // from the envoy_grpc cluster's UpstreamTlsContext (trusted_ca, sni, tls_certificates).
  certs::ChannelTls tls;
};

struct BootstrapConfig {
  envoy::config::core::v3::Node node;
  std::optional<net::Address> admin_address;
  config::ProxyConfig static_config;  // static listeners and clusters
  std::optional<AdsConfig> ads;
};

absl::StatusOr<BootstrapConfig> translateBootstrap(const envoy::config::bootstrap::v3::Bootstrap& b,
                                                   TranslateNotes* notes);

}  // namespace remora::xds
