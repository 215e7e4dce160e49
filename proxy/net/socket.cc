// Socket option helpers; each failure names the call and errno.
#include "proxy/net/socket.h"

#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "proxy/common/strings.h"

namespace remora::net {
namespace {

absl::Status errnoStatus(std::string_view what, int err) {
  std::string msg = cat(what, ": ", strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EADDRINUSE) return absl::AlreadyExistsError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::UnavailableError(msg);
}

}  // namespace

absl::StatusOr<Address> originalDestination(int fd, int family) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int rc = family == AF_INET6 ? getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &ss, &len)
                              : getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len);
  if (rc != 0) return errnoStatus("getsockopt(SO_ORIGINAL_DST)", errno);
  return Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

absl::StatusOr<int> bindTcpSocket(const Address& address, bool reuse_port) {
  int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errnoStatus("socket", errno);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)) {
    int err = errno;
    close(fd);
    return errnoStatus("setsockopt(SO_REUSEADDR/SO_REUSEPORT)", err);
  }
  if (address.isV6()) {
    // A listener on [::] serves IPv6 only; IPv4 gets its own listener.
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (bind(fd, address.sockaddr_ptr(), address.sockaddrLen()) != 0) {
    int err = errno;
    close(fd);
    return errnoStatus(cat("bind ", address.toString()), err);
  }
  return fd;
}

absl::StatusOr<Address> localAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return errnoStatus("getsockname", errno);
  }
  return Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

absl::StatusOr<Address> peerAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return errnoStatus("getpeername", errno);
  }
  return Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

void setLingerZero(int fd) {
  linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

bool isLocalIp(const Address& ip) {
  if (ip.isLoopback()) return true;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    socklen_t len = i->ifa_addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    auto a = Address::fromSockaddr(i->ifa_addr, len);
    found = a.ok() && a->sameIp(ip);
  }
  freeifaddrs(list);
  return found;
}

uint64_t raiseOpenFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

int countOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the directory stream's own fd
}

}  // namespace remora::net
