// Fuzzes the xDS text loader and every translator: the input is a YAML/JSON stream of
// resources ("@type" documents) or a bootstrap. Anything goes in; nothing may crash, and
// every rejection must name what it rejects.
#include <cstdint>
#include <string>

#include "envoy/config/bootstrap/v3/bootstrap.pb.h"
#include "filters/registry.h"
#include "test/fuzz/fuzz_check.h"
#include "xds/common/load.h"
#include "xds/translate/bootstrap.h"
#include "xds/translate/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  // The YAML conversion in this process, so that the fuzzer sees its coverage (the product
  // runs it in a limited child process).
  auto docs = remora::xds::yamlDocumentsInProcess(in);
  (void)docs;
  static const auto filters = remora::filters::networkFilters();
  auto report = remora::xds::validateResources(in, filters);
  for (const auto& line : report.lines) FUZZ_CHECK(line.ok || !line.message.empty());
  envoy::config::bootstrap::v3::Bootstrap b;
  if (remora::xds::parseMessage(in, &b).ok()) {
    remora::xds::TranslateNotes notes;
    auto bc = remora::xds::translateBootstrap(b, &notes);
    FUZZ_CHECK(bc.ok() || !bc.status().message().empty());
  }
  return 0;
}
