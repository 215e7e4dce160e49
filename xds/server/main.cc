// remora-control: serves Envoy-format resources from a watched directory over ADS (state of
// the world and incremental) to remora, Envoy, or any xDS client.
#include <grpcpp/grpcpp.h>
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <fstream>

#include "proxy/common/flags.h"
#include "proxy/common/log.h"
#include "proxy/server/options.h"
#include "xds/server/ads_service.h"
#include "xds/server/file_source.h"

namespace {

const char* kUsage = R"(usage: remora-control --config-dir DIR [flags]

Serves the Envoy v3 resources in DIR over ADS (gRPC). Each YAML or JSON document in DIR/*.yaml
is one resource with its "@type" (Listener, Cluster, ClusterLoadAssignment, RouteConfiguration,
Secret); DIR/nodes/<node-id>/ adds to or overrides them for one node. Changes are pushed as soon
as the files settle.

  --config-dir DIR      the resources (required)
  --listen ADDR         gRPC address (default 0.0.0.0:15010; port 0 picks one)
  --port-file FILE      write the bound port here
  --debounce DUR        quiet time after a change before reloading (default 20ms; a burst is
                        applied within 100ms of its first change)
  --log-level LEVEL     trace, debug, info, warning, error (default info)
)";

uv_loop_t* g_loop = nullptr;

}  // namespace

int main(int argc, char** argv) {
  using namespace remora;
  std::string dir, listen = "0.0.0.0:15010", port_file;
  config::Duration debounce{20};
  auto flags = splitFlags(argc, argv, {"help"});
  if (!flags.ok()) {
    std::fprintf(stderr, "remora-control: %s\n\n%s", std::string(flags.status().message()).c_str(),
                 kUsage);
    return 2;
  }
  for (const auto& [flag, value] : *flags) {
    if (flag == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (flag == "config-dir") {
      dir = value;
    } else if (flag == "listen") {
      listen = value;
    } else if (flag == "port-file") {
      port_file = value;
    } else if (flag == "debounce") {
      auto d = server::parseDuration(value);
      if (!d.ok()) {
        std::fprintf(stderr, "remora-control: --debounce: %s\n",
                     std::string(d.status().message()).c_str());
        return 2;
      }
      debounce = *d;
    } else if (flag == "log-level") {
      log::Level level;
      if (!log::parseLevel(value, &level)) {
        std::fprintf(stderr, "remora-control: unknown log level '%s'\n",
                     std::string(value).c_str());
        return 2;
      }
      log::setLevel(level);
    } else {
      std::fprintf(stderr, "remora-control: unknown flag --%s\n\n%s", std::string(flag).c_str(),
                   kUsage);
      return 2;
    }
  }
  if (dir.empty()) {
    std::fprintf(stderr, "remora-control: --config-dir is required\n\n%s", kUsage);
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);

  remora::xds::SnapshotCache cache;
  remora::xds::FileSource source(dir, cache);
  if (auto s = source.reload(); !s.ok()) {
    REMORA_LOG(Error, "initial load failed; serving nothing until the files are fixed");
  }
  remora::xds::AdsService service(cache);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.SetMaxReceiveMessageSize(4 << 20);
  std::unique_ptr<grpc::Server> ads_server = builder.BuildAndStart();
  if (!ads_server || port == 0) {
    REMORA_LOG(Error, "cannot listen on %s", listen);
    return 1;
  }
  REMORA_LOG(Info, "remora-control serving ADS on %s (port %d) from %s", listen, port, dir);
  if (!port_file.empty()) std::ofstream(port_file) << port << "\n";

  uv_loop_t loop;
  uv_loop_init(&loop);
  g_loop = &loop;
  source.watch(&loop, debounce, config::Duration(100));
  uv_signal_t sigterm, sigint;
  uv_signal_init(&loop, &sigterm);
  uv_signal_init(&loop, &sigint);
  sigterm.data = sigint.data = &source;
  auto stop = [](uv_signal_t* h, int) {
    REMORA_LOG(Info, "stopping");
    static_cast<remora::xds::FileSource*>(h->data)->close();
    uv_walk(
        g_loop,
        [](uv_handle_t* x, void*) {
          if (!uv_is_closing(x)) uv_close(x, nullptr);
        },
        nullptr);
  };
  uv_signal_start(&sigterm, stop, SIGTERM);
  uv_signal_start(&sigint, stop, SIGINT);
  uv_run(&loop, UV_RUN_DEFAULT);
  ads_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  ads_server->Wait();
  uv_loop_close(&loop);
  return 0;
}
