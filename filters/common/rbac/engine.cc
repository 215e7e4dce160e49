// RBAC matching with Envoy's semantics (source/extensions/filters/common/rbac/matchers.cc and
// engine_impl.cc are the references).
#include "filters/common/rbac/engine.h"

#include <algorithm>

#include "proxy/common/strings.h"

namespace remora::filters::rbac {
namespace {

using Kind = config::RbacMatch::Kind;

bool looksAtRemoteIp(const config::RbacMatch& m) {
  if (m.kind == Kind::RemoteIp) return true;
  return std::any_of(m.children.begin(), m.children.end(),
                     [](const config::RbacMatch& c) { return looksAtRemoteIp(c); });
}

// Envoy's PathUtil::removeQueryAndFragment: url_path sees the path only.
std::string_view pathWithoutQuery(std::string_view path) {
  size_t end = path.find_first_of("?#");
  return end == std::string_view::npos ? path : path.substr(0, end);
}

bool inCidr(const net::Cidr& cidr, const net::Address* a) {
  return a != nullptr && a->valid() && cidr.contains(*a);
}

}  // namespace

std::string responseDetail(std::string_view policy_name) {
  // StringUtil::replaceAllEmptySpace: whitespace would split the access log's fields.
  std::string name(policy_name);
  for (char& c : name) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') c = '_';
  }
  return cat("rbac_access_denied_matched_policy[", name, "]");
}

// --- Matcher ---

absl::StatusOr<Matcher> Matcher::create(const config::RbacMatch& config) {
  Matcher m;
  m.kind_ = config.kind;
  for (const auto& c : config.children) {
    auto child = create(c);
    if (!child.ok()) return child.status();
    m.children_.push_back(std::move(*child));
  }
  switch (config.kind) {
    case Kind::And:
    case Kind::Or:
      if (m.children_.empty()) return absl::InvalidArgumentError("an empty rule set");
      break;
    case Kind::Not:
      if (m.children_.size() != 1) return absl::InvalidArgumentError("a negation needs one rule");
      break;
    case Kind::Header: {
      auto h = http::HeaderMatcher::create(config.header);
      if (!h.ok()) return h.status();
      m.header_ = std::move(*h);
      break;
    }
    case Kind::UrlPath:
    case Kind::RequestedServerName: {
      auto s = http::StringMatcher::create(config.string_match);
      if (!s.ok()) return s.status();
      m.string_ = std::move(*s);
      break;
    }
    case Kind::Authenticated:
      if (config.principal_name) {
        auto s = http::StringMatcher::create(*config.principal_name);
        if (!s.ok()) return s.status();
        m.string_ = std::move(*s);
      }
      break;
    case Kind::DestinationIp:
    case Kind::DirectRemoteIp:
    case Kind::RemoteIp:
    case Kind::SourceIp:
      m.cidr_ = config.cidr;
      break;
    case Kind::DestinationPort:
      m.port_start_ = config.port_start;
      m.port_end_ = config.port_end;
      break;
    case Kind::Any:
      break;
  }
  return m;
}

bool Matcher::matches(const Input& in, std::string& scratch) const {
  switch (kind_) {
    case Kind::Any:
      return true;
    case Kind::And:
      for (const auto& c : children_) {
        if (!c.matches(in, scratch)) return false;
      }
      return true;
    case Kind::Or:
      for (const auto& c : children_) {
        if (c.matches(in, scratch)) return true;
      }
      return false;
    case Kind::Not:
      return !children_[0].matches(in, scratch);
    case Kind::Header:
      return in.headers != nullptr && header_->match(*in.headers, scratch);
    case Kind::UrlPath:
      // Envoy: no :path, no match.
      if (in.headers == nullptr || in.headers->path.empty()) return false;
      return string_->match(pathWithoutQuery(in.headers->path));
    case Kind::DestinationIp:
      return inCidr(cidr_, in.local);
    case Kind::DestinationPort: {
      if (in.local == nullptr || !in.local->valid()) return false;
      uint32_t port = in.local->port();
      return port >= port_start_ && port < port_end_;
    }
    case Kind::RequestedServerName:
      return string_->match(in.requested_server_name);
    case Kind::Authenticated: {
      // A plaintext peer, or a TLS peer that presented no certificate, has no identity. (Envoy
      // lets any TLS connection match an authenticated principal without principal_name;
      // remora asks for a verified certificate, which is what such a policy means.)
      if (in.tls == nullptr || !in.tls->peer_certificate_validated) return false;
      if (!string_) return true;
      // Envoy's order: every URI SAN, then every DNS SAN, then the subject.
      for (const auto& uri : in.tls->peer_uri_sans) {
        if (string_->match(uri)) return true;
      }
      for (const auto& dns : in.tls->peer_dns_sans) {
        if (string_->match(dns)) return true;
      }
      return string_->match(in.tls->peer_subject);
    }
    case Kind::DirectRemoteIp:
    case Kind::SourceIp:
      return inCidr(cidr_, in.direct_remote);
    case Kind::RemoteIp:
      return inCidr(cidr_, in.remote);
  }
  return false;
}

// --- Engine ---

absl::StatusOr<Engine> Engine::create(const config::RbacRules& rules) {
  Engine e;
  e.action_ = rules.action;
  e.denied_none_ = responseDetail("none");
  std::vector<const config::RbacPolicy*> sorted;
  for (const auto& p : rules.policies) sorted.push_back(&p);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto* a, const auto* b) { return a->name < b->name; });
  for (const config::RbacPolicy* p : sorted) {
    Policy policy;
    policy.name = p->name;
    policy.denied_details = responseDetail(p->name);
    if (p->permissions.empty() || p->principals.empty()) {
      return absl::InvalidArgumentError(
          cat("policy '", p->name, "': needs at least one permission and one principal"));
    }
    for (const auto& m : p->permissions) {
      auto c = Matcher::create(m);
      if (!c.ok())
        return absl::InvalidArgumentError(cat("policy '", p->name, "': ", c.status().message()));
      policy.permissions.push_back(std::move(*c));
      e.uses_remote_ip_ = e.uses_remote_ip_ || looksAtRemoteIp(m);
    }
    for (const auto& m : p->principals) {
      auto c = Matcher::create(m);
      if (!c.ok())
        return absl::InvalidArgumentError(cat("policy '", p->name, "': ", c.status().message()));
      policy.principals.push_back(std::move(*c));
      e.uses_remote_ip_ = e.uses_remote_ip_ || looksAtRemoteIp(m);
    }
    e.policies_.push_back(std::move(policy));
  }
  return e;
}

Engine::Result Engine::evaluate(const Input& in) const {
  std::string scratch;
  int matched = -1;
  for (size_t i = 0; i < policies_.size() && matched < 0; ++i) {
    const Policy& p = policies_[i];
    bool permitted = std::any_of(p.permissions.begin(), p.permissions.end(),
                                 [&](const Matcher& m) { return m.matches(in, scratch); });
    if (!permitted) continue;
    if (std::any_of(p.principals.begin(), p.principals.end(),
                    [&](const Matcher& m) { return m.matches(in, scratch); })) {
      matched = static_cast<int>(i);
    }
  }
  switch (action_) {
    case config::RbacRules::Action::Allow:
      return {matched >= 0, matched};
    case config::RbacRules::Action::Deny:
      return {matched < 0, matched};
    case config::RbacRules::Action::Log:
      return {true, matched};
  }
  return {false, matched};
}

std::string_view Engine::deniedDetails(int policy) const {
  if (policy < 0 || static_cast<size_t>(policy) >= policies_.size()) return denied_none_;
  return policies_[static_cast<size_t>(policy)].denied_details;
}

}  // namespace remora::filters::rbac
