// Filter chain selection.
#include "proxy/server/filter_chain_match.h"

#include <algorithm>
#include <map>

#include "proxy/common/strings.h"

namespace remora::server {
namespace {

using config::FilterChainMatch;
using Candidates = std::vector<int>;

// Keeps the candidates for which `score` is highest among those with a positive score; if
// none scores, the candidates for which `unset` holds.
template <typename Score, typename Unset>
Candidates narrow(const std::vector<FilterChainMatch>& chains, const Candidates& in, Score score,
                  Unset unset) {
  int best = 0;
  for (int i : in) best = std::max(best, score(chains[i]));
  Candidates out;
  for (int i : in) {
    if (best > 0 ? score(chains[i]) == best : unset(chains[i])) out.push_back(i);
  }
  return out;
}

// 1 + the longest prefix among `ranges` containing `ip`, 0 if none does.
int prefixScore(const std::vector<net::Cidr>& ranges, const net::Address& ip) {
  int best = 0;
  for (const auto& c : ranges) {
    if (c.contains(ip)) best = std::max(best, c.prefixLength() + 1);
  }
  return best;
}

// Exact names beat wildcards ("*.example.com"), longer wildcards beat shorter ones.
int serverNameScore(const std::vector<std::string>& names, std::string_view sni) {
  if (sni.empty()) return 0;
  int best = 0;
  for (const auto& n : names) {
    if (n == sni) return 1 << 20;
    if (n.starts_with("*") && sni.size() > n.size() - 1 &&
        sni.ends_with(std::string_view(n).substr(1))) {
      best = std::max(best, static_cast<int>(n.size()));
    }
  }
  return best;
}

bool isLocalSource(const MatchInput& in) {
  return in.source.isLoopback() || in.source.sameIp(in.destination);
}

}  // namespace

int selectFilterChain(const std::vector<FilterChainMatch>& chains, const MatchInput& in) {
  Candidates c;
  for (int i = 0; i < static_cast<int>(chains.size()); ++i) c.push_back(i);
  uint16_t dport = in.destination.port();
  c = narrow(
      chains, c, [&](const FilterChainMatch& m) { return m.destination_port == dport ? 1 : 0; },
      [](const FilterChainMatch& m) { return !m.destination_port.has_value(); });
  c = narrow(
      chains, c,
      [&](const FilterChainMatch& m) { return prefixScore(m.prefix_ranges, in.destination); },
      [](const FilterChainMatch& m) { return m.prefix_ranges.empty(); });
  c = narrow(
      chains, c,
      [&](const FilterChainMatch& m) { return serverNameScore(m.server_names, in.server_name); },
      [](const FilterChainMatch& m) { return m.server_names.empty(); });
  c = narrow(
      chains, c,
      [&](const FilterChainMatch& m) {
        return m.transport_protocol == in.transport_protocol ? 1 : 0;
      },
      [](const FilterChainMatch& m) { return m.transport_protocol.empty(); });
  c = narrow(
      chains, c,
      [&](const FilterChainMatch& m) {
        for (const auto& p : m.application_protocols) {
          for (std::string_view a : in.application_protocols) {
            if (p == a) return 1;
          }
        }
        return 0;
      },
      [](const FilterChainMatch& m) { return m.application_protocols.empty(); });
  c = narrow(
      chains, c,
      [&](const FilterChainMatch& m) {
        return prefixScore(m.direct_source_prefix_ranges, in.direct_source);
      },
      [](const FilterChainMatch& m) { return m.direct_source_prefix_ranges.empty(); });
  FilterChainMatch::SourceType type = isLocalSource(in) ? FilterChainMatch::SourceType::Local
                                                        : FilterChainMatch::SourceType::External;
  c = narrow(
      chains, c, [&](const FilterChainMatch& m) { return m.source_type == type ? 1 : 0; },
      [](const FilterChainMatch& m) { return m.source_type == FilterChainMatch::SourceType::Any; });
  c = narrow(
      chains, c,
      [&](const FilterChainMatch& m) { return prefixScore(m.source_prefix_ranges, in.source); },
      [](const FilterChainMatch& m) { return m.source_prefix_ranges.empty(); });
  uint16_t sport = in.source.port();
  c = narrow(
      chains, c,
      [&](const FilterChainMatch& m) {
        return std::find(m.source_ports.begin(), m.source_ports.end(), sport) !=
                       m.source_ports.end()
                   ? 1
                   : 0;
      },
      [](const FilterChainMatch& m) { return m.source_ports.empty(); });
  return c.empty() ? -1 : c.front();
}

absl::Status checkDistinctMatches(const std::vector<FilterChainMatch>& chains) {
  // Envoy's rule: expand every list into single values; two chains that share a combination
  // would both match the same connection at the same specificity.
  // Bounded across the whole listener: the check must not cost more memory than the config.
  constexpr size_t kMaxCombinations = 200000;
  size_t listener_total = 0;
  std::map<std::string, size_t> seen;
  auto orEmpty = [](auto values) {
    std::vector<std::string> out;
    for (const auto& v : values) out.push_back(v);
    if (out.empty()) out.push_back("");
    return out;
  };
  auto cidrs = [](const std::vector<net::Cidr>& v) {
    std::vector<std::string> out;
    for (const auto& c : v) out.push_back(c.toString());
    return out;
  };
  for (size_t i = 0; i < chains.size(); ++i) {
    const FilterChainMatch& m = chains[i];
    std::vector<std::string> ports;
    for (uint16_t p : m.source_ports) ports.push_back(cat(p));
    std::vector<std::vector<std::string>> dims = {
        {m.destination_port ? cat(*m.destination_port) : std::string()},
        orEmpty(cidrs(m.prefix_ranges)),
        orEmpty(m.server_names),
        {m.transport_protocol},
        orEmpty(m.application_protocols),
        orEmpty(cidrs(m.direct_source_prefix_ranges)),
        {cat(static_cast<int>(m.source_type))},
        orEmpty(cidrs(m.source_prefix_ranges)),
        orEmpty(ports)};
    size_t total = 1;
    for (const auto& d : dims) {
      total *= d.size();
      if (total > kMaxCombinations) break;  // (and no overflow)
    }
    listener_total += total;
    if (total > kMaxCombinations || listener_total > kMaxCombinations) {
      return absl::InvalidArgumentError(
          cat("filter_chains[", i, "].filter_chain_match: the listener's chains have more than ",
              kMaxCombinations, " combinations of match values"));
    }
    std::vector<size_t> idx(dims.size(), 0);
    for (size_t n = 0; n < total; ++n) {
      std::string key;
      for (size_t d = 0; d < dims.size(); ++d) append(&key, dims[d][idx[d]], "\x1f");
      auto [it, inserted] = seen.emplace(key, i);
      if (!inserted && it->second != i) {
        return absl::InvalidArgumentError(
            cat("filter_chains[", i, "]: overlaps filter_chains[", it->second,
                "] (both match the same connections): filter_chain_match must tell chains apart"));
      }
      for (size_t d = dims.size(); d-- > 0;) {
        if (++idx[d] < dims[d].size()) break;
        idx[d] = 0;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace remora::server
