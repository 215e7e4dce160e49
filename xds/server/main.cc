// remora-control: serves Envoy-format resources from a watched directory over ADS (state of
// the world and incremental) to remora, Envoy, or any xDS client.
#include <grpcpp/grpcpp.h>
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <fstream>

#include "proxy/admin/http_server.h"
#include "proxy/common/flags.h"
#include "proxy/common/log.h"
#include "proxy/event/event_loop.h"
#include "proxy/server/options.h"
#include "proxy/stats/exposition.h"
#include "xds/common/load.h"
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
  --debounce DUR        quiet time after a change before reloading (default 5ms; a burst is
                        applied within 100ms of its first change)
  --admin-address ADDR  /stats and /stats/prometheus (default 127.0.0.1:15011, "" disables)
  --log-level LEVEL     trace, debug, info, warning, error (default info)
)";

uv_loop_t* g_loop = nullptr;

}  // namespace

int main(int argc, char** argv) {
  using namespace remora;
  std::string dir, listen = "0.0.0.0:15010", port_file, admin_address = "127.0.0.1:15011";
  config::Duration debounce{5};
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
    } else if (flag == "admin-address") {
      admin_address = value;
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

  // YAML files are converted by a long-lived helper process, started now while we are small.
  remora::xds::useYamlHelper();
  remora::xds::SnapshotCache cache;
  remora::xds::FileSource source(dir, cache);
  if (auto s = source.reload(); !s.ok()) {
    REMORA_LOG(Error, "initial load failed; serving nothing until the files are fixed");
  }
  remora::xds::AdsService service(cache);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  service.registerWith(builder);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.SetMaxReceiveMessageSize(4 << 20);
  std::unique_ptr<grpc::Server> ads_server = builder.BuildAndStart();
  if (!ads_server || port == 0) {
    REMORA_LOG(Error, "cannot listen on %s", listen);
    return 1;
  }
  service.start();
  REMORA_LOG(Info, "remora-control serving ADS on %s (port %d) from %s", listen, port, dir);
  if (!port_file.empty()) std::ofstream(port_file) << port << "\n";

  event::EventLoop loop("main");
  g_loop = loop.uv();
  source.watch(loop.uv(), debounce, config::Duration(100));

  // Operator stats, Envoy-style names under control_plane.*.
  stats::Store store;
  const auto& st = service.stats();
  auto scope = std::make_shared<
      stats::CallbackScope>("control_plane.", "control_plane", [&](const stats::StatVisitor& v) {
    v({"xds_streams_active", stats::Kind::Gauge, "ADS streams open", st.streams_active.load()});
    v({"xds_streams_total", stats::Kind::Counter, "ADS streams accepted",
       static_cast<int64_t>(st.streams_total.load())});
    v({"xds_responses_sent", stats::Kind::Counter, "Discovery responses sent",
       static_cast<int64_t>(st.responses_sent.load())});
    v({"xds_response_bytes", stats::Kind::Counter, "Bytes of discovery responses sent",
       static_cast<int64_t>(st.response_bytes.load())});
    v({"xds_acks", stats::Kind::Counter, "Responses ACKed", static_cast<int64_t>(st.acks.load())});
    v({"xds_nacks", stats::Kind::Counter, "Responses NACKed",
       static_cast<int64_t>(st.nacks.load())});
    v({"config_reloads", stats::Kind::Counter, "Resource directory loads applied",
       static_cast<int64_t>(source.reloads())});
    v({"config_reload_errors", stats::Kind::Counter, "Resource directory loads rejected",
       static_cast<int64_t>(source.reloadErrors())});
  });
  store.add(scope);
  std::unique_ptr<admin::HttpServer> admin_server;
  if (!admin_address.empty()) {
    auto addr = net::Address::parse(admin_address);
    if (!addr.ok()) {
      REMORA_LOG(Error, "--admin-address: %s", addr.status().message());
      return 2;
    }
    auto router = std::make_shared<admin::Router>();
    router->add("/stats", "control plane counters", false, [&](const admin::Request&) {
      admin::Response r;
      r.body = stats::renderText(store);
      return r;
    });
    router->add("/stats/prometheus", "control plane counters, Prometheus format", false,
                [&](const admin::Request&) {
                  admin::Response r;
                  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                  r.body = stats::renderPrometheus(store);
                  return r;
                });
    admin_server = std::make_unique<admin::HttpServer>(loop, "control admin", router);
    if (auto s = admin_server->listen(*addr); !s.ok()) {
      REMORA_LOG(Error, "%s", s.message());
      return 1;
    }
  }

  uv_signal_t sigterm, sigint;
  uv_signal_init(loop.uv(), &sigterm);
  uv_signal_init(loop.uv(), &sigint);
  struct StopCtx {
    remora::xds::FileSource* source;
    admin::HttpServer* admin;
    event::EventLoop* loop;
  } ctx{&source, admin_server.get(), &loop};
  sigterm.data = sigint.data = &ctx;
  auto stop = [](uv_signal_t* h, int) {
    REMORA_LOG(Info, "stopping");
    auto* c = static_cast<StopCtx*>(h->data);
    c->source->close();
    if (c->admin != nullptr) c->admin->close([] {});
    uv_walk(
        g_loop,
        [](uv_handle_t* x, void*) {
          if (x->type == UV_SIGNAL && !uv_is_closing(x)) uv_close(x, nullptr);
        },
        nullptr);
    c->loop->shutdown();
  };
  uv_signal_start(&sigterm, stop, SIGTERM);
  uv_signal_start(&sigint, stop, SIGINT);
  loop.run();
  ads_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  ads_server->Wait();
  service.shutdown();
  loop.close();
  return 0;
}
