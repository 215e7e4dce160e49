// XXH64, written from the xxHash specification (doc/xxhash_spec.md, "XXH64 algorithm").
#include "proxy/common/hash.h"

#include <bit>
#include <cstring>

namespace remora {
namespace {

static_assert(std::endian::native == std::endian::little,
              "xxHash64 reads its input as little-endian words");

constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t kPrime3 = 0x165667B19E3779F9ULL;
constexpr uint64_t kPrime4 = 0x85EBCA77C2B2AE63ULL;
constexpr uint64_t kPrime5 = 0x27D4EB2F165667C5ULL;

uint64_t read64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

uint32_t read32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

uint64_t round(uint64_t acc, uint64_t lane) {
  acc += lane * kPrime2;
  acc = std::rotl(acc, 31);
  return acc * kPrime1;
}

uint64_t mergeAccumulator(uint64_t acc, uint64_t accN) {
  acc ^= round(0, accN);
  return acc * kPrime1 + kPrime4;
}

}  // namespace

uint64_t xxHash64(std::string_view data, uint64_t seed) {
  const char* p = data.data();
  const char* const end = p + data.size();
  uint64_t acc;

  if (data.size() >= 32) {
    // Four lanes over 32-byte stripes.
    uint64_t v1 = seed + kPrime1 + kPrime2;
    uint64_t v2 = seed + kPrime2;
    uint64_t v3 = seed;
    uint64_t v4 = seed - kPrime1;
    const char* const last_stripe = end - 32;
    do {
      v1 = round(v1, read64(p));
      v2 = round(v2, read64(p + 8));
      v3 = round(v3, read64(p + 16));
      v4 = round(v4, read64(p + 24));
      p += 32;
    } while (p <= last_stripe);
    acc = std::rotl(v1, 1) + std::rotl(v2, 7) + std::rotl(v3, 12) + std::rotl(v4, 18);
    acc = mergeAccumulator(acc, v1);
    acc = mergeAccumulator(acc, v2);
    acc = mergeAccumulator(acc, v3);
    acc = mergeAccumulator(acc, v4);
  } else {
    acc = seed + kPrime5;
  }

  acc += static_cast<uint64_t>(data.size());

  // The remaining 0..31 bytes: 8 at a time, then 4, then one by one.
  for (; end - p >= 8; p += 8) {
    acc ^= round(0, read64(p));
    acc = std::rotl(acc, 27) * kPrime1 + kPrime4;
  }
  if (end - p >= 4) {
    acc ^= static_cast<uint64_t>(read32(p)) * kPrime1;
    acc = std::rotl(acc, 23) * kPrime2 + kPrime3;
    p += 4;
  }
  for (; p < end; ++p) {
    acc ^= static_cast<uint64_t>(static_cast<uint8_t>(*p)) * kPrime5;
    acc = std::rotl(acc, 11) * kPrime1;
  }

  // Avalanche.
  acc ^= acc >> 33;
  acc *= kPrime2;
  acc ^= acc >> 29;
  acc *= kPrime3;
  acc ^= acc >> 32;
  return acc;
}

}  // namespace remora
