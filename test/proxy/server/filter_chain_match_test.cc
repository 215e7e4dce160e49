// Filter chain selection in Envoy's order, and the distinctness check.
#include "proxy/server/filter_chain_match.h"

#include <catch2/catch.hpp>

namespace remora::server {
namespace {

using config::FilterChainMatch;

net::Cidr cidr(const char* s) { return *net::Cidr::parse(s); }

MatchInput to(const char* dst, const char* src = "192.0.2.9:40000") {
  MatchInput in;
  in.destination = *net::Address::parse(dst);
  in.source = *net::Address::parse(src);
  in.direct_source = in.source;
  return in;
}

TEST_CASE("destination port first, then the most specific destination prefix", "[filter_chain]") {
  std::vector<FilterChainMatch> chains(4);
  chains[0].destination_port = 8080;
  chains[1].destination_port = 8080;
  chains[1].prefix_ranges = {cidr("10.0.0.0/8")};
  chains[2].destination_port = 8080;
  chains[2].prefix_ranges = {cidr("10.1.0.0/16")};
  chains[3].prefix_ranges = {cidr("10.1.2.3/32")};  // any port
  CHECK(selectFilterChain(chains, to("10.1.2.3:8080")) == 2);
  CHECK(selectFilterChain(chains, to("10.9.0.1:8080")) == 1);
  CHECK(selectFilterChain(chains, to("192.0.2.1:8080")) == 0);
  // Port 9090 has no chain of its own: only port-less chains remain, and 3 needs 10.1.2.3.
  CHECK(selectFilterChain(chains, to("10.1.2.3:9090")) == 3);
  CHECK(selectFilterChain(chains, to("10.1.2.4:9090")) == -1);
}

TEST_CASE("no backtracking: a port match that fails later does not fall back", "[filter_chain]") {
  std::vector<FilterChainMatch> chains(2);
  chains[0].destination_port = 8080;
  chains[0].prefix_ranges = {cidr("10.0.0.0/8")};
  chains[1].prefix_ranges = {cidr("192.0.2.0/24")};
  // Port 8080 selects chain 0's branch; its prefix does not match; chain 1 is not considered.
  CHECK(selectFilterChain(chains, to("192.0.2.1:8080")) == -1);
  CHECK(selectFilterChain(chains, to("192.0.2.1:8081")) == 1);
}

TEST_CASE("without inspection there is no SNI or ALPN and the transport is raw_buffer",
          "[filter_chain]") {
  std::vector<FilterChainMatch> chains(3);
  chains[0].server_names = {"example.com"};
  chains[1].transport_protocol = "tls";
  chains[2].transport_protocol = "raw_buffer";
  CHECK(selectFilterChain(chains, to("192.0.2.1:80")) == 2);
  MatchInput tls = to("192.0.2.1:443");
  tls.server_name = "example.com";
  tls.transport_protocol = "tls";
  CHECK(selectFilterChain(chains, tls) == 0);
  std::vector<FilterChainMatch> wild(2);
  wild[0].server_names = {"*.example.com"};
  wild[1].server_names = {"*.b.example.com"};
  tls.server_name = "a.b.example.com";
  CHECK(selectFilterChain(wild, tls) == 1);
  tls.server_name = "c.example.com";
  CHECK(selectFilterChain(wild, tls) == 0);
}

TEST_CASE("source type, source prefix and source port", "[filter_chain]") {
  std::vector<FilterChainMatch> chains(4);
  chains[0].source_type = FilterChainMatch::SourceType::Local;
  chains[1].source_prefix_ranges = {cidr("198.51.100.0/24")};
  chains[2].source_prefix_ranges = {cidr("198.51.100.0/24")};
  chains[2].source_ports = {5000};
  chains[3].source_type = FilterChainMatch::SourceType::Any;
  chains[3].source_prefix_ranges = {cidr("203.0.113.0/24")};
  CHECK(selectFilterChain(chains, to("192.0.2.1:80", "127.0.0.6:1234")) == 0);
  CHECK(selectFilterChain(chains, to("192.0.2.1:80", "198.51.100.7:5000")) == 2);
  CHECK(selectFilterChain(chains, to("192.0.2.1:80", "198.51.100.7:5001")) == 1);
  CHECK(selectFilterChain(chains, to("192.0.2.1:80", "203.0.113.1:1")) == 3);
  CHECK(selectFilterChain(chains, to("192.0.2.1:80", "192.0.2.200:1")) == -1);
}

TEST_CASE("chains that match the same connections are rejected", "[filter_chain]") {
  std::vector<FilterChainMatch> same(2);
  same[0].destination_port = 80;
  same[1].destination_port = 80;
  CHECK_FALSE(checkDistinctMatches(same).ok());
  std::vector<FilterChainMatch> overlap(2);
  overlap[0].prefix_ranges = {cidr("10.0.0.0/8"), cidr("192.0.2.0/24")};
  overlap[1].prefix_ranges = {cidr("192.0.2.0/24")};
  auto st = checkDistinctMatches(overlap);
  REQUIRE_FALSE(st.ok());
  CHECK(std::string(st.message()) ==
        "filter_chains[1]: overlaps filter_chains[0] (both match the same connections): "
        "filter_chain_match must tell chains apart");
  std::vector<FilterChainMatch> fine(3);
  fine[0].destination_port = 80;
  fine[1].destination_port = 443;
  fine[2].prefix_ranges = {cidr("10.0.0.0/8")};
  CHECK(checkDistinctMatches(fine).ok());
  std::vector<FilterChainMatch> one_chain_with_dups(1);
  one_chain_with_dups[0].prefix_ranges = {cidr("10.0.0.0/8"), cidr("10.0.0.0/8")};
  CHECK(checkDistinctMatches(one_chain_with_dups).ok());
}

}  // namespace
}  // namespace remora::server

namespace remora::server {
namespace {

TEST_CASE("the distinctness check is bounded across all chains of a listener", "[filter_chain]") {
  // 5,000 chains with 100 source ports each: 500,000 combinations in all.
  std::vector<config::FilterChainMatch> chains(5000);
  for (size_t i = 0; i < chains.size(); ++i) {
    chains[i].destination_port = static_cast<uint16_t>(1 + i);
    for (uint16_t p = 1; p <= 100; ++p) chains[i].source_ports.push_back(p);
  }
  auto st = checkDistinctMatches(chains);
  REQUIRE_FALSE(st.ok());
  CHECK(std::string(st.message()).find("more than 200000 combinations") != std::string::npos);
}

}  // namespace
}  // namespace remora::server
