// remora-init's rule generator: the pod's nat rules in iptables-restore format, laid out as
// Istio's istio-iptables does (INTEROP.md), in remora's own chains. Pure functions of the
// configuration and the current table, so the exact text is unit-tested.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/net/address.h"

namespace remora::init {

inline constexpr std::string_view kInboundChain = "REMORA_INBOUND";
inline constexpr std::string_view kInboundRedirectChain = "REMORA_IN_REDIRECT";
inline constexpr std::string_view kOutputChain = "REMORA_OUTPUT";
inline constexpr std::string_view kRedirectChain = "REMORA_REDIRECT";

struct InitConfig {
  uint32_t proxy_uid = 1337;
  uint32_t proxy_gid = 1337;
  uint16_t inbound_capture_port = 15006;
  uint16_t outbound_capture_port = 15001;
  // Empty: capture every inbound port. Otherwise only these.
  std::vector<uint16_t> include_inbound_ports;
  bool capture_all_inbound = true;
  // Never captured inbound, besides these: 15008 (HBONE), 15090, 15021, 15020.
  std::vector<uint16_t> exclude_inbound_ports;
  // Outbound: when include_outbound_cidrs is set, only those destinations are captured.
  bool capture_all_outbound = true;
  std::vector<net::Cidr> include_outbound_cidrs;
  std::vector<net::Cidr> exclude_outbound_cidrs;
  // Always captured, even to an excluded CIDR (Istio: higher priority than CIDR exclusion).
  std::vector<uint16_t> include_outbound_ports;
  std::vector<uint16_t> exclude_outbound_ports;
};

// Ports that are never redirected inbound: the proxy's own endpoints.
std::vector<uint16_t> defaultExcludedInboundPorts();

// iptables-restore --noflush input that installs the IPv4 rules. `current_nat` is `iptables-save -t
// nat` output: jumps from PREROUTING and OUTPUT that already exist are not added again, so applying
// twice changes nothing.
std::string generateRules(const InitConfig& config, std::string_view current_nat);

// iptables-restore --noflush input that removes everything generateRules installs, given
// the current table. Empty when nothing of ours is installed.
std::string generateCleanup(std::string_view current_nat);

// Parses remora-init's flags.
struct InitOptions {
  InitConfig config;
  bool dry_run = false;
  bool cleanup = false;
  bool help = false;
  std::string iptables_restore = "iptables-restore";
  std::string iptables_save = "iptables-save";
};
absl::StatusOr<InitOptions> parseInitOptions(int argc, const char* const* argv);
std::string initUsage();

}  // namespace remora::init
