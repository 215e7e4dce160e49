// The network RBAC filter.
#include "filters/network/rbac/rbac_filter.h"

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/server/worker.h"

namespace remora::filters {

bool NetworkRbacFilter::admit(server::Worker& worker, const server::ConnectionInfo& info) const {
  const net::Address& local = info.original_dst ? *info.original_dst : info.local;
  rbac::Input in;
  in.local = &local;
  in.direct_remote = &info.peer;
  in.remote = &info.peer;  // no x-forwarded-for below HTTP
  in.tls = info.tls.get();
  if (!info.requested_server_name.empty()) {
    in.requested_server_name = info.requested_server_name;
  } else if (in.tls != nullptr) {
    in.requested_server_name = in.tls->sni;
  }
  rbac::Decision d = authorizer_->check(worker.index(), in);
  if (!d.allowed) {
    REMORA_LOG(Debug, "rbac: connection %s -> %s refused: %s", info.peer.toString(),
               local.toString(), std::string(d.details));
  }
  return d.allowed;
}

absl::StatusOr<server::AdmissionFilterSharedPtr> createNetworkRbacFilter(
    const config::NetworkFilterConfig& config, server::FilterFactoryContext& context) {
  if (!config.rbac) return absl::InvalidArgumentError("rbac: no configuration");
  const config::RbacFilterConfig& c = *config.rbac;
  if (c.stat_prefix.empty()) return absl::InvalidArgumentError("rbac: stat_prefix is empty");
  // Envoy: "<stat_prefix>.rbac.", tagged envoy_rbac_prefix (envoy_rbac_allowed{...}).
  std::string base(c.stat_prefix);
  while (!base.empty() && base.back() == '.') base.pop_back();
  rbac::StatNames names{cat(base, ".rbac."), "rbac", {{"envoy_rbac_prefix", base}}, ""};
  auto authorizer = rbac::Authorizer::create(c, names, context.stats, context.workers);
  if (!authorizer.ok())
    return absl::InvalidArgumentError(cat("rbac: ", authorizer.status().message()));
  return std::make_shared<const NetworkRbacFilter>(std::move(*authorizer));
}

}  // namespace remora::filters
