// Fuzzes address and CIDR parsing: whatever parses prints back to something that parses to
// the same value.
#include <cstdint>
#include <string_view>

#include "proxy/net/address.h"
#include "test/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto a = remora::net::Address::parse(in); a.ok()) {
    auto again = remora::net::Address::parse(a->toString());
    FUZZ_CHECK(again.ok() && *again == *a);
  }
  if (auto c = remora::net::Cidr::parse(in); c.ok()) {
    auto again = remora::net::Cidr::parse(c->toString());
    FUZZ_CHECK(again.ok() && again->toString() == c->toString());
    FUZZ_CHECK(c->prefixLength() >= 0 && c->prefixLength() <= 128);
  }
  return 0;
}
