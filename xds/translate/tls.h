// Translation of Envoy's TLS transport sockets (UpstreamTlsContext, DownstreamTlsContext) and
// SDS Secrets into remora's model. Secrets named by SDS are left as names here; the
// configuration state fills in their content when it assembles the configuration.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "proxy/config/tls_config.h"
#include "xds/translate/fields.h"

namespace remora::xds {

// The local identity provider's secrets (Istio's names): the workload certificate and the
// trust bundle, from the CSR flow.
inline constexpr const char* kLocalCertificateSecret = "default";
inline constexpr const char* kLocalTrustSecret = "ROOTCA";

// Whether a transport socket is envoy.transport_sockets.tls (by its typed_config).
bool isTlsTransportSocket(const envoy::config::core::v3::TransportSocket& ts);

absl::StatusOr<config::UpstreamTlsConfig> translateUpstreamTls(
    const envoy::config::core::v3::TransportSocket& ts, const std::string& path,
    TranslateNotes* notes);
absl::StatusOr<config::DownstreamTlsConfig> translateDownstreamTls(
    const envoy::config::core::v3::TransportSocket& ts, const std::string& path,
    TranslateNotes* notes);

// A Secret: a tls_certificate or a validation_context (PEM checked here, so that a broken
// secret is NACKed instead of failing every handshake later).
absl::StatusOr<config::SecretConfig> translateSecret(
    const envoy::extensions::transport_sockets::tls::v3::Secret& secret, const std::string& path,
    TranslateNotes* notes);

}  // namespace remora::xds
