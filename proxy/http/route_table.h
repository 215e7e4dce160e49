// The compiled route table: a RouteConfiguration (config::RouteTableConfig) turned into an
// immutable structure that every worker reads without locks. It selects the virtual host by
// :authority and the route by Envoy's rules, and computes what a route does to a request:
// the cluster (weighted picks), path and host rewrites, redirect locations and header
// mutations, all with Envoy's semantics (the .cc cites them).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "proxy/config/http_config.h"
#include "proxy/http/headers.h"

namespace re2 {
class RE2;
}

namespace remora::http {

class RouteTable;
class VirtualHost;

// A compiled envoy.type.matcher.v3.StringMatcher (regexes: RE2, full match).
class StringMatcher {
 public:
  static absl::StatusOr<StringMatcher> create(const config::StringMatch& config);
  bool match(std::string_view value) const;

 private:
  config::StringMatch config_;
  std::shared_ptr<const re2::RE2> regex_;  // shared: the matcher is copied into its route
};

// A compiled envoy.config.route.v3.HeaderMatcher with Envoy's HeaderUtility::matchHeaders
// semantics (pseudo-headers by name, several values joined with ','); routes and RBAC use it.
class HeaderMatcher {
 public:
  static absl::StatusOr<HeaderMatcher> create(const config::HeaderMatch& config);
  // `joined` is scratch space, used only when the header has several values.
  bool match(const RequestHeaders& request, std::string& joined) const;
  const config::HeaderMatch& config() const { return config_; }

 private:
  config::HeaderMatch config_;
  std::optional<StringMatcher> string_;
};

class Route {
 public:
  const config::RouteConfigEntry& config() const { return *config_; }
  const VirtualHost& virtualHost() const { return *vhost_; }

  // Whether the request matches this route (`path` without query and fragment).
  bool matches(const RequestHeaders& request, std::string_view path) const;

  // Weighted clusters: the pick for `random` (Envoy: random % total weight, walking the list
  // in order). nullptr when the route has no weighted clusters.
  const config::RouteWeightedCluster* pickCluster(uint64_t random) const;
  // The upstream cluster's name: the configured one, the weighted pick, or the value of
  // cluster_header (empty when the header is absent: Envoy answers "cluster not found").
  std::string_view clusterName(const RequestHeaders& request, uint64_t random) const;

  // The :path after prefix_rewrite / regex_rewrite (query kept), or "" when the route does not
  // rewrite (or the regex rewrite produced nothing, which Envoy treats the same way).
  std::string rewritePath(const RequestHeaders& request) const;
  // The :authority after host_rewrite_literal / host_rewrite_header / host_rewrite_path_regex;
  // nullopt for none. auto_host_rewrite needs the upstream host: see autoHostRewrite().
  std::optional<std::string> rewriteHost(const RequestHeaders& request) const;
  bool autoHostRewrite() const { return config_->route.auto_host_rewrite; }

  // Redirect routes: the Location header. `https_downstream` stands in for :scheme and
  // x-forwarded-proto when the request has neither.
  std::string redirectLocation(const RequestHeaders& request, bool https_downstream) const;

  // Header mutations in Envoy's order: the picked weighted cluster's first, then the route's,
  // the virtual host's and the route configuration's (the reverse of the last three with
  // most_specific_header_mutations_wins); later ones win on overwrites.
  void applyRequestHeaders(RequestHeaders& request,
                           const config::RouteWeightedCluster* picked = nullptr) const;
  void applyResponseHeaders(ResponseHeaders& response,
                            const config::RouteWeightedCluster* picked = nullptr) const;

  // Everything the router does to a request it forwards, in Envoy's order: header mutations,
  // then the host rewrite, then the path rewrite (the old path goes to x-envoy-original-path
  // when `keep_original_path`).
  void finalizeRequest(RequestHeaders& request, const config::RouteWeightedCluster* picked,
                       bool keep_original_path) const;

 private:
  friend class RouteTable;
  struct QueryMatcher {
    const config::QueryParamMatch* config;
    std::optional<StringMatcher> string;
  };

  static std::string rewriteByPrefixOrRegex(std::string_view path, std::string_view matched,
                                            std::string_view prefix, const re2::RE2* regex,
                                            std::string_view substitution);
  std::string_view matchedPath(std::string_view path_only) const;
  static void mutate(HeaderMap& headers, const std::vector<std::string>& remove,
                     const std::vector<config::HeaderToAdd>& add);

  const config::RouteConfigEntry* config_ = nullptr;
  const VirtualHost* vhost_ = nullptr;
  const RouteTable* table_ = nullptr;
  std::shared_ptr<const re2::RE2> path_regex_;
  std::vector<HeaderMatcher> headers_;
  std::vector<QueryMatcher> query_;
  uint64_t total_weight_ = 0;
  std::shared_ptr<const re2::RE2> regex_rewrite_;       // route or redirect regex_rewrite
  std::shared_ptr<const re2::RE2> host_rewrite_regex_;  // host_rewrite_path_regex
};

class VirtualHost {
 public:
  const config::VirtualHostConfig& config() const { return *config_; }
  // The first route that matches, or nullptr.
  const Route* route(const RequestHeaders& request) const;

 private:
  friend class RouteTable;
  const config::VirtualHostConfig* config_ = nullptr;
  std::vector<std::unique_ptr<Route>> routes_;
};

class RouteTable {
 public:
  static absl::StatusOr<std::shared_ptr<const RouteTable>> create(
      const config::RouteTableConfig& config);

  const config::RouteTableConfig& config() const { return config_; }

  // Envoy's precedence: exact domain, the longest suffix wildcard ("*.foo.com",
  // "*-bar.foo.com"), the longest prefix wildcard ("foo.*"), then "*". Case-insensitive; the
  // port is part of the authority unless ignore_port_in_host_matching. nullptr: no match.
  const VirtualHost* virtualHost(std::string_view authority) const;
  // The virtual host for the request's :authority, then its first matching route.
  const Route* route(const RequestHeaders& request) const;

  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

 private:
  RouteTable() = default;
  using DomainMap = absl::flat_hash_map<std::string, const VirtualHost*>;

  config::RouteTableConfig config_;
  std::vector<std::unique_ptr<VirtualHost>> vhosts_;
  DomainMap exact_;
  // Wildcards by the length of their literal part, longest first.
  std::map<size_t, DomainMap, std::greater<>> suffixes_;  // "*.foo.com" -> ".foo.com"
  std::map<size_t, DomainMap, std::greater<>> prefixes_;  // "foo.*" -> "foo."
  const VirtualHost* default_ = nullptr;                  // "*"
};

}  // namespace remora::http
