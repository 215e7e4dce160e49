// Thin helpers over socket(2) options the proxy needs: original destination, SO_REUSEPORT
// listeners, linger-on-close for resets, and local/peer addresses.
#pragma once

#include "absl/status/statusor.h"
#include "proxy/net/address.h"

namespace remora::net {

// The destination the client dialled before iptables REDIRECT (SO_ORIGINAL_DST, or
// IP6T_SO_ORIGINAL_DST for IPv6). NotFound when the connection was not redirected and the
// kernel has no conntrack entry for it.
absl::StatusOr<Address> originalDestination(int fd, int family);

// A non-blocking TCP socket bound to `address` with SO_REUSEADDR and, when `reuse_port`,
// SO_REUSEPORT (set before bind, so each worker can bind its own socket to the same port).
// The caller owns the fd.
absl::StatusOr<int> bindTcpSocket(const Address& address, bool reuse_port);

absl::StatusOr<Address> localAddress(int fd);
absl::StatusOr<Address> peerAddress(int fd);

// Makes the next close(2) send RST instead of FIN (SO_LINGER with a zero timeout).
void setLingerZero(int fd);

// Whether `ip` is an address of this network namespace (loopback, or on an interface).
bool isLocalIp(const Address& ip);

// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the limit now in force.
uint64_t raiseOpenFileLimit();

// Number of open file descriptors of this process (entries in /proc/self/fd).
int countOpenFds();

}  // namespace remora::net
