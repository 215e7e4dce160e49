// Catch2's main for every remora test executable. REMORA_LOG_LEVEL=debug turns on the
// proxy's logs while a test runs.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdlib>

#include "proxy/common/log.h"

int main(int argc, char* argv[]) {
  remora::log::Level level = remora::log::Level::Warn;
  if (const char* env = std::getenv("REMORA_LOG_LEVEL")) remora::log::parseLevel(env, &level);
  remora::log::setLevel(level);
  return Catch::Session().run(argc, argv);
}
