// Non-cryptographic hashing shared by the load balancers: XXH64, bit-exact with the reference
// implementation, because ring hash and maglev placements must match Envoy's.
#pragma once

#include <cstdint>
#include <string_view>

namespace remora {

// XXH64 of `data` (the xxHash specification, "XXH64 algorithm description").
uint64_t xxHash64(std::string_view data, uint64_t seed = 0);

}  // namespace remora
