// Envoy's RBAC engine (envoy.config.rbac.v3.RBAC), compiled once from the configuration and
// shared by every stream and connection: policies are checked in name order, a policy matches
// when one of its permissions and one of its principals match. Matching allocates nothing
// except when a header with several values has to be joined (Envoy joins them too).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/config/rbac_config.h"
#include "proxy/http/headers.h"
#include "proxy/http/route_table.h"
#include "proxy/net/address.h"
#include "proxy/net/tls_info.h"

namespace remora::filters::rbac {

// What a decision may look at. The network filter has no request (`headers` is null; its
// configuration has no HTTP matchers: the translator refuses them).
struct Input {
  const net::Address* local = nullptr;          // the original destination (destination_*)
  const net::Address* direct_remote = nullptr;  // the physical peer (direct_remote_ip, source_ip)
  const net::Address* remote = nullptr;         // Envoy's downstream remote address (remote_ip)
  std::string_view requested_server_name;       // SNI; empty when there is none
  const net::TlsInfo* tls = nullptr;            // null: plaintext
  const http::RequestHeaders* headers = nullptr;
};

// One compiled node of a permission or principal tree.
class Matcher {
 public:
  static absl::StatusOr<Matcher> create(const config::RbacMatch& config);
  // `scratch` backs a joined multi-value header.
  bool matches(const Input& in, std::string& scratch) const;

 private:
  config::RbacMatch::Kind kind_ = config::RbacMatch::Kind::Any;
  std::vector<Matcher> children_;
  std::optional<http::StringMatcher> string_;  // url_path, requested_server_name, principal_name
  std::optional<http::HeaderMatcher> header_;
  net::Cidr cidr_;
  uint32_t port_start_ = 0, port_end_ = 0;
};

class Engine {
 public:
  static absl::StatusOr<Engine> create(const config::RbacRules& rules);

  struct Result {
    bool allowed = true;
    int policy = -1;  // the first policy (by name) that matched; -1: none did
  };
  Result evaluate(const Input& in) const;

  config::RbacRules::Action action() const { return action_; }
  size_t policyCount() const { return policies_.size(); }
  const std::string& policyName(size_t i) const { return policies_[i].name; }
  // Envoy's response details for a denial: "rbac_access_denied_matched_policy[<name>]", with
  // whitespace in the name replaced by '_', or "...[none]" for -1. Built once.
  std::string_view deniedDetails(int policy) const;
  // Whether some policy looks at remote_ip (the HTTP filter derives it only then).
  bool usesRemoteIp() const { return uses_remote_ip_; }

 private:
  struct Policy {
    std::string name;
    std::string denied_details;
    std::vector<Matcher> permissions;
    std::vector<Matcher> principals;
  };
  config::RbacRules::Action action_ = config::RbacRules::Action::Allow;
  std::vector<Policy> policies_;
  std::string denied_none_;
  bool uses_remote_ip_ = false;
};

// Envoy's responseDetail(): "rbac_access_denied_matched_policy[<name>]".
std::string responseDetail(std::string_view policy_name);

}  // namespace remora::filters::rbac
