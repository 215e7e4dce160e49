// Address and CIDR parsing with inet_pton; nothing here touches the network.
#include "proxy/net/address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "proxy/common/strings.h"

namespace remora::net {
namespace {

absl::StatusOr<uint16_t> parsePort(std::string_view text, std::string_view whole) {
  uint32_t port = 0;
  if (text.empty() || text.size() > 5 || !parseInt(text, &port) || port > 65535 ||
      text.find_first_not_of("0123456789") != std::string_view::npos) {
    return absl::InvalidArgumentError(cat("address '", whole, "': invalid port '", text, "'"));
  }
  return static_cast<uint16_t>(port);
}

const uint8_t* ipBytes(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    return reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in&>(ss).sin_addr);
  }
  return reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr);
}

uint8_t* ipBytes(sockaddr_storage& ss) {
  return const_cast<uint8_t*>(ipBytes(static_cast<const sockaddr_storage&>(ss)));
}

}  // namespace

absl::StatusOr<Address> Address::parseIp(std::string_view ip, uint16_t port) {
  std::string s(ip);
  Address a;
  if (s.find(':') == std::string::npos) {
    auto* in = reinterpret_cast<sockaddr_in*>(&a.storage_);
    if (inet_pton(AF_INET, s.c_str(), &in->sin_addr) != 1) {
      return absl::InvalidArgumentError(cat("'", ip, "' is not an IPv4 or IPv6 address"));
    }
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
    if (inet_pton(AF_INET6, s.c_str(), &in6->sin6_addr) != 1) {
      return absl::InvalidArgumentError(cat("'", ip, "' is not an IPv4 or IPv6 address"));
    }
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
  }
  return a;
}

absl::StatusOr<Address> Address::parse(std::string_view host_port) {
  if (!host_port.empty() && host_port.front() == '[') {
    size_t close = host_port.find(']');
    if (close == std::string_view::npos || close + 1 >= host_port.size() ||
        host_port[close + 1] != ':') {
      return absl::InvalidArgumentError(cat("address '", host_port, "' must be [ipv6]:port"));
    }
    std::string_view ip = host_port.substr(1, close - 1);
    if (ip.find(':') == std::string_view::npos) {
      return absl::InvalidArgumentError(
          cat("address '", host_port, "': brackets are only for IPv6"));
    }
    auto port = parsePort(host_port.substr(close + 2), host_port);
    if (!port.ok()) return port.status();
    return parseIp(ip, *port);
  }
  size_t colon = host_port.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(cat("address '", host_port, "' has no port"));
  }
  if (host_port.find(':') != colon) {
    return absl::InvalidArgumentError(
        cat("address '", host_port, "': write IPv6 addresses as [ip]:port"));
  }
  auto port = parsePort(host_port.substr(colon + 1), host_port);
  if (!port.ok()) return port.status();
  return parseIp(host_port.substr(0, colon), *port);
}

absl::StatusOr<Address> Address::fromSockaddr(const sockaddr* sa, socklen_t len) {
  Address a;
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    std::memcpy(&a.storage_, sa, sizeof(sockaddr_in));
    return a;
  }
  if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    std::memcpy(&a.storage_, sa, sizeof(sockaddr_in6));
    return a;
  }
  return absl::InvalidArgumentError(cat("unsupported address family ", sa->sa_family));
}

uint16_t Address::port() const {
  if (isV4()) return ntohs(reinterpret_cast<const sockaddr_in&>(storage_).sin_port);
  if (isV6()) return ntohs(reinterpret_cast<const sockaddr_in6&>(storage_).sin6_port);
  return 0;
}

void Address::setPort(uint16_t port) {
  if (isV4()) reinterpret_cast<sockaddr_in&>(storage_).sin_port = htons(port);
  if (isV6()) reinterpret_cast<sockaddr_in6&>(storage_).sin6_port = htons(port);
}

Address Address::withPort(uint16_t port) const {
  Address a = *this;
  a.setPort(port);
  return a;
}

bool Address::isLoopback() const {
  if (isV4()) return ipBytes(storage_)[0] == 127;
  if (isV6()) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(storage_).sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&in6)) return true;
    // IPv4-mapped loopback (::ffff:127.0.0.0/104).
    return IN6_IS_ADDR_V4MAPPED(&in6) && in6.s6_addr[12] == 127;
  }
  return false;
}

bool Address::isAny() const {
  if (isV4()) return reinterpret_cast<const sockaddr_in&>(storage_).sin_addr.s_addr == INADDR_ANY;
  if (isV6()) {
    return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6&>(storage_).sin6_addr);
  }
  return false;
}

std::string_view Address::ipBytesView() const {
  if (!valid()) return {};
  return {reinterpret_cast<const char*>(ipBytes(storage_)), isV4() ? 4u : 16u};
}

socklen_t Address::sockaddrLen() const {
  return isV4() ? sizeof(sockaddr_in) : isV6() ? sizeof(sockaddr_in6) : 0;
}

std::string Address::ip() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (!valid()) return "";
  inet_ntop(family(), ipBytes(storage_), buf, sizeof(buf));
  return buf;
}

std::string Address::toString() const {
  if (!valid()) return "<invalid>";
  if (isV6()) return cat("[", ip(), "]:", port());
  return cat(ip(), ":", port());
}

bool Address::sameIp(const Address& other) const {
  if (family() != other.family()) return false;
  size_t n = isV4() ? 4 : 16;
  return std::memcmp(ipBytes(storage_), ipBytes(other.storage_), n) == 0;
}

bool Address::samePrefix(const Address& other, int prefix_len) const {
  if (!valid() || family() != other.family()) return false;
  const uint8_t* a = ipBytes(storage_);
  const uint8_t* b = ipBytes(other.storage_);
  int full = prefix_len / 8;
  if (std::memcmp(a, b, full) != 0) return false;
  int rem = prefix_len % 8;
  if (rem == 0) return true;
  auto mask = static_cast<uint8_t>(0xff00 >> rem);
  return (a[full] & mask) == (b[full] & mask);
}

Address Address::masked(int prefix_len) const {
  Address a = *this;
  if (!valid()) return a;
  uint8_t* bytes = ipBytes(a.storage_);
  int nbytes = isV4() ? 4 : 16;
  for (int i = 0; i < nbytes; ++i) {
    int bits = std::clamp(prefix_len - i * 8, 0, 8);
    bytes[i] &= static_cast<uint8_t>(0xff00 >> bits);
  }
  return a;
}

bool Address::operator==(const Address& other) const {
  if (!valid() || !other.valid()) return valid() == other.valid();
  return sameIp(other) && port() == other.port();
}

absl::StatusOr<Cidr> Cidr::parse(std::string_view text) {
  std::string_view ip = text;
  int len = -1;
  size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    ip = text.substr(0, slash);
    std::string_view len_text = text.substr(slash + 1);
    if (len_text.empty() || len_text.size() > 3 || !parseInt(len_text, &len) ||
        len_text.find_first_not_of("0123456789") != std::string_view::npos) {
      return absl::InvalidArgumentError(cat("CIDR '", text, "': invalid prefix length"));
    }
  }
  auto base = Address::parseIp(ip, 0);
  if (!base.ok()) {
    return absl::InvalidArgumentError(cat("CIDR '", text, "': ", base.status().message()));
  }
  int max = base->isV4() ? 32 : 128;
  if (len < 0) len = max;
  if (len > max) {
    return absl::InvalidArgumentError(
        cat("CIDR '", text, "': prefix length ", len, " exceeds ", max));
  }
  Cidr c;
  c.base_ = base->masked(len);
  c.prefix_len_ = len;
  return c;
}

bool Cidr::contains(const Address& address) const { return base_.samePrefix(address, prefix_len_); }

std::string Cidr::toString() const { return cat(base_.ip(), "/", prefix_len_); }

}  // namespace remora::net
