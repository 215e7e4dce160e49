// envoy.filters.http.rbac: authorizes each request on its headers by Envoy's RBAC rules. A
// denied request gets a local 403 "RBAC: access denied" with the RBAC response flag and the
// details rbac_access_denied_matched_policy[<policy>|none]; shadow rules are only counted.
// Counters: http.<stat_prefix>.rbac.[<rules_stat_prefix>.]allowed / denied and
// ...rbac.[<shadow_rules_stat_prefix>.]shadow_allowed / shadow_denied.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "filters/common/rbac/authorizer.h"
#include "filters/registry.h"
#include "proxy/http/filter.h"

namespace remora::filters {

// How Envoy's connection manager finds the downstream remote address that remote_ip matches:
// from x-forwarded-for unless it uses the peer address (use_remote_address), skipping the
// trusted hops (xff_num_trusted_hops).
struct RemoteAddressRule {
  bool use_remote_address = false;
  uint32_t xff_num_trusted_hops = 0;
  bool xff_appended = false;  // the manager appended the peer to x-forwarded-for already
};

// The address remote_ip matches for this request (Envoy's ConnectionManagerUtility rules);
// `peer` when x-forwarded-for does not give one.
net::Address remoteAddress(const RemoteAddressRule& rule, const http::RequestHeaders& request,
                           const net::Address& peer);

class RbacFilterFactory : public http::HttpFilterFactory {
 public:
  RbacFilterFactory(std::shared_ptr<const rbac::Authorizer> authorizer, RemoteAddressRule rule)
      : authorizer_(std::move(authorizer)), rule_(rule) {}
  http::HttpFilterPtr create(server::Worker& worker) const override;

  const rbac::Authorizer& authorizer() const { return *authorizer_; }
  const RemoteAddressRule& remoteAddressRule() const { return rule_; }

 private:
  std::shared_ptr<const rbac::Authorizer> authorizer_;
  RemoteAddressRule rule_;
};

absl::StatusOr<http::HttpFilterFactorySharedPtr> createRbacFilterFactory(
    const config::HttpFilterConfig& config, const HttpFilterContext& context);

}  // namespace remora::filters
