// Fuzzes remora's flag parsing (argv split on newlines) and the configuration it builds.
#include <cstdint>
#include <string>
#include <vector>

#include "proxy/common/strings.h"
#include "proxy/server/options.h"
#include "test/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args;
  for (std::string_view a : remora::split(in, '\n')) args.emplace_back(a);
  std::vector<const char*> argv{"remora"};
  for (const auto& a : args) argv.push_back(a.c_str());
  auto o = remora::server::parseOptions(static_cast<int>(argv.size()), argv.data());
  if (o.ok()) {
    FUZZ_CHECK(o->concurrency >= 1 && o->concurrency <= 256);
    auto config = remora::server::defaultConfig(*o);
    FUZZ_CHECK(config.ok());
  }
  (void)remora::server::parseDuration(in);
  return 0;
}
