// A sidecar configured the way Istio configures Envoy, from a static bootstrap with no
// control plane: the 15001 listener hands each connection to the listener of its original
// destination (use_original_dst), unknown destinations pass through, and the inbound
// listener restores the original destination with the original_dst listener filter.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "proxy/common/strings.h"
#include "test/common/test_util.h"
#include "test/integration/harness.h"

namespace remora::integration {
namespace {

const char* kBootstrap = R"(
node: {id: pod-a, cluster: demo}
static_resources:
  listeners:
  - name: virtualOutbound
    address: {socket_address: {address: 0.0.0.0, port_value: 15001}}
    use_original_dst: true
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: PassthroughCluster, cluster: PassthroughCluster}
  - name: 0.0.0.0_9000
    address: {socket_address: {address: 0.0.0.0, port_value: 9000}}
    bind_to_port: false
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: svc-9000, cluster: svc-9000}
  - name: virtualInbound
    address: {socket_address: {address: 0.0.0.0, port_value: 15006}}
    listener_filters:
    - name: envoy.filters.listener.original_dst
      typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst}
    filter_chains:
    - filter_chain_match: {destination_port: 15006}
      filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: BlackHoleCluster, cluster: BlackHoleCluster}
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: InboundPassthroughCluster, cluster: InboundPassthroughCluster}
  clusters:
  - name: PassthroughCluster
    type: ORIGINAL_DST
    lb_policy: CLUSTER_PROVIDED
    connect_timeout: 2s
  - name: InboundPassthroughCluster
    type: ORIGINAL_DST
    lb_policy: CLUSTER_PROVIDED
    connect_timeout: 2s
    upstream_bind_config: {source_address: {address: 127.0.0.6, port_value: 0}}
  - name: BlackHoleCluster
    type: STATIC
    connect_timeout: 2s
  - name: svc-9000
    type: STATIC
    connect_timeout: 2s
    load_assignment:
      cluster_name: svc-9000
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 192.0.2.2, port_value: 9001}}}}]}]
)";

// Serves `name` (and the peer address it saw) to every connection on ip:port in `pod`.
class NameServer {
 public:
  NameServer(Pod& pod, uint16_t port, std::string name) {
    fd_ = pod.listen("0.0.0.0", port);
    REQUIRE(fd_ >= 0);
    thread_ = std::thread([this, name] {
      while (!stop_) {
        int c = testing::acceptTcp(fd_, 100);
        if (c >= 0) {
          sockaddr_in sa{};
          socklen_t len = sizeof(sa);
          getpeername(c, reinterpret_cast<sockaddr*>(&sa), &len);
          char ip[32];
          inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
          testing::sendAll(c, cat(name, " ", ip, "\n"));
          close(c);
        }
      }
    });
  }
  ~NameServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }

 private:
  int fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string ask(Pod& from, const std::string& ip, uint16_t port) {
  int c = from.connect(ip, port);
  if (c < 0) return "";
  std::string got;
  testing::readToEnd(c, &got, 5000);
  close(c);
  if (!got.empty() && got.back() == '\n') got.pop_back();
  return got;
}

TEST_CASE(
    "netns: Istio-style static bootstrap: use_original_dst hand-off, passthrough, inbound "
    "original_dst",
    "[netns][root][xds]") {
  std::string path = Binaries::get().dir + "/pod-a-bootstrap.yaml";
  std::ofstream(path) << kBootstrap;
  chmod(path.c_str(), 0644);
  TwoPods pods({.proxy_args = {"--bootstrap", path}});
  NameServer s9000(pods.b(), 9000, "nine-thousand");
  NameServer s9001(pods.b(), 9001, "nine-thousand-one");
  NameServer s8080(pods.b(), 8080, "eighty-eighty");
  NameServer a7000(pods.a(), 7000, "pod-a-app");

  // Port 9000 has its own listener: the connection is handed to it, and its cluster sends it
  // to B's port 9001. B's sidecar delivers it from 127.0.0.6.
  CHECK(ask(pods.a(), "192.0.2.2", 9000) == "nine-thousand-one 127.0.0.6");
  // Port 8080 has no listener: the 15001 listener's own chain passes it through.
  CHECK(ask(pods.a(), "192.0.2.2", 8080) == "eighty-eighty 127.0.0.6");
  // Inbound to pod A through its xDS-configured 15006: original destination restored,
  // forwarded to the app on the pod's address from 127.0.0.6.
  CHECK(ask(pods.b(), "192.0.2.1", 7000) == "pod-a-app 127.0.0.6");

  auto st = pods.a().stats();
  CHECK(st["listener.0.0.0.0_15001.downstream_cx_handed_off"] == 1);
  CHECK(st["listener.0.0.0.0_9000.downstream_cx_total"] == 1);
  CHECK(st["cluster.svc-9000.upstream_cx_total"] == 1);
  CHECK(st["cluster.PassthroughCluster.upstream_cx_total"] == 1);
  CHECK(st["cluster.InboundPassthroughCluster.upstream_cx_total"] == 1);
  // Straight to the inbound capture port: the blackhole chain (no endpoints) refuses it.
  int c = pods.b().connect("192.0.2.1", 15006);
  if (c >= 0) {
    std::string got;
    CHECK(testing::readToEnd(c, &got, 3000) != testing::ReadEnd::Timeout);
    CHECK(got.empty());
    close(c);
  }
  // The configuration is Envoy's own layout at /config_dump.
  HttpResult dump = httpRequest(pods.a().ns(), "127.0.0.1", 15000, "GET", "/config_dump");
  CHECK(dump.body.find("\"static_listeners\"") != std::string::npos);
  CHECK(dump.body.find("\"name\": \"0.0.0.0_9000\"") != std::string::npos);
}

}  // namespace
}  // namespace remora::integration
