// IP socket addresses and CIDR ranges: parsing, formatting, comparison.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace remora::net {

// An IPv4 or IPv6 address with a port. Value type; copies are cheap.
class Address {
 public:
  Address() = default;

  // "192.0.2.1:8080", "[2001:db8::1]:443". The port is required.
  static absl::StatusOr<Address> parse(std::string_view host_port);
  // An IP literal without a port ("127.0.0.6", "::1") and a separate port.
  static absl::StatusOr<Address> parseIp(std::string_view ip, uint16_t port);
  // From a kernel sockaddr (AF_INET or AF_INET6); anything else is an error.
  static absl::StatusOr<Address> fromSockaddr(const sockaddr* sa, socklen_t len);

  int family() const { return storage_.ss_family; }
  bool isV4() const { return family() == AF_INET; }
  bool isV6() const { return family() == AF_INET6; }
  bool valid() const { return isV4() || isV6(); }
  uint16_t port() const;
  void setPort(uint16_t port);
  // The same IP with another port.
  Address withPort(uint16_t port) const;
  bool isLoopback() const;
  bool isAny() const;

  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t sockaddrLen() const;

  // "192.0.2.1" / "2001:db8::1".
  std::string ip() const;
  // "192.0.2.1:8080" / "[2001:db8::1]:443".
  std::string toString() const;

  bool operator==(const Address& other) const;
  bool sameIp(const Address& other) const;
  // True when both are of one family and their first prefix_len bits of IP are equal.
  bool samePrefix(const Address& other, int prefix_len) const;
  // This IP with every bit past prefix_len cleared.
  Address masked(int prefix_len) const;

  template <typename H>
  friend H AbslHashValue(H h, const Address& a) {
    h = H::combine(std::move(h), a.family(), a.port());
    std::string_view ip = a.ipBytesView();
    return H::combine_contiguous(std::move(h), ip.data(), ip.size());
  }
  // The IP's bytes in network order (4 or 16), e.g. for hashing.
  std::string_view ipBytesView() const;

 private:
  sockaddr_storage storage_{};
};

// An IP prefix such as 10.0.0.0/8 or 2001:db8::/32. A bare IP is a host route (/32 or /128).
class Cidr {
 public:
  static absl::StatusOr<Cidr> parse(std::string_view text);

  bool contains(const Address& address) const;
  int family() const { return base_.family(); }
  int prefixLength() const { return prefix_len_; }
  // Canonical text with host bits cleared: "10.0.0.0/8".
  std::string toString() const;
  bool operator==(const Cidr&) const = default;

 private:
  Address base_;
  int prefix_len_ = 0;
};

}  // namespace remora::net
