// Rule text generation for remora-init.
#include "tools/init/rules.h"

#include <algorithm>
#include <set>

#include "absl/status/status.h"
#include "proxy/common/flags.h"
#include "proxy/common/strings.h"

namespace remora::init {
namespace {

constexpr std::string_view kPreroutingJump = "-A PREROUTING -p tcp -j REMORA_INBOUND";
constexpr std::string_view kOutputJump = "-A OUTPUT -p tcp -j REMORA_OUTPUT";

bool hasLine(std::string_view table, std::string_view line) {
  for (std::string_view l : split(table, '\n')) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l == line) return true;
  }
  return false;
}

int countLines(std::string_view table, std::string_view line) {
  int n = 0;
  for (std::string_view l : split(table, '\n')) {
    if (l == line) ++n;
  }
  return n;
}

bool hasChain(std::string_view table, std::string_view chain) {
  std::string prefix = cat(":", chain, " ");
  for (std::string_view l : split(table, '\n')) {
    if (l.starts_with(prefix)) return true;
  }
  return false;
}

}  // namespace

std::vector<uint16_t> defaultExcludedInboundPorts() { return {15008, 15090, 15021, 15020}; }

std::string generateRules(const InitConfig& c, std::string_view current_nat) {
  constexpr std::string_view passthrough = "127.0.0.6/32";
  constexpr std::string_view localhost = "127.0.0.1/32";
  std::string out = "* nat\n";
  for (std::string_view chain :
       {kInboundChain, kRedirectChain, kInboundRedirectChain, kOutputChain}) {
    append(&out, ":", chain, " - [0:0]\n");
  }
  if (!hasLine(current_nat, kPreroutingJump)) append(&out, kPreroutingJump, "\n");
  if (!hasLine(current_nat, kOutputJump)) append(&out, kOutputJump, "\n");

  append(&out, "-A ", kRedirectChain, " -p tcp -j REDIRECT --to-ports ", c.outbound_capture_port,
         "\n");
  append(&out, "-A ", kInboundRedirectChain, " -p tcp -j REDIRECT --to-ports ",
         c.inbound_capture_port, "\n");

  // Inbound.
  if (c.capture_all_inbound) {
    std::vector<uint16_t> excluded = c.exclude_inbound_ports;
    for (uint16_t p : defaultExcludedInboundPorts()) {
      if (std::find(excluded.begin(), excluded.end(), p) == excluded.end()) excluded.push_back(p);
    }
    for (uint16_t p : excluded) {
      append(&out, "-A ", kInboundChain, " -p tcp --dport ", p, " -j RETURN\n");
    }
    append(&out, "-A ", kInboundChain, " -p tcp -j ", kInboundRedirectChain, "\n");
  } else {
    for (uint16_t p : c.include_inbound_ports) {
      append(&out, "-A ", kInboundChain, " -p tcp --dport ", p, " -j ", kInboundRedirectChain,
             "\n");
    }
  }

  // Outbound.
  append(&out, "-A ", kOutputChain, " -o lo -s ", passthrough, " -j RETURN\n");
  for (uint16_t p : c.exclude_outbound_ports) {
    append(&out, "-A ", kOutputChain, " -p tcp --dport ", p, " -j RETURN\n");
  }
  struct Owner {
    std::string_view flag;
    uint32_t id;
  };
  for (const Owner& o : {Owner{"--uid-owner", c.proxy_uid}, Owner{"--gid-owner", c.proxy_gid}}) {
    // The proxy calling this pod's own IP over lo is inbound traffic for the app.
    append(&out, "-A ", kOutputChain, " -o lo ! -d ", localhost, " -m owner ", o.flag, " ", o.id,
           " -j ", kInboundRedirectChain, "\n");
    // The app talking to itself over lo stays local.
    append(&out, "-A ", kOutputChain, " -o lo -m owner ! ", o.flag, " ", o.id, " -j RETURN\n");
    // The proxy's own upstream connections are never captured (no loop).
    append(&out, "-A ", kOutputChain, " -m owner ", o.flag, " ", o.id, " -j RETURN\n");
  }
  append(&out, "-A ", kOutputChain, " -d ", localhost, " -j RETURN\n");
  for (uint16_t p : c.include_outbound_ports) {
    append(&out, "-A ", kOutputChain, " -p tcp --dport ", p, " -j ", kRedirectChain, "\n");
  }
  for (const net::Cidr& cidr : c.exclude_outbound_cidrs) {
    append(&out, "-A ", kOutputChain, " -d ", cidr.toString(), " -j RETURN\n");
  }
  if (c.capture_all_outbound) {
    append(&out, "-A ", kOutputChain, " -j ", kRedirectChain, "\n");
  } else {
    for (const net::Cidr& cidr : c.include_outbound_cidrs) {
      append(&out, "-A ", kOutputChain, " -d ", cidr.toString(), " -j ", kRedirectChain, "\n");
    }
    append(&out, "-A ", kOutputChain, " -j RETURN\n");
  }
  out += "COMMIT\n";
  return out;
}

std::string generateCleanup(std::string_view current_nat) {
  std::vector<std::string_view> chains;
  for (std::string_view chain :
       {kInboundChain, kRedirectChain, kInboundRedirectChain, kOutputChain}) {
    if (hasChain(current_nat, chain)) chains.push_back(chain);
  }
  int pre = countLines(current_nat, kPreroutingJump);
  int outj = countLines(current_nat, kOutputJump);
  if (chains.empty() && pre == 0 && outj == 0) return "";
  std::string out = "* nat\n";
  // Declaring an existing chain under --noflush empties it, so no chain refers to another.
  for (std::string_view chain : chains) append(&out, ":", chain, " - [0:0]\n");
  for (int i = 0; i < pre; ++i) append(&out, "-D", kPreroutingJump.substr(2), "\n");
  for (int i = 0; i < outj; ++i) append(&out, "-D", kOutputJump.substr(2), "\n");
  for (std::string_view chain : chains) append(&out, "-X ", chain, "\n");
  out += "COMMIT\n";
  return out;
}

namespace {

absl::Status portList(std::string_view flag, std::string_view value, std::vector<uint16_t>* out) {
  out->clear();
  for (std::string_view item : split(value, ',', true)) {
    uint32_t p = 0;
    if (!parseInt(item, &p) || p == 0 || p > 65535) {
      return absl::InvalidArgumentError(cat("--", flag, ": '", item, "' is not a port number"));
    }
    out->push_back(static_cast<uint16_t>(p));
  }
  return absl::OkStatus();
}

absl::Status cidrList(std::string_view flag, std::string_view value, std::vector<net::Cidr>* out) {
  out->clear();
  for (std::string_view item : split(value, ',', true)) {
    auto c = net::Cidr::parse(item);
    if (!c.ok()) return absl::InvalidArgumentError(cat("--", flag, ": ", c.status().message()));
    if (c->family() != AF_INET) {
      return absl::InvalidArgumentError(
          cat("--", flag, ": '", item, "' is not IPv4 (IPv6 capture is not supported yet)"));
    }
    out->push_back(*c);
  }
  return absl::OkStatus();
}

}  // namespace

std::string initUsage() {
  return R"(usage: remora-init [flags]

Writes the pod's iptables nat rules so that every TCP connection into and out of the pod goes
through remora. Rules live in the REMORA_* chains; applying twice changes nothing.

  --proxy-uid UID                 the proxy's user id, never captured (default 1337)
  --proxy-gid GID                 the proxy's group id, never captured (default: the uid)
  --inbound-capture-port PORT     remora's inbound listener (default 15006)
  --outbound-capture-port PORT    remora's outbound listener (default 15001)
  --include-inbound-ports LIST    '*' (default) or comma-separated ports to capture inbound
  --exclude-inbound-ports LIST    ports never captured inbound (15008,15090,15021,15020 always)
  --include-outbound-cidrs LIST   '*' (default) or comma-separated CIDRs to capture outbound
  --exclude-outbound-cidrs LIST   CIDRs never captured outbound
  --include-outbound-ports LIST   ports always captured outbound, even to excluded CIDRs
  --exclude-outbound-ports LIST   ports never captured outbound
  --dry-run                       print the iptables-restore input instead of applying it
  --cleanup                       remove every rule and chain remora-init installed
  --iptables-restore PATH, --iptables-save PATH: the commands to run
)";
}

absl::StatusOr<InitOptions> parseInitOptions(int argc, const char* const* argv) {
  InitOptions o;
  bool gid_set = false;
  auto flags = splitFlags(argc, argv, {"help", "dry-run", "cleanup"});
  if (!flags.ok()) return flags.status();
  for (const auto& [flag, value] : *flags) {
    if (flag == "help") {
      o.help = true;
      continue;
    }
    if (flag == "dry-run") {
      o.dry_run = true;
      continue;
    }
    if (flag == "cleanup") {
      o.cleanup = true;
      continue;
    }
    absl::Status st;
    if (flag == "proxy-uid" || flag == "proxy-gid") {
      uint32_t id = 0;
      if (!parseInt(value, &id))
        return absl::InvalidArgumentError(cat("--", flag, ": '", value, "' is not a numeric id"));
      if (flag == "proxy-uid") {
        o.config.proxy_uid = id;
      } else {
        o.config.proxy_gid = id;
        gid_set = true;
      }
    } else if (flag == "inbound-capture-port" || flag == "outbound-capture-port") {
      std::vector<uint16_t> p;
      st = portList(flag, value, &p);
      if (st.ok() && p.size() != 1)
        st = absl::InvalidArgumentError(cat("--", flag, " takes one port"));
      if (st.ok())
        (flag == "inbound-capture-port" ? o.config.inbound_capture_port
                                        : o.config.outbound_capture_port) = p[0];
    } else if (flag == "include-inbound-ports") {
      o.config.capture_all_inbound = value == "*";
      if (!o.config.capture_all_inbound)
        st = portList(flag, value, &o.config.include_inbound_ports);
    } else if (flag == "exclude-inbound-ports") {
      st = portList(flag, value, &o.config.exclude_inbound_ports);
    } else if (flag == "include-outbound-cidrs") {
      o.config.capture_all_outbound = value == "*";
      if (!o.config.capture_all_outbound)
        st = cidrList(flag, value, &o.config.include_outbound_cidrs);
    } else if (flag == "exclude-outbound-cidrs") {
      st = cidrList(flag, value, &o.config.exclude_outbound_cidrs);
    } else if (flag == "include-outbound-ports") {
      st = portList(flag, value, &o.config.include_outbound_ports);
    } else if (flag == "exclude-outbound-ports") {
      st = portList(flag, value, &o.config.exclude_outbound_ports);
    } else if (flag == "iptables-restore") {
      o.iptables_restore = value;
    } else if (flag == "iptables-save") {
      o.iptables_save = value;
    } else {
      return absl::InvalidArgumentError(cat("unknown flag --", flag));
    }
    if (!st.ok()) return st;
  }
  if (!gid_set) o.config.proxy_gid = o.config.proxy_uid;
  if (!o.config.capture_all_inbound && o.config.include_inbound_ports.empty()) {
    return absl::InvalidArgumentError("--include-inbound-ports: empty list (use '*' for all)");
  }
  return o;
}

}  // namespace remora::init
