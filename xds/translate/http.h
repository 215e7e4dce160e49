// Translation of Envoy's HTTP configuration (the http_connection_manager network filter and
// RouteConfiguration, inline or from RDS) into remora's model, with Envoy's defaults and
// validation; anything remora does not implement that changes behaviour is an error naming
// the field path.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/type/matcher/v3/string.pb.h"
#include "proxy/config/http_config.h"
#include "xds/translate/fields.h"

namespace remora::xds {

// envoy.type.matcher.v3.StringMatcher (exact, prefix, suffix, contains, safe_regex, ignore_case).
absl::StatusOr<config::StringMatch> translateStringMatch(
    const envoy::type::matcher::v3::StringMatcher& m, const std::string& path,
    TranslateNotes* notes);

// `path` prefixes every message ("listener 'x'.filter_chains[0].filters[0].typed_config").
absl::StatusOr<config::HttpConnectionManagerConfig> translateHttpConnectionManager(
    const envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager&
        hcm,
    const std::string& path, TranslateNotes* notes);

// A RouteConfiguration, from RDS or inline (`path`: "route_configuration 'name'" or the
// manager's "...typed_config.route_config").
absl::StatusOr<config::RouteTableConfig> translateRouteConfiguration(
    const envoy::config::route::v3::RouteConfiguration& rc, const std::string& path,
    TranslateNotes* notes);

// Envoy's HeaderValueOption lists and header names to remove, with Envoy's rules (no
// %VARIABLE% substitutions, no pseudo-headers or host); `field` is named in messages under
// `path`. Shared by routes and HTTP health checks.
absl::Status translateHeadersToAdd(
    const google::protobuf::RepeatedPtrField<envoy::config::core::v3::HeaderValueOption>& opts,
    const std::string& path, std::string_view field, std::vector<config::HeaderToAdd>* out,
    TranslateNotes* notes);
absl::Status translateHeadersToRemove(const google::protobuf::RepeatedPtrField<std::string>& names,
                                      const std::string& path, std::string_view field,
                                      std::vector<std::string>* out);

// Envoy's StringMatcher and route HeaderMatcher (with Envoy's validation: non-empty prefixes,
// RE2 regexes within the program size limit). Shared with the RBAC translation.
absl::StatusOr<config::StringMatch> translateStringMatcher(
    const envoy::type::matcher::v3::StringMatcher& m, const std::string& path,
    TranslateNotes* notes);
absl::StatusOr<config::HeaderMatch> translateHeaderMatcher(
    const envoy::config::route::v3::HeaderMatcher& h, const std::string& path,
    TranslateNotes* notes);

}  // namespace remora::xds
