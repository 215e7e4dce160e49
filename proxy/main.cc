// remora: the sidecar proxy's entry point.
#include <csignal>
#include <cstdio>

#include "filters/registry.h"
#include "proxy/common/log.h"
#include "proxy/net/socket.h"
#include "proxy/server/options.h"
#include "proxy/server/server.h"

int main(int argc, char** argv) {
  using namespace remora;
  auto options = server::parseOptions(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "remora: %s\n\n%s", std::string(options.status().message()).c_str(),
                 server::usage().c_str());
    return 2;
  }
  if (options->help) {
    std::fputs(server::usage().c_str(), stdout);
    return 0;
  }
  if (options->version) {
    std::puts("remora 0.1.0");
    return 0;
  }
  log::setLevel(options->log_level);
  std::signal(SIGPIPE, SIG_IGN);
  uint64_t fds = net::raiseOpenFileLimit();
  REMORA_LOG(Info, "remora starting: concurrency %u, open file limit %d", options->concurrency,
             fds);

  auto config = server::defaultConfig(*options);
  if (!config.ok()) {
    REMORA_LOG(Error, "configuration: %s", config.status().ToString());
    return 1;
  }
  server::Server server(*options, filters::networkFilters());
  if (auto status = server.start(*config); !status.ok()) {
    REMORA_LOG(Error, "start-up failed: %s", status.message());
    server.stop();
    server.run();
    return 1;
  }
  return server.run();
}
