// Snapshot lookups.
#include "proxy/server/snapshot.h"

namespace remora::server {

const ListenerSharedPtr* Snapshot::findByAddress(const net::Address& address) const {
  if (auto it = by_address.find(address); it != by_address.end()) return &it->second;
  auto any = net::Address::parseIp(address.isV4() ? "0.0.0.0" : "::", address.port());
  if (any.ok()) {
    if (auto it = by_address.find(*any); it != by_address.end()) return &it->second;
  }
  return nullptr;
}

}  // namespace remora::server
