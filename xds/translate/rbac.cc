// Envoy v3 RBAC -> remora's RBAC model.
#include "xds/translate/rbac.h"

#include <algorithm>
#include <vector>

#include "envoy/config/rbac/v3/rbac.pb.h"
#include "proxy/common/strings.h"
#include "xds/translate/http.h"

// Principal.source_ip is deprecated; control planes still send it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace remora::xds {
namespace {

using envoy::config::rbac::v3::Permission;
using envoy::config::rbac::v3::Policy;
using envoy::config::rbac::v3::Principal;
using RbacProto = envoy::config::rbac::v3::RBAC;
using HttpRbacProto = envoy::extensions::filters::http::rbac::v3::RBAC;
using NetworkRbacProto = envoy::extensions::filters::network::rbac::v3::RBAC;
using Kind = config::RbacMatch::Kind;

// Which filter the rules are for: the network filter has no request to look at.
enum class Layer { Http, Network };

absl::Status error(std::string_view path, std::string_view what) {
  return absl::InvalidArgumentError(cat(path, ": ", what));
}

absl::Status httpOnly(const std::string& path, std::string_view field) {
  return error(fieldPath(path, field),
               "a connection has no HTTP request: not supported by the network RBAC filter "
               "(use envoy.filters.http.rbac)");
}

absl::StatusOr<net::Cidr> translateCidr(const envoy::config::core::v3::CidrRange& r,
                                        const std::string& path, TranslateNotes* notes) {
  if (auto s = checkFields(r, path, {"address_prefix", "prefix_len"}, {}, notes); !s.ok()) return s;
  uint32_t len = r.has_prefix_len() ? r.prefix_len().value() : 0;
  auto c = net::Cidr::parse(cat(r.address_prefix(), "/", len));
  if (!c.ok()) return error(path, sv(c.status().message()));
  return *c;
}

absl::StatusOr<config::StringMatch> translatePathMatcher(
    const envoy::type::matcher::v3::PathMatcher& m, const std::string& path,
    TranslateNotes* notes) {
  if (auto s = checkFields(m, path, {"path"}, {}, notes); !s.ok()) return s;
  if (!m.has_path()) return error(fieldPath(path, "path"), "is required");
  return translateStringMatcher(m.path(), fieldPath(path, "path"), notes);
}

absl::StatusOr<config::RbacMatch> translatePermission(const Permission& p, const std::string& path,
                                                      Layer layer, TranslateNotes* notes);
absl::StatusOr<config::RbacMatch> translatePrincipal(const Principal& p, const std::string& path,
                                                     Layer layer, TranslateNotes* notes);

// and_rules / or_rules / and_ids / or_ids: a Set with at least one member.
template <typename Item, typename Fn>
absl::StatusOr<config::RbacMatch> translateSet(
    const google::protobuf::Message& set, const google::protobuf::RepeatedPtrField<Item>& items,
    std::string_view field, const std::string& path, Kind kind, Fn each, TranslateNotes* notes) {
  if (auto s = checkFields(set, path, {field}, {}, notes); !s.ok()) return s;
  if (items.empty()) return error(fieldPath(path, field), "needs at least one entry");
  config::RbacMatch out;
  out.kind = kind;
  for (int i = 0; i < items.size(); ++i) {
    auto m = each(items[i], indexPath(path, field, static_cast<size_t>(i)));
    if (!m.ok()) return m.status();
    out.children.push_back(std::move(*m));
  }
  return out;
}

absl::StatusOr<config::RbacMatch> translatePermission(const Permission& p, const std::string& path,
                                                      Layer layer, TranslateNotes* notes) {
  if (layer == Layer::Network) {
    if (p.has_header()) return httpOnly(path, "header");
    if (p.has_url_path()) return httpOnly(path, "url_path");
  }
  // metadata, matcher (RBAC matcher extensions) and uri_template are refused here.
  if (auto s = checkFields(
          p, path,
          {"and_rules", "or_rules", "any", "header", "url_path", "destination_ip",
           "destination_port", "destination_port_range", "not_rule", "requested_server_name"},
          {}, notes);
      !s.ok()) {
    return s;
  }
  auto each = [&](const Permission& child, const std::string& cpath) {
    return translatePermission(child, cpath, layer, notes);
  };
  config::RbacMatch out;
  switch (p.rule_case()) {
    case Permission::kAndRules:
      return translateSet(p.and_rules(), p.and_rules().rules(), "rules",
                          fieldPath(path, "and_rules"), Kind::And, each, notes);
    case Permission::kOrRules:
      return translateSet(p.or_rules(), p.or_rules().rules(), "rules", fieldPath(path, "or_rules"),
                          Kind::Or, each, notes);
    case Permission::kAny:
      if (!p.any()) return error(fieldPath(path, "any"), "must be true");
      out.kind = Kind::Any;
      return out;
    case Permission::kHeader: {
      auto h = translateHeaderMatcher(p.header(), fieldPath(path, "header"), notes);
      if (!h.ok()) return h.status();
      out.kind = Kind::Header;
      out.header = std::move(*h);
      return out;
    }
    case Permission::kUrlPath: {
      auto m = translatePathMatcher(p.url_path(), fieldPath(path, "url_path"), notes);
      if (!m.ok()) return m.status();
      out.kind = Kind::UrlPath;
      out.string_match = std::move(*m);
      return out;
    }
    case Permission::kDestinationIp: {
      auto c = translateCidr(p.destination_ip(), fieldPath(path, "destination_ip"), notes);
      if (!c.ok()) return c.status();
      out.kind = Kind::DestinationIp;
      out.cidr = *c;
      return out;
    }
    case Permission::kDestinationPort:
      if (p.destination_port() > 65535) {
        return error(fieldPath(path, "destination_port"), "must be at most 65535");
      }
      out.kind = Kind::DestinationPort;
      out.port_start = p.destination_port();
      out.port_end = p.destination_port() + 1;
      return out;
    case Permission::kDestinationPortRange: {
      const auto& r = p.destination_port_range();
      std::string rpath = fieldPath(path, "destination_port_range");
      if (auto s = checkFields(r, rpath, {"start", "end"}, {}, notes); !s.ok()) return s;
      // Envoy's PortRangeMatcher: both within [0, 65536], start < end; [start, end).
      if (r.start() < 0 || r.start() > 65536)
        return error(fieldPath(rpath, "start"), "out of range");
      if (r.end() < 0 || r.end() > 65536) return error(fieldPath(rpath, "end"), "out of range");
      if (r.start() >= r.end()) {
        return error(rpath, cat("start ", r.start(), " must be less than end ", r.end()));
      }
      out.kind = Kind::DestinationPort;
      out.port_start = static_cast<uint32_t>(r.start());
      out.port_end = static_cast<uint32_t>(r.end());
      return out;
    }
    case Permission::kNotRule: {
      auto m = translatePermission(p.not_rule(), fieldPath(path, "not_rule"), layer, notes);
      if (!m.ok()) return m.status();
      out.kind = Kind::Not;
      out.children.push_back(std::move(*m));
      return out;
    }
    case Permission::kRequestedServerName: {
      auto m = translateStringMatcher(p.requested_server_name(),
                                      fieldPath(path, "requested_server_name"), notes);
      if (!m.ok()) return m.status();
      out.kind = Kind::RequestedServerName;
      out.string_match = std::move(*m);
      return out;
    }
    default:
      return error(path, "needs a rule");
  }
}

absl::StatusOr<config::RbacMatch> cidrPrincipal(const envoy::config::core::v3::CidrRange& r,
                                                const std::string& path, Kind kind,
                                                TranslateNotes* notes) {
  auto c = translateCidr(r, path, notes);
  if (!c.ok()) return c.status();
  config::RbacMatch out;
  out.kind = kind;
  out.cidr = *c;
  return out;
}

absl::StatusOr<config::RbacMatch> translatePrincipal(const Principal& p, const std::string& path,
                                                     Layer layer, TranslateNotes* notes) {
  if (layer == Layer::Network) {
    if (p.has_header()) return httpOnly(path, "header");
    if (p.has_url_path()) return httpOnly(path, "url_path");
  }
  // metadata and filter_state are refused here.
  if (auto s = checkFields(p, path,
                           {"and_ids", "or_ids", "any", "authenticated", "source_ip",
                            "direct_remote_ip", "remote_ip", "header", "url_path", "not_id"},
                           {}, notes);
      !s.ok()) {
    return s;
  }
  auto each = [&](const Principal& child, const std::string& cpath) {
    return translatePrincipal(child, cpath, layer, notes);
  };
  config::RbacMatch out;
  switch (p.identifier_case()) {
    case Principal::kAndIds:
      return translateSet(p.and_ids(), p.and_ids().ids(), "ids", fieldPath(path, "and_ids"),
                          Kind::And, each, notes);
    case Principal::kOrIds:
      return translateSet(p.or_ids(), p.or_ids().ids(), "ids", fieldPath(path, "or_ids"), Kind::Or,
                          each, notes);
    case Principal::kAny:
      if (!p.any()) return error(fieldPath(path, "any"), "must be true");
      out.kind = Kind::Any;
      return out;
    case Principal::kAuthenticated: {
      std::string apath = fieldPath(path, "authenticated");
      if (auto s = checkFields(p.authenticated(), apath, {"principal_name"}, {}, notes); !s.ok())
        return s;
      out.kind = Kind::Authenticated;
      if (p.authenticated().has_principal_name()) {
        auto m = translateStringMatcher(p.authenticated().principal_name(),
                                        fieldPath(apath, "principal_name"), notes);
        if (!m.ok()) return m.status();
        out.principal_name = std::move(*m);
      }
      return out;
    }
    case Principal::kSourceIp:
      return cidrPrincipal(p.source_ip(), fieldPath(path, "source_ip"), Kind::SourceIp, notes);
    case Principal::kDirectRemoteIp:
      return cidrPrincipal(p.direct_remote_ip(), fieldPath(path, "direct_remote_ip"),
                           Kind::DirectRemoteIp, notes);
    case Principal::kRemoteIp:
      return cidrPrincipal(p.remote_ip(), fieldPath(path, "remote_ip"), Kind::RemoteIp, notes);
    case Principal::kHeader: {
      auto h = translateHeaderMatcher(p.header(), fieldPath(path, "header"), notes);
      if (!h.ok()) return h.status();
      out.kind = Kind::Header;
      out.header = std::move(*h);
      return out;
    }
    case Principal::kUrlPath: {
      auto m = translatePathMatcher(p.url_path(), fieldPath(path, "url_path"), notes);
      if (!m.ok()) return m.status();
      out.kind = Kind::UrlPath;
      out.string_match = std::move(*m);
      return out;
    }
    case Principal::kNotId: {
      auto m = translatePrincipal(p.not_id(), fieldPath(path, "not_id"), layer, notes);
      if (!m.ok()) return m.status();
      out.kind = Kind::Not;
      out.children.push_back(std::move(*m));
      return out;
    }
    default:
      return error(path, "needs an identifier");
  }
}

absl::StatusOr<config::RbacPolicy> translatePolicy(const std::string& name, const Policy& p,
                                                   const std::string& path, Layer layer,
                                                   TranslateNotes* notes) {
  // condition and checked_condition (CEL) are refused here.
  if (auto s = checkFields(p, path, {"permissions", "principals"}, {}, notes); !s.ok()) return s;
  if (p.permissions().empty()) {
    return error(fieldPath(path, "permissions"), "needs at least one permission");
  }
  if (p.principals().empty()) {
    return error(fieldPath(path, "principals"), "needs at least one principal");
  }
  config::RbacPolicy out;
  out.name = name;
  for (int i = 0; i < p.permissions_size(); ++i) {
    auto m = translatePermission(
        p.permissions(i), indexPath(path, "permissions", static_cast<size_t>(i)), layer, notes);
    if (!m.ok()) return m.status();
    out.permissions.push_back(std::move(*m));
  }
  for (int i = 0; i < p.principals_size(); ++i) {
    auto m = translatePrincipal(
        p.principals(i), indexPath(path, "principals", static_cast<size_t>(i)), layer, notes);
    if (!m.ok()) return m.status();
    out.principals.push_back(std::move(*m));
  }
  return out;
}

absl::StatusOr<config::RbacRules> translateRules(const RbacProto& r, const std::string& path,
                                                 Layer layer, TranslateNotes* notes) {
  // Audit loggers only report decisions (and Envoy marks them not implemented).
  if (auto s = checkFields(r, path, {"action", "policies"}, {"audit_logging_options"}, notes);
      !s.ok()) {
    return s;
  }
  config::RbacRules out;
  switch (r.action()) {
    case RbacProto::ALLOW:
      out.action = config::RbacRules::Action::Allow;
      break;
    case RbacProto::DENY:
      out.action = config::RbacRules::Action::Deny;
      break;
    case RbacProto::LOG:
      out.action = config::RbacRules::Action::Log;
      break;
    default:
      return error(fieldPath(path, "action"), cat("unknown value ", static_cast<int>(r.action())));
  }
  // A protobuf map has no order; Envoy evaluates policies by name, and so does remora.
  std::vector<const std::string*> names;
  for (const auto& [name, policy] : r.policies()) names.push_back(&name);
  std::sort(names.begin(), names.end(), [](const auto* a, const auto* b) { return *a < *b; });
  for (const std::string* name : names) {
    auto p = translatePolicy(*name, r.policies().at(*name),
                             cat(fieldPath(path, "policies"), "['", *name, "']"), layer, notes);
    if (!p.ok()) return p.status();
    out.policies.push_back(std::move(*p));
  }
  return out;
}

absl::Status translateBoth(const RbacProto* rules, const RbacProto* shadow, const std::string& path,
                           Layer layer, config::RbacFilterConfig* out, TranslateNotes* notes) {
  if (rules != nullptr) {
    auto r = translateRules(*rules, fieldPath(path, "rules"), layer, notes);
    if (!r.ok()) return r.status();
    out->rules = std::move(*r);
  }
  if (shadow != nullptr) {
    auto r = translateRules(*shadow, fieldPath(path, "shadow_rules"), layer, notes);
    if (!r.ok()) return r.status();
    out->shadow_rules = std::move(*r);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<config::RbacFilterConfig> translateHttpRbac(const HttpRbacProto& rbac,
                                                           const std::string& path,
                                                           TranslateNotes* notes) {
  // matcher and shadow_matcher (match trees) are refused here.
  if (auto s = checkFields(rbac, path,
                           {"rules", "rules_stat_prefix", "shadow_rules",
                            "shadow_rules_stat_prefix", "track_per_rule_stats"},
                           {}, notes);
      !s.ok()) {
    return s;
  }
  config::RbacFilterConfig out;
  out.rules_stat_prefix = rbac.rules_stat_prefix();
  out.shadow_rules_stat_prefix = rbac.shadow_rules_stat_prefix();
  out.track_per_rule_stats = rbac.track_per_rule_stats();
  if (auto s = translateBoth(rbac.has_rules() ? &rbac.rules() : nullptr,
                             rbac.has_shadow_rules() ? &rbac.shadow_rules() : nullptr, path,
                             Layer::Http, &out, notes);
      !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<config::RbacFilterConfig> translateNetworkRbac(const NetworkRbacProto& rbac,
                                                              const std::string& path,
                                                              TranslateNotes* notes) {
  // matcher and shadow_matcher (match trees) are refused here.
  if (auto s = checkFields(
          rbac, path,
          {"stat_prefix", "rules", "shadow_rules", "shadow_rules_stat_prefix", "enforcement_type"},
          {}, notes);
      !s.ok()) {
    return s;
  }
  config::RbacFilterConfig out;
  out.stat_prefix = rbac.stat_prefix();
  if (out.stat_prefix.empty()) return error(fieldPath(path, "stat_prefix"), "must not be empty");
  out.shadow_rules_stat_prefix = rbac.shadow_rules_stat_prefix();
  switch (rbac.enforcement_type()) {
    case NetworkRbacProto::ONE_TIME_ON_FIRST_BYTE:
      break;
    case NetworkRbacProto::CONTINUOUS:
      // Re-checking on every read changes nothing here: what remora matches on (addresses,
      // ports, SNI, the TLS peer) is fixed when the connection is accepted, and the decision
      // is made then. Only Envoy's per-read counting differs.
      if (notes != nullptr) {
        notes->ignored.push_back(
            cat(fieldPath(path, "enforcement_type"), " (CONTINUOUS: decided once, at accept)"));
      }
      break;
    default:
      return error(fieldPath(path, "enforcement_type"),
                   cat("unknown value ", static_cast<int>(rbac.enforcement_type())));
  }
  if (auto s = translateBoth(rbac.has_rules() ? &rbac.rules() : nullptr,
                             rbac.has_shadow_rules() ? &rbac.shadow_rules() : nullptr, path,
                             Layer::Network, &out, notes);
      !s.ok()) {
    return s;
  }
  return out;
}

}  // namespace remora::xds

#pragma GCC diagnostic pop
