// Command-line options of the `remora` binary.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/common/log.h"
#include "proxy/config/config.h"
#include "proxy/net/address.h"

namespace remora::server {

struct Options {
  uint32_t concurrency = 0;  // 0: CPUs available to this process (affinity and cgroup quota)
  std::string bind_ip = "0.0.0.0";
  uint16_t outbound_port = 15001;  // 0 disables the listener
  uint16_t inbound_port = 15006;
  std::string inbound_forward_ip = "127.0.0.1";
  std::string inbound_source_ip = "127.0.0.6";
  std::optional<net::Address> admin_address;       // 127.0.0.1:15000
  std::optional<net::Address> prometheus_address;  // 0.0.0.0:15090
  std::optional<net::Address> health_address;      // 0.0.0.0:15021
  std::string admin_address_path;  // write the admin's bound address here (for port 0)
  config::Duration connect_timeout{std::chrono::seconds(5)};
  config::Duration idle_timeout{std::chrono::hours(1)};
  config::Duration drain_timeout{std::chrono::seconds(5)};
  // How long connections of a replaced or removed listener may go on (Envoy's drain time).
  config::Duration listener_drain_time{std::chrono::seconds(600)};
  // At most this long between an access log line and its write (Envoy's
  // --file-flush-interval-msec, whose default is 10 s: a sidecar's log is read live).
  config::Duration file_flush_interval{std::chrono::seconds(1)};
  uint32_t buffer_limit_bytes = 1024 * 1024;
  log::Level log_level = log::Level::Info;
  // Workload identity from the control plane's CA (Istio's CreateCertificate): the secrets
  // "default" (certificate) and "ROOTCA" (trust bundle) for TLS contexts that name them.
  std::string ca_address;           // empty: no identity provider
  std::string identity_token_file;  // the bearer token (a Kubernetes service-account token)
  std::string trust_domain = "cluster.local";
  std::string pod_namespace = "default";
  std::string service_account = "default";
  config::Duration cert_ttl{0};  // 0: the CA's default
  // TLS to the CA: the PEM roots that verify remora-control's certificate (re-read when they
  // change), and the name it must carry (default: the host in ca_address). Empty: plaintext.
  std::string ca_root_cert;
  std::string ca_server_name;
  std::string bootstrap_path;  // Envoy bootstrap (YAML/JSON); replaces the built-in listeners
  std::string resources_path;  // --mode validate: a file of resources or DiscoveryResponses
  bool validate = false;       // --mode validate
  bool help = false;
  bool version = false;
};

// Parses argv; errors name the flag and the value.
absl::StatusOr<Options> parseOptions(int argc, const char* const* argv);
std::string usage();

// "250ms", "5s", "2m", "1h", or a bare number of seconds.
absl::StatusOr<config::Duration> parseDuration(std::string_view text);

// CPUs this process may use: sched_getaffinity, capped by the cgroup v2 cpu.max quota.
uint32_t availableCpus();

// The listeners and clusters of a sidecar before any xDS exists: 15001 passes outbound
// connections to their original destination, 15006 forwards inbound ones to the app on
// inbound_forward_ip:<original port> from inbound_source_ip.
absl::StatusOr<config::ProxyConfig> defaultConfig(const Options& options);

}  // namespace remora::server
