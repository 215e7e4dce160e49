// RBAC decisions and their counters.
#include "filters/common/rbac/authorizer.h"

#include "proxy/common/strings.h"

namespace remora::filters::rbac {
namespace {

// A scope prefix always ends in '.'.
std::string scopePrefix(std::string_view base, std::string_view token) {
  std::string p = statPrefixJoin(base, token);
  if (!p.empty() && p.back() != '.') p.push_back('.');
  return p;
}

std::string_view withoutTrailingDot(std::string_view s) {
  while (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return s;
}

// The Prometheus family and labels of counters under `prefix` (a rules or shadow prefix).
std::pair<std::string, std::vector<std::pair<std::string, std::string>>> promName(
    const StatNames& names, std::string_view prefix, std::string_view suffix = {}) {
  std::string family = names.prom_family;
  auto labels = names.labels;
  std::string_view p = withoutTrailingDot(prefix);
  if (!p.empty()) {
    if (names.prefix_label.empty()) {
      family = cat(family, "_", p);
    } else {
      labels.emplace_back(names.prefix_label, std::string(p));
    }
  }
  if (!suffix.empty()) family = cat(family, "_", suffix);
  return {family, labels};
}

}  // namespace

std::string statPrefixJoin(std::string_view prefix, std::string_view token) {
  if (prefix.empty()) return std::string(token);
  if (prefix.back() == '.') return cat(prefix, token);
  return cat(prefix, ".", token);
}

absl::StatusOr<std::shared_ptr<const Authorizer>> Authorizer::create(
    const config::RbacFilterConfig& config, const StatNames& names, stats::Store& store,
    size_t workers) {
  auto a = std::make_shared<Authorizer>();
  if (config.rules) {
    auto e = Engine::create(*config.rules);
    if (!e.ok()) return absl::InvalidArgumentError(cat("rules: ", e.status().message()));
    a->rules_ = std::move(*e);
  }
  if (config.shadow_rules) {
    auto e = Engine::create(*config.shadow_rules);
    if (!e.ok()) return absl::InvalidArgumentError(cat("shadow_rules: ", e.status().message()));
    a->shadow_ = std::move(*e);
  }
  // Envoy creates all four counters whether or not there are rules.
  std::string rules_prefix = scopePrefix(names.rbac_prefix, config.rules_stat_prefix);
  std::string shadow_prefix = scopePrefix(names.rbac_prefix, config.shadow_rules_stat_prefix);
  auto [family, labels] = promName(names, config.rules_stat_prefix);
  a->stats_ = store.shardedScope<RbacStats>(workers, rules_prefix, family, labels);
  auto [sfamily, slabels] = promName(names, config.shadow_rules_stat_prefix);
  a->shadow_stats_ = store.shardedScope<RbacShadowStats>(workers, shadow_prefix, sfamily, slabels);
  if (config.track_per_rule_stats) {
    auto [pfamily, plabels] = promName(names, config.rules_stat_prefix, "policy");
    for (size_t i = 0; a->rules_ && i < a->rules_->policyCount(); ++i) {
      const std::string& name = a->rules_->policyName(i);
      auto l = plabels;
      l.emplace_back("envoy_rbac_policy_name", name);
      a->policy_stats_.push_back(store.shardedScope<RbacStats>(
          workers, cat(rules_prefix, "policy.", name, "."), pfamily, std::move(l)));
    }
    auto [spfamily, splabels] = promName(names, config.shadow_rules_stat_prefix, "policy");
    for (size_t i = 0; a->shadow_ && i < a->shadow_->policyCount(); ++i) {
      const std::string& name = a->shadow_->policyName(i);
      auto l = splabels;
      l.emplace_back("envoy_rbac_policy_name", name);
      a->shadow_policy_stats_.push_back(store.shardedScope<RbacShadowStats>(
          workers, cat(shadow_prefix, "policy.", name, "."), spfamily, std::move(l)));
    }
  }
  return std::shared_ptr<const Authorizer>(std::move(a));
}

Decision Authorizer::check(size_t worker, const Input& in) const {
  if (shadow_) {
    Engine::Result r = shadow_->evaluate(in);
    RbacShadowStats& s = shadow_stats_->shard(worker);
    (r.allowed ? s.shadow_allowed : s.shadow_denied).inc();
    if (r.policy >= 0 && !shadow_policy_stats_.empty()) {
      RbacShadowStats& p = shadow_policy_stats_[static_cast<size_t>(r.policy)]->shard(worker);
      (r.allowed ? p.shadow_allowed : p.shadow_denied).inc();
    }
  }
  if (!rules_) return {};
  Engine::Result r = rules_->evaluate(in);
  RbacStats& s = stats_->shard(worker);
  (r.allowed ? s.allowed : s.denied).inc();
  if (r.policy >= 0 && !policy_stats_.empty()) {
    RbacStats& p = policy_stats_[static_cast<size_t>(r.policy)]->shard(worker);
    (r.allowed ? p.allowed : p.denied).inc();
  }
  if (r.allowed) return {};
  return {false, rules_->deniedDetails(r.policy)};
}

bool Authorizer::usesRemoteIp() const {
  return (rules_ && rules_->usesRemoteIp()) || (shadow_ && shadow_->usesRemoteIp());
}

}  // namespace remora::filters::rbac
