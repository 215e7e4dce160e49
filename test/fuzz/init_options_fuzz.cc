// Fuzzes remora-init's flag parsing (argv split on newlines) and the rule generator with the
// input also as the "current table": accepted flags always yield a complete restore script.
#include <cstdint>
#include <string>
#include <vector>

#include "proxy/common/strings.h"
#include "test/fuzz/fuzz_check.h"
#include "tools/init/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args;
  for (std::string_view a : remora::split(in, '\n')) args.emplace_back(a);
  std::vector<const char*> argv{"remora-init"};
  for (const auto& a : args) argv.push_back(a.c_str());
  auto opts = remora::init::parseInitOptions(static_cast<int>(argv.size()), argv.data());
  if (opts.ok()) {
    std::string rules = remora::init::generateRules(opts->config, in);
    FUZZ_CHECK(rules.starts_with("* nat\n") && rules.ends_with("COMMIT\n"));
  }
  std::string cleanup = remora::init::generateCleanup(in);
  FUZZ_CHECK(cleanup.empty() || cleanup.ends_with("COMMIT\n"));
  return 0;
}
