// Translation of Envoy's RBAC filters (envoy.extensions.filters.http.rbac.v3.RBAC and
// envoy.extensions.filters.network.rbac.v3.RBAC, with envoy.config.rbac.v3 policies) into
// remora's model. Every permission and principal remora cannot evaluate (metadata, filter
// state, CEL conditions, matcher extensions, URI templates, match trees) is refused with its
// field path: an authorization policy is never accepted and then enforced differently.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "envoy/extensions/filters/http/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/network/rbac/v3/rbac.pb.h"
#include "proxy/config/rbac_config.h"
#include "xds/translate/fields.h"

namespace remora::xds {

// `path` prefixes every message ("...http_filters[0].typed_config").
absl::StatusOr<config::RbacFilterConfig> translateHttpRbac(
    const envoy::extensions::filters::http::rbac::v3::RBAC& rbac, const std::string& path,
    TranslateNotes* notes);

// The network filter: as the HTTP one, minus what only a request has (header and url_path
// rules are refused; Envoy refuses header rules there too).
absl::StatusOr<config::RbacFilterConfig> translateNetworkRbac(
    const envoy::extensions::filters::network::rbac::v3::RBAC& rbac, const std::string& path,
    TranslateNotes* notes);

}  // namespace remora::xds
