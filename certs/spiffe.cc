// Parsing and formatting of SPIFFE IDs as the mesh uses them.
#include "certs/spiffe.h"

#include <vector>

#include "absl/status/status.h"
#include "proxy/common/strings.h"

namespace remora::certs {
namespace {

constexpr std::string_view kScheme = "spiffe://";

bool validTrustDomainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

bool validPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

}  // namespace

std::string SpiffeId::uri() const {
  return cat(kScheme, trust_domain, "/ns/", ns, "/sa/", service_account);
}

absl::StatusOr<SpiffeId> parseSpiffeId(std::string_view uri) {
  if (uri.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError(cat("SPIFFE ID '", uri, "' must start with spiffe://"));
  }
  std::string_view rest = uri.substr(kScheme.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return absl::InvalidArgumentError(cat("SPIFFE ID '", uri, "' has no path"));
  }
  std::string_view td = rest.substr(0, slash);
  if (td.empty()) {
    return absl::InvalidArgumentError(cat("SPIFFE ID '", uri, "' has an empty trust domain"));
  }
  for (char c : td) {
    if (!validTrustDomainChar(c)) {
      return absl::InvalidArgumentError(
          cat("SPIFFE ID '", uri, "': invalid character in trust domain '", td, "'"));
    }
  }
  std::vector<std::string_view> parts = split(rest.substr(slash + 1), '/');
  if (parts.size() != 4 || parts[0] != "ns" || parts[2] != "sa") {
    return absl::InvalidArgumentError(
        cat("SPIFFE ID '", uri, "' is not of the form spiffe://<td>/ns/<ns>/sa/<sa>"));
  }
  for (std::string_view seg : {parts[1], parts[3]}) {
    if (seg.empty() || seg == "." || seg == "..") {
      return absl::InvalidArgumentError(cat("SPIFFE ID '", uri, "' has an invalid path segment"));
    }
    for (char c : seg) {
      if (!validPathChar(c)) {
        return absl::InvalidArgumentError(
            cat("SPIFFE ID '", uri, "': invalid character in path segment '", seg, "'"));
      }
    }
  }
  return SpiffeId{std::string(td), std::string(parts[1]), std::string(parts[3])};
}

}  // namespace remora::certs
