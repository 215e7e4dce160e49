// remora's model of Envoy's role-based access control (envoy.config.rbac.v3.RBAC) as the HTTP
// and network RBAC filters carry it. Translated and validated by xds/translate/rbac.cc; compiled
// into a matching engine by filters/common/rbac/engine.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proxy/config/matcher_config.h"
#include "proxy/net/address.h"

namespace remora::config {

// One node of a Permission or Principal tree. The two protos share their combinators and
// their HTTP leaves, so one type serves both; the translator only builds, on each side, the
// kinds Envoy allows there.
struct RbacMatch {
  enum class Kind {
    Any,
    And,      // and_rules / and_ids: every child matches
    Or,       // or_rules / or_ids: some child matches
    Not,      // not_rule / not_id: the one child does not match
    Header,   // `header` against the request (HTTP only)
    UrlPath,  // `string_match` against :path without query and fragment (HTTP only)
    // Permissions.
    DestinationIp,        // `cidr` contains the downstream local (original destination) address
    DestinationPort,      // port_start <= local port < port_end (destination_port: one port)
    RequestedServerName,  // `string_match` against the SNI ("" when there is none)
    // Principals.
    Authenticated,   // a verified peer certificate; with principal_name, one of its URI SANs,
                     // then DNS SANs, then its subject matches
    DirectRemoteIp,  // `cidr` contains the physical peer address
    RemoteIp,        // `cidr` contains Envoy's downstream remote address (HTTP: x-forwarded-for
                     // per the connection manager's use_remote_address / xff_num_trusted_hops)
    SourceIp,        // deprecated source_ip: the connection's peer address
  };
  Kind kind = Kind::Any;
  std::vector<RbacMatch> children;  // And, Or (at least one); Not (exactly one)
  HeaderMatch header;
  StringMatch string_match;
  std::optional<StringMatch> principal_name;  // Authenticated
  net::Cidr cidr;
  uint32_t port_start = 0, port_end = 0;  // DestinationPort: [start, end)
  bool operator==(const RbacMatch&) const = default;
};

// envoy.config.rbac.v3.Policy: matches when some permission and some principal match.
struct RbacPolicy {
  std::string name;
  std::vector<RbacMatch> permissions;
  std::vector<RbacMatch> principals;
  bool operator==(const RbacPolicy&) const = default;
};

// envoy.config.rbac.v3.RBAC.
struct RbacRules {
  enum class Action {
    Allow,  // allowed iff some policy matches (no policies: everything is denied)
    Deny,   // denied iff some policy matches
    Log,    // always allowed
  };
  Action action = Action::Allow;
  std::vector<RbacPolicy> policies;  // sorted by name: Envoy evaluates them in that order
  bool operator==(const RbacRules&) const = default;
};

// The HTTP filter (envoy.extensions.filters.http.rbac.v3.RBAC) and the network filter
// (envoy.extensions.filters.network.rbac.v3.RBAC).
struct RbacFilterConfig {
  std::optional<RbacRules> rules;         // absent: nothing is enforced
  std::optional<RbacRules> shadow_rules;  // evaluated and counted, never enforced
  std::string stat_prefix;                // network: "<stat_prefix>.rbac." (HTTP: the manager's)
  std::string rules_stat_prefix;          // HTTP: "http.<manager>.rbac.<rules_stat_prefix>."
  std::string shadow_rules_stat_prefix;   // "...rbac.<shadow_rules_stat_prefix>."
  bool track_per_rule_stats = false;      // HTTP: per-policy counters
  bool operator==(const RbacFilterConfig&) const = default;
};

}  // namespace remora::config
