// What the HTTP and the network RBAC filters share: the enforced and shadow engines of one
// filter's configuration and the counters they move, under Envoy's stat names.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "filters/common/rbac/engine.h"
#include "proxy/config/rbac_config.h"
#include "proxy/stats/stats.h"

namespace remora::filters::rbac {

#define REMORA_RBAC_STATS(COUNTER, GAUGE)                       \
  COUNTER(allowed, "Requests or connections the rules allowed") \
  COUNTER(denied, "Requests or connections the rules denied")
REMORA_STATS_STRUCT(RbacStats, REMORA_RBAC_STATS);

#define REMORA_RBAC_SHADOW_STATS(COUNTER, GAUGE)                            \
  COUNTER(shadow_allowed, "Requests or connections the shadow rules allow") \
  COUNTER(shadow_denied, "Requests or connections the shadow rules would deny")
REMORA_STATS_STRUCT(RbacShadowStats, REMORA_RBAC_SHADOW_STATS);

// Where a filter's counters go. Envoy names them <base>rbac.[<rules_stat_prefix>.]allowed and
// <base>rbac.[<shadow_rules_stat_prefix>.]shadow_allowed, with per-policy ones under
// ...rbac.[<prefix>.]policy.<name>. when track_per_rule_stats is set.
struct StatNames {
  std::string rbac_prefix;  // up to and including "rbac.": "http.ingress.rbac.", "tcp.rbac."
  std::string prom_family;  // "http_rbac" (envoy_http_rbac_allowed), "rbac"
  std::vector<std::pair<std::string, std::string>> labels;
  // Envoy's Prometheus tag for a rules / shadow stat prefix (HTTP: "envoy_rbac_http_prefix");
  // empty: the prefix stays part of the metric name, as Envoy leaves it for the network filter.
  std::string prefix_label;
};

// Envoy's statPrefixJoin: "a" + "b" and "a." + "b" give "a.b"; "" + "b" gives "b".
std::string statPrefixJoin(std::string_view prefix, std::string_view token);

struct Decision {
  bool allowed = true;
  std::string_view details;  // when denied: rbac_access_denied_matched_policy[...]
};

class Authorizer {
 public:
  static absl::StatusOr<std::shared_ptr<const Authorizer>> create(
      const config::RbacFilterConfig& config, const StatNames& names, stats::Store& store,
      size_t workers);

  // Counts the shadow rules' verdict, then decides by the rules (allowed when there are none,
  // uncounted, as in Envoy).
  Decision check(size_t worker, const Input& in) const;

  bool usesRemoteIp() const;
  const Engine* rules() const { return rules_ ? &*rules_ : nullptr; }
  const Engine* shadowRules() const { return shadow_ ? &*shadow_ : nullptr; }

 private:
  std::optional<Engine> rules_;
  std::optional<Engine> shadow_;
  std::shared_ptr<stats::ShardedScope<RbacStats>> stats_;
  std::shared_ptr<stats::ShardedScope<RbacShadowStats>> shadow_stats_;
  // By policy index; empty unless track_per_rule_stats.
  std::vector<std::shared_ptr<stats::ShardedScope<RbacStats>>> policy_stats_;
  std::vector<std::shared_ptr<stats::ShardedScope<RbacShadowStats>>> shadow_policy_stats_;
};

}  // namespace remora::filters::rbac
