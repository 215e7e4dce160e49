// envoy.filters.network.rbac: authorizes a connection by Envoy's RBAC rules before the chain's
// terminal filter sees it (an admission filter: it decides at accept time, when everything it
// can match on is known). A denied connection is closed at once: tcp_proxy never connects
// upstream. Counters: <stat_prefix>.rbac.allowed / denied and
// <stat_prefix>.rbac.[<shadow_rules_stat_prefix>.]shadow_allowed / shadow_denied.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "filters/common/rbac/authorizer.h"
#include "proxy/server/network_filter.h"

namespace remora::filters {

class NetworkRbacFilter : public server::AdmissionFilter {
 public:
  explicit NetworkRbacFilter(std::shared_ptr<const rbac::Authorizer> authorizer)
      : authorizer_(std::move(authorizer)) {}
  bool admit(server::Worker& worker, const server::ConnectionInfo& info) const override;

 private:
  std::shared_ptr<const rbac::Authorizer> authorizer_;
};

absl::StatusOr<server::AdmissionFilterSharedPtr> createNetworkRbacFilter(
    const config::NetworkFilterConfig& config, server::FilterFactoryContext& context);

}  // namespace remora::filters
