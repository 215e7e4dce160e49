// Fuzzes SPIFFE ID parsing: accepted IDs print back to exactly the input.
#include <cstdint>
#include <string_view>

#include "certs/spiffe.h"
#include "test/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto id = remora::certs::parseSpiffeId(in); id.ok()) FUZZ_CHECK(id->uri() == in);
  return 0;
}
