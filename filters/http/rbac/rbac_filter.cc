// The HTTP RBAC filter.
#include "filters/http/rbac/rbac_filter.h"

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/server/worker.h"

namespace remora::filters {
namespace {

std::string_view trimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Envoy's Utility::getLastAddressFromXFF over every x-forwarded-for value (Envoy joins repeated
// ones with ','): the entry `skip` places from the end, when it is an IP address.
std::optional<net::Address> xffAddress(const http::HeaderMap& headers, uint32_t skip) {
  const auto& entries = headers.entries();
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    if (it->name != "x-forwarded-for") continue;
    std::string_view v = it->value;
    for (;;) {
      size_t comma = v.rfind(',');
      if (skip == 0) {
        std::string_view item = comma == std::string_view::npos ? v : v.substr(comma + 1);
        auto a = net::Address::parseIp(trimSpaces(item), 0);
        if (!a.ok()) return std::nullopt;
        return *a;
      }
      --skip;
      if (comma == std::string_view::npos) break;
      v = v.substr(0, comma);
    }
  }
  return std::nullopt;
}

class RbacFilter : public http::HttpFilter {
 public:
  RbacFilter(const RbacFilterFactory& factory, server::Worker& worker)
      : factory_(factory), worker_(worker) {}

  http::FilterStatus decodeHeaders(http::RequestHeaders& headers, bool end_stream) override {
    const http::StreamInfo& info = callbacks_->streamInfo();
    const rbac::Authorizer& authorizer = factory_.authorizer();
    rbac::Input in;
    in.local = &info.downstream_local;
    in.direct_remote = &info.downstream_remote;
    in.remote = &info.downstream_remote;
    net::Address remote;
    if (authorizer.usesRemoteIp()) {
      remote = remoteAddress(factory_.remoteAddressRule(), headers, info.downstream_remote);
      in.remote = &remote;
    }
    in.tls = info.downstream_tls;
    if (in.tls != nullptr) in.requested_server_name = in.tls->sni;
    in.headers = &headers;
    rbac::Decision d = authorizer.check(worker_.index(), in);
    if (d.allowed) return http::FilterStatus::Continue;
    REMORA_LOG(Debug, "rbac: %s %s from %s: %s", headers.method, headers.path,
               info.downstream_remote.toString(), std::string(d.details));
    callbacks_->sendLocalReply(403, "RBAC: access denied", http::ResponseFlag::RbacDenied,
                               d.details);
    return http::FilterStatus::Stop;
  }

 private:
  const RbacFilterFactory& factory_;
  server::Worker& worker_;
};

}  // namespace

net::Address remoteAddress(const RemoteAddressRule& rule, const http::RequestHeaders& request,
                           const net::Address& peer) {
  std::optional<net::Address> from_xff;
  if (rule.use_remote_address) {
    // The trusted client address is the peer unless trusted hops set x-forwarded-for; the
    // manager has appended the peer by now, so look past it.
    if (rule.xff_num_trusted_hops > 0) {
      from_xff =
          xffAddress(request.headers, rule.xff_num_trusted_hops - 1 + (rule.xff_appended ? 1 : 0));
    }
  } else {
    from_xff = xffAddress(request.headers, rule.xff_num_trusted_hops);
  }
  return from_xff ? *from_xff : peer;
}

http::HttpFilterPtr RbacFilterFactory::create(server::Worker& worker) const {
  return std::make_unique<RbacFilter>(*this, worker);
}

absl::StatusOr<http::HttpFilterFactorySharedPtr> createRbacFilterFactory(
    const config::HttpFilterConfig& config, const HttpFilterContext& context) {
  if (!config.rbac) return absl::InvalidArgumentError("no RBAC configuration");
  const std::string& hcm_prefix = context.manager.stat_prefix;
  rbac::StatNames names{cat("http.", hcm_prefix, ".rbac."),
                        "http_rbac",
                        {{"envoy_http_conn_manager_prefix", hcm_prefix}},
                        "envoy_rbac_http_prefix"};
  auto authorizer = rbac::Authorizer::create(*config.rbac, names, context.stats, context.workers);
  if (!authorizer.ok()) return authorizer.status();
  RemoteAddressRule rule;
  rule.use_remote_address = context.manager.use_remote_address;
  rule.xff_num_trusted_hops = context.manager.xff_num_trusted_hops;
  rule.xff_appended = context.manager.use_remote_address && !context.manager.skip_xff_append;
  return std::make_shared<RbacFilterFactory>(std::move(*authorizer), rule);
}

}  // namespace remora::filters
