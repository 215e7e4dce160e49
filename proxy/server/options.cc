// Flag parsing and the built-in sidecar configuration.
#include "proxy/server/options.h"

#include <sched.h>

#include <cmath>
#include <fstream>

#include "absl/status/status.h"
#include "proxy/common/flags.h"
#include "proxy/common/strings.h"

namespace remora::server {
namespace {

absl::Status flagError(std::string_view flag, std::string_view value, std::string_view why) {
  return absl::InvalidArgumentError(cat("--", flag, " '", value, "': ", why));
}

absl::StatusOr<uint16_t> parsePort(std::string_view flag, std::string_view value) {
  uint32_t port = 0;
  if (!parseInt(value, &port) || port > 65535) {
    return flagError(flag, value, "not a port number");
  }
  return static_cast<uint16_t>(port);
}

}  // namespace

absl::StatusOr<config::Duration> parseDuration(std::string_view text) {
  std::string_view num = text;
  double scale = 1000;  // seconds
  if (text.ends_with("ms")) {
    num = text.substr(0, text.size() - 2);
    scale = 1;
  } else if (text.ends_with("s")) {
    num = text.substr(0, text.size() - 1);
  } else if (text.ends_with("m")) {
    num = text.substr(0, text.size() - 1);
    scale = 60'000;
  } else if (text.ends_with("h")) {
    num = text.substr(0, text.size() - 1);
    scale = 3'600'000;
  }
  double v = 0;
  if (num.empty() || !parseDouble(num, &v) || v < 0 || !std::isfinite(v) || v > 1e9) {
    return absl::InvalidArgumentError(cat("'", text, "' is not a duration (e.g. 250ms, 5s, 1h)"));
  }
  return config::Duration(static_cast<int64_t>(v * scale));
}

uint32_t availableCpus() {
  cpu_set_t set;
  uint32_t n = 1;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) n = static_cast<uint32_t>(CPU_COUNT(&set));
  std::ifstream cpu_max("/sys/fs/cgroup/cpu.max");
  std::string quota, period;
  if (cpu_max >> quota >> period && quota != "max") {
    double q = 0, p = 0;
    if (parseDouble(quota, &q) && parseDouble(period, &p) && p > 0) {
      n = std::min<uint32_t>(n, std::max<uint32_t>(1, static_cast<uint32_t>(std::ceil(q / p))));
    }
  }
  return std::max<uint32_t>(n, 1);
}

std::string usage() {
  return R"(usage: remora [flags]

A transparent sidecar proxy. Connections that iptables (remora-init) redirects to the outbound
port go to their original destination; those redirected to the inbound port go to the local
application on the same port.

  --concurrency N            worker threads (default: CPUs available)
  --bind-ip IP               address of the capture listeners (default 0.0.0.0)
  --outbound-port PORT       outbound capture listener (default 15001, 0 disables)
  --inbound-port PORT        inbound capture listener (default 15006, 0 disables)
  --inbound-forward-ip IP    where inbound connections go (default 127.0.0.1)
  --inbound-source-ip IP     source address of forwarded inbound connections (default 127.0.0.6)
  --admin-address ADDR       admin endpoint (default 127.0.0.1:15000, "" disables)
  --admin-address-path FILE  write the admin's bound address to FILE
  --prometheus-address ADDR  /stats/prometheus endpoint (default 0.0.0.0:15090, "" disables)
  --health-address ADDR      /healthz/ready endpoint (default 0.0.0.0:15021, "" disables)
  --connect-timeout DUR      upstream connect timeout (default 5s)
  --idle-timeout DUR         close a connection after this long without bytes (default 1h, 0 off)
  --drain-timeout DUR        on SIGTERM, how long open connections may finish (default 5s)
  --listener-drain-time DUR  how long connections of a replaced listener may go on (600s)
  --buffer-limit BYTES       per-connection, per-direction buffer limit (default 1048576)
  --file-flush-interval DUR  longest wait before access log lines are written (default 1s);
                             64 KiB of lines are written at once
  --log-level LEVEL          trace, debug, info, warning, error, off (default info)
  --bootstrap FILE           Envoy v3 bootstrap (YAML or JSON): static resources and the ADS
                             server; replaces the built-in capture listeners
  --ca-address HOST:PORT     remora-control's certificate service: the workload's certificate
                             (SDS secret "default") and trust bundle ("ROOTCA"), renewed at
                             about half their lifetime
  --identity-token-file FILE bearer token proving the identity (re-read for each request)
  --trust-domain TD          SPIFFE trust domain (default cluster.local)
  --namespace NS             the workload's namespace (default "default")
  --service-account SA       the workload's service account (default "default")
  --cert-ttl DUR             certificate lifetime to ask for (default: the CA's)
  --ca-root-cert FILE        speak TLS to the CA, verifying its certificate with these PEM roots
                             (remora-control's --trust-bundle-out, Istio's root-cert.pem);
                             re-read when it changes. Default: plaintext. The ADS stream's TLS
                             is the bootstrap's (ssl_credentials or the xDS cluster's
                             transport_socket)
  --ca-server-name NAME      the name the CA's certificate must carry, also sent as SNI
                             (default: the host in --ca-address)
  --mode validate            check --bootstrap FILE or --resources FILE (resources, one per
                             document with "@type", or DiscoveryResponses) and exit
  --version, --help
)";
}

absl::StatusOr<Options> parseOptions(int argc, const char* const* argv) {
  Options o;
  auto addr = [](std::string_view flag,
                 std::string_view v) -> absl::StatusOr<std::optional<net::Address>> {
    if (v.empty()) return std::optional<net::Address>();
    auto a = net::Address::parse(v);
    if (!a.ok()) return flagError(flag, v, sv(a.status().message()));
    return std::optional<net::Address>(*a);
  };
  o.admin_address = *net::Address::parse("127.0.0.1:15000");
  o.prometheus_address = *net::Address::parse("0.0.0.0:15090");
  o.health_address = *net::Address::parse("0.0.0.0:15021");
  auto flags = splitFlags(argc, argv, {"help", "version"});
  if (!flags.ok()) return flags.status();
  for (const auto& [flag, value] : *flags) {
    if (flag == "help") {
      o.help = true;
      continue;
    }
    if (flag == "version") {
      o.version = true;
      continue;
    }
    if (flag == "concurrency") {
      if (!parseInt(value, &o.concurrency) || o.concurrency > 256) {
        return flagError(flag, value, "expected a number of workers (0 to 256)");
      }
    } else if (flag == "bind-ip" || flag == "inbound-forward-ip" || flag == "inbound-source-ip") {
      auto ip = net::Address::parseIp(value, 0);
      if (!ip.ok()) return flagError(flag, value, sv(ip.status().message()));
      (flag == "bind-ip"              ? o.bind_ip
       : flag == "inbound-forward-ip" ? o.inbound_forward_ip
                                      : o.inbound_source_ip) = value;
    } else if (flag == "outbound-port" || flag == "inbound-port") {
      auto p = parsePort(flag, value);
      if (!p.ok()) return p.status();
      (flag == "outbound-port" ? o.outbound_port : o.inbound_port) = *p;
    } else if (flag == "admin-address" || flag == "prometheus-address" ||
               flag == "health-address") {
      auto a = addr(flag, value);
      if (!a.ok()) return a.status();
      (flag == "admin-address"        ? o.admin_address
       : flag == "prometheus-address" ? o.prometheus_address
                                      : o.health_address) = *a;
    } else if (flag == "admin-address-path") {
      o.admin_address_path = value;
    } else if (flag == "connect-timeout" || flag == "idle-timeout" || flag == "drain-timeout" ||
               flag == "listener-drain-time" || flag == "file-flush-interval") {
      auto d = parseDuration(value);
      if (!d.ok()) return flagError(flag, value, sv(d.status().message()));
      if ((flag == "connect-timeout" || flag == "file-flush-interval") && d->count() == 0)
        return flagError(flag, value, "must be positive");
      (flag == "connect-timeout"       ? o.connect_timeout
       : flag == "idle-timeout"        ? o.idle_timeout
       : flag == "listener-drain-time" ? o.listener_drain_time
       : flag == "file-flush-interval" ? o.file_flush_interval
                                       : o.drain_timeout) = *d;
    } else if (flag == "buffer-limit") {
      if (!parseInt(value, &o.buffer_limit_bytes) || o.buffer_limit_bytes < 1024) {
        return flagError(flag, value, "expected a number of bytes, at least 1024");
      }
    } else if (flag == "ca-address") {
      o.ca_address = value;
    } else if (flag == "identity-token-file") {
      o.identity_token_file = value;
    } else if (flag == "trust-domain") {
      o.trust_domain = value;
    } else if (flag == "namespace") {
      o.pod_namespace = value;
    } else if (flag == "service-account") {
      o.service_account = value;
    } else if (flag == "ca-root-cert") {
      if (value.empty()) return flagError(flag, value, "a file name is required");
      o.ca_root_cert = value;
    } else if (flag == "ca-server-name") {
      if (value.empty()) return flagError(flag, value, "a name is required");
      o.ca_server_name = value;
    } else if (flag == "cert-ttl") {
      auto d = parseDuration(value);
      if (!d.ok()) return flagError(flag, value, sv(d.status().message()));
      o.cert_ttl = *d;
    } else if (flag == "bootstrap" || flag == "config-path" || flag == "c") {
      o.bootstrap_path = value;
    } else if (flag == "resources") {
      o.resources_path = value;
    } else if (flag == "mode") {
      if (value != "serve" && value != "validate")
        return flagError(flag, value, "serve or validate");
      o.validate = value == "validate";
    } else if (flag == "log-level") {
      if (!log::parseLevel(value, &o.log_level)) return flagError(flag, value, "unknown log level");
    } else {
      return absl::InvalidArgumentError(cat("unknown flag --", flag));
    }
  }
  if (o.concurrency == 0) o.concurrency = availableCpus();
  if (!o.ca_address.empty() && o.identity_token_file.empty()) {
    return absl::InvalidArgumentError("--ca-address needs --identity-token-file");
  }
  if (o.ca_address.empty() && !o.ca_root_cert.empty()) {
    return absl::InvalidArgumentError("--ca-root-cert needs --ca-address");
  }
  if (!o.ca_server_name.empty() && o.ca_root_cert.empty()) {
    return absl::InvalidArgumentError("--ca-server-name needs --ca-root-cert");
  }
  return o;
}

absl::StatusOr<config::ProxyConfig> defaultConfig(const Options& o) {
  config::ProxyConfig pc;
  auto bind = net::Address::parseIp(o.bind_ip, 0);
  if (!bind.ok()) return bind.status();
  // One capture listener: the original_dst filter, then tcp_proxy to an ORIGINAL_DST cluster.
  auto capture = [&](std::string listener, uint16_t port, config::ClusterConfig cluster) {
    cluster.type = config::ClusterConfig::Type::OriginalDst;
    cluster.connect_timeout = o.connect_timeout;
    // Istio's PassthroughCluster and inbound passthrough: no circuit breaking (Envoy's default
    // 1024 connections would cap a busy pod's captured traffic).
    for (auto* t :
         {&cluster.circuit_breakers.default_priority, &cluster.circuit_breakers.high_priority}) {
      t->max_connections = t->max_pending_requests = t->max_requests = 0xffffffffu;
      t->max_retries = 0xffffffffu;
    }
    config::ListenerConfig l;
    l.name = std::move(listener);
    l.address = bind->withPort(port);
    l.per_connection_buffer_limit_bytes = o.buffer_limit_bytes;
    l.original_dst_filter = true;
    config::FilterChainConfig chain;
    chain.filters.push_back(
        {"envoy.filters.network.tcp_proxy", {cluster.name, cluster.name, {}, o.idle_timeout}, {}});
    l.filter_chains.push_back(std::move(chain));
    pc.clusters.push_back(std::move(cluster));
    pc.listeners.push_back(std::move(l));
  };
  if (o.outbound_port != 0) {
    config::ClusterConfig passthrough;
    passthrough.name = "PassthroughCluster";
    capture("virtualOutbound", o.outbound_port, std::move(passthrough));
  }
  if (o.inbound_port != 0) {
    auto fwd = net::Address::parseIp(o.inbound_forward_ip, 0);
    auto src = net::Address::parseIp(o.inbound_source_ip, 0);
    if (!fwd.ok()) return fwd.status();
    if (!src.ok()) return src.status();
    config::ClusterConfig inbound;
    inbound.name = "InboundPassthroughCluster";
    inbound.original_dst_ip_override = *fwd;
    inbound.source_address = *src;
    capture("virtualInbound", o.inbound_port, std::move(inbound));
  }
  return pc;
}

}  // namespace remora::server
