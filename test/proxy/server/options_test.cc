// Command-line parsing and the built-in sidecar configuration.
#include "proxy/server/options.h"

#include <catch2/catch.hpp>

namespace remora::server {
namespace {

absl::StatusOr<Options> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "remora");
  return parseOptions(static_cast<int>(args.size()), args.data());
}

TEST_CASE("defaults are Istio's ports and Envoy's timeouts", "[options]") {
  auto o = parse({});
  REQUIRE(o.ok());
  CHECK(o->outbound_port == 15001);
  CHECK(o->inbound_port == 15006);
  CHECK(o->admin_address->toString() == "127.0.0.1:15000");
  CHECK(o->prometheus_address->toString() == "0.0.0.0:15090");
  CHECK(o->health_address->toString() == "0.0.0.0:15021");
  CHECK(o->concurrency >= 1);
  CHECK(o->concurrency == availableCpus());
  CHECK(o->connect_timeout == std::chrono::seconds(5));
  CHECK(o->file_flush_interval == std::chrono::seconds(1));
}

TEST_CASE("flags in both spellings", "[options]") {
  auto o = parse({"--concurrency", "3", "--drain-timeout=250ms", "--idle-timeout", "2m",
                  "--admin-address", "127.0.0.1:0", "--prometheus-address=", "--buffer-limit",
                  "65536", "--log-level", "debug", "--file-flush-interval", "250ms"});
  REQUIRE(o.ok());
  CHECK(o->concurrency == 3);
  CHECK(o->drain_timeout == std::chrono::milliseconds(250));
  CHECK(o->idle_timeout == std::chrono::minutes(2));
  CHECK(o->admin_address->port() == 0);
  CHECK_FALSE(o->prometheus_address.has_value());
  CHECK(o->buffer_limit_bytes == 65536);
  CHECK(o->log_level == log::Level::Debug);
  CHECK(o->file_flush_interval == std::chrono::milliseconds(250));
}

TEST_CASE("bad values name the flag", "[options]") {
  CHECK(std::string(parse({"--concurrency", "x"}).status().message()) ==
        "--concurrency 'x': expected a number of workers (0 to 256)");
  CHECK(std::string(parse({"--outbound-port", "70000"}).status().message()) ==
        "--outbound-port '70000': not a port number");
  CHECK_FALSE(parse({"--connect-timeout", "0s"}).ok());
  CHECK_FALSE(parse({"--file-flush-interval", "0s"}).ok());
  CHECK_FALSE(parse({"--drain-timeout", "soon"}).ok());
  CHECK_FALSE(parse({"--admin-address", "localhost:15000"}).ok());
  CHECK_FALSE(parse({"--buffer-limit", "12"}).ok());
  CHECK_FALSE(parse({"--bogus", "1"}).ok());
  CHECK_FALSE(parse({"--log-level"}).ok());
}

TEST_CASE("TLS to the CA: --ca-root-cert and --ca-server-name, with what they need", "[options]") {
  auto o = parse({"--ca-address", "remora-control:15010", "--identity-token-file", "/t",
                  "--ca-root-cert", "/roots.pem", "--ca-server-name", "remora-control"});
  REQUIRE(o.ok());
  CHECK(o->ca_root_cert == "/roots.pem");
  CHECK(o->ca_server_name == "remora-control");
  CHECK(parse({"--ca-address", "cp:15010", "--identity-token-file", "/t"})->ca_root_cert.empty());
  CHECK(std::string(parse({"--ca-root-cert", "/roots.pem"}).status().message()) ==
        "--ca-root-cert needs --ca-address");
  CHECK(std::string(
            parse({"--ca-address", "cp:1", "--identity-token-file", "/t", "--ca-server-name", "x"})
                .status()
                .message()) == "--ca-server-name needs --ca-root-cert");
  CHECK(std::string(parse({"--ca-root-cert="}).status().message()) ==
        "--ca-root-cert '': a file name is required");
}

TEST_CASE("durations", "[options]") {
  CHECK(*parseDuration("1.5s") == std::chrono::milliseconds(1500));
  CHECK(*parseDuration("30") == std::chrono::seconds(30));
  CHECK(*parseDuration("1h") == std::chrono::hours(1));
  CHECK_FALSE(parseDuration("-1s").ok());
  CHECK_FALSE(parseDuration("").ok());
}

TEST_CASE("the built-in config mirrors Istio's passthrough listeners", "[options]") {
  auto o = parse({"--inbound-source-ip", "127.0.0.6"});
  REQUIRE(o.ok());
  auto c = defaultConfig(*o);
  REQUIRE(c.ok());
  REQUIRE(c->listeners.size() == 2);
  CHECK(c->listeners[0].address.toString() == "0.0.0.0:15001");
  CHECK(c->listeners[0].filter_chains[0].filters[0].tcp_proxy.cluster == "PassthroughCluster");
  CHECK(c->listeners[1].address.toString() == "0.0.0.0:15006");
  REQUIRE(c->clusters.size() == 2);
  const auto& inbound = c->clusters[1];
  CHECK(inbound.name == "InboundPassthroughCluster");
  CHECK(inbound.original_dst_ip_override->ip() == "127.0.0.1");
  CHECK(inbound.source_address->ip() == "127.0.0.6");
  auto none = parse({"--outbound-port", "0", "--inbound-port", "0"});
  CHECK(defaultConfig(*none)->listeners.empty());
}

}  // namespace
}  // namespace remora::server
