// Fuzzes JWT parsing and verification: no crash, and an accepted token's signing input is
// exactly the first two parts of the input.
#include <cstdint>
#include <string_view>

#include "certs/jwt.h"
#include "certs/token.h"
#include "test/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto jwt = remora::certs::parseJwt(in); jwt.ok()) {
    FUZZ_CHECK(in.substr(0, jwt->signing_input.size()) == jwt->signing_input);
    FUZZ_CHECK(jwt->alg == "ES256" || jwt->alg == "RS256");
  }
  // No keys: every token is refused, whatever it holds.
  static remora::certs::TokenVerifier verifier(nullptr, std::nullopt);
  FUZZ_CHECK(!verifier.verify(in, std::chrono::system_clock::now()).ok());
  return 0;
}
