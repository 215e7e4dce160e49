// Strict field checking for Envoy resources: every field set to a non-default value must be
// one remora implements, or one that only affects observability (noted, then ignored).
// Anything else is an error that names the field path, so that a configuration is never
// accepted while behaving differently from Envoy.
#pragma once

#include <google/protobuf/message.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "envoy/config/core/v3/config_source.pb.h"
#include "proxy/config/config.h"

namespace remora::xds {

// What translation noticed but did not fail on.
struct TranslateNotes {
  // Field paths set in the input that remora ignores because they change nothing it does:
  // observability only, or settings Envoy itself would not act on here (a load balancer
  // config for another policy, a skipped load_balancing_policy entry, a runtime key).
  std::vector<std::string> ignored;
};

// Fails with "<path>.<field>: not supported" for the first field set on `msg` that is in
// neither list; appends "<path>.<field>" to notes->ignored for those in `ignored`.
absl::Status checkFields(const google::protobuf::Message& msg, std::string_view path,
                         std::initializer_list<std::string_view> supported,
                         std::initializer_list<std::string_view> ignored, TranslateNotes* notes);

// A ConfigSource that must be `ads: {}` (resource_api_version AUTO or V3): its
// initial_fetch_timeout, Envoy's 15 s when unset, 0 for "wait for ever". `what` names the
// resources for the error ("endpoints", "routes", ...).
absl::StatusOr<config::Duration> adsSourceFetchTimeout(
    const envoy::config::core::v3::ConfigSource& src, std::string_view path, std::string_view what,
    TranslateNotes* notes);

// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
std::string fieldPath(std::string_view path, std::string_view field);
std::string indexPath(std::string_view path, std::string_view field, size_t index);

}  // namespace remora::xds
