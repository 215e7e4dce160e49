// SPIFFE workload identities: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace remora::certs {

struct SpiffeId {
  std::string trust_domain;
  std::string ns;
  std::string service_account;

  std::string uri() const;
  bool operator==(const SpiffeId&) const = default;
};

// Parses a Kubernetes-style SPIFFE ID; rejects other path shapes, empty segments, upper-case
// or invalid trust-domain characters (SPIFFE ID spec, section 2), ports and query strings.
absl::StatusOr<SpiffeId> parseSpiffeId(std::string_view uri);

}  // namespace remora::certs
