// remora-control driven by software nobody here wrote: grpc-js-xds resolves an xds:/// target
// through it and calls the endpoint it returns.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "test/common/test_util.h"
#include "test/integration/harness.h"

namespace remora::integration {
namespace {

TEST_CASE("interop: grpc-js-xds resolves xds:/// through remora-control and calls the endpoint",
          "[interop]") {
  std::string src = testing::sourceDir();
  std::string build = testing::buildDir();
  std::string dir = Binaries::get().dir + "/control";
  std::filesystem::create_directories(dir);
  std::string port_file = Binaries::get().dir + "/control.port";
  Process control(
      {build + "/xds/remora-control", "--config-dir", dir, "--listen", "127.0.0.1:0", "--port-file",
       port_file, "--log-level", "debug", "--admin-address", "127.0.0.1:0"},
      Binaries::get().dir + "/control.log");
  std::string port;
  REQUIRE(testing::waitFor([&] {
    std::ifstream in(port_file);
    return static_cast<bool>(in >> port);
  }));
  setenv("NODE_PATH", (src + "/xds/proto/node_modules").c_str(), 1);
  std::string out;
  int rc = runCommand({"node", src + "/test/interop/grpc_js_xds_client.js", port, dir}, &out);
  INFO(out);
  INFO(control.log());
  CHECK(rc == 0);
  CHECK(out.find("OK hello over xds") != std::string::npos);
  // The client subscribed to all four types over one ADS stream and ACKed them.
  std::string log = control.log();
  CHECK(log.find("node 'grpc-js-interop'") != std::string::npos);
  CHECK(log.find("rejected") == std::string::npos);
}

}  // namespace
}  // namespace remora::integration
