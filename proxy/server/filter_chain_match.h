// Envoy's filter chain selection: the criteria are applied in a fixed order (destination
// port, destination IP, server name, transport protocol, application protocols, direct source
// IP, source type, source IP, source port); at each step the most specific criterion that
// matches wins and chains that leave it unset are the fallback. There is no backtracking: a
// connection that falls through at one step matches nothing (the default chain then applies).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "proxy/config/config.h"
#include "proxy/net/address.h"

namespace remora::server {

struct MatchInput {
  net::Address destination;      // the connection's local address (original one if restored)
  net::Address source;           // the peer
  net::Address direct_source;    // the peer before any PROXY protocol (the same here)
  std::string_view server_name;  // SNI; empty without TLS inspection
  std::string_view transport_protocol = "raw_buffer";
  std::vector<std::string_view> application_protocols;  // ALPN; empty without inspection
};

// Index into `chains` of the selected chain, or -1.
int selectFilterChain(const std::vector<config::FilterChainMatch>& chains, const MatchInput& in);

// Rejects a listener whose chains cannot be told apart (Envoy refuses those too).
absl::Status checkDistinctMatches(const std::vector<config::FilterChainMatch>& chains);

}  // namespace remora::server
