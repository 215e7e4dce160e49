// mTLS between two pods' sidecars, as root, in network namespaces joined by a veth pair:
// identities from a remora-control CA started by the test (reached over a unix socket, which
// network namespaces do not separate), iptables capture by remora-init, tcpdump on the veth.
// The wire between the pods carries a TLS handshake and no plaintext; the server sidecar
// logs the client's SPIFFE ID; the application behind it gets plaintext.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "proxy/common/strings.h"
#include "test/common/test_util.h"
#include "test/integration/harness.h"

namespace remora::integration {
namespace {

namespace fs = std::filesystem;

constexpr const char* kClientId = "spiffe://cluster.local/ns/a/sa/client";
constexpr const char* kServerId = "spiffe://cluster.local/ns/b/sa/server";
constexpr const char* kRequestMarker = "plaintext-request-4d1f9c";
constexpr const char* kReplyMarker = "plaintext-reply-8e27a0";

// The sds_config Istio gives the local identity's secrets (served by the identity provider).
constexpr const char* kLocalSds =
    "{api_config_source: {api_type: GRPC, transport_api_version: V3, grpc_services: "
    "[{envoy_grpc: {cluster_name: sds-grpc}}]}}";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Pod A (ns a, sa client): the outbound capture hands 192.0.2.2:8080 to a listener whose
// cluster speaks mTLS to pod B, expecting pod B's identity; everything else passes through.
std::string clientBootstrap() {
  return cat(R"(node: {id: pod-a, cluster: client}
static_resources:
  listeners:
  - name: virtualOutbound
    address: {socket_address: {address: 0.0.0.0, port_value: 15001}}
    use_original_dst: true
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: PassthroughCluster, cluster: PassthroughCluster}
  - name: 0.0.0.0_8080
    address: {socket_address: {address: 0.0.0.0, port_value: 8080}}
    bind_to_port: false
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: outbound_8080, cluster: "outbound|8080||server.b.svc.cluster.local"}
  clusters:
  - name: PassthroughCluster
    type: ORIGINAL_DST
    lb_policy: CLUSTER_PROVIDED
    connect_timeout: 2s
  - name: "outbound|8080||server.b.svc.cluster.local"
    type: STATIC
    connect_timeout: 2s
    load_assignment:
      cluster_name: server
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 192.0.2.2, port_value: 8080}}}}]}]
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: outbound_.8080_._.server.b.svc.cluster.local
        common_tls_context:
          alpn_protocols: [istio, http/1.1]
          tls_certificate_sds_secret_configs: [{name: default, sds_config: )",
             kLocalSds, R"(}]
          combined_validation_context:
            default_validation_context:
              match_typed_subject_alt_names: [{san_type: URI, matcher: {exact: ")",
             kServerId, R"("}}]
            validation_context_sds_secret_config: {name: ROOTCA, sds_config: )",
             kLocalSds, "}\n");
}

// Pod B (ns b, sa server): the inbound capture restores the original destination; port 8080
// over TLS from namespace a is terminated (STRICT: nothing else matches) and sent as plain
// HTTP to the app on 127.0.0.1:8080, with the peer's SPIFFE ID in the access log.
std::string serverBootstrap(const std::string& access_log) {
  return cat(
      R"(node: {id: pod-b, cluster: server}
static_resources:
  listeners:
  - name: virtualInbound
    address: {socket_address: {address: 0.0.0.0, port_value: 15006}}
    listener_filters:
    - name: envoy.filters.listener.original_dst
      typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst}
    - name: envoy.filters.listener.tls_inspector
      typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector}
    filter_chains:
    - name: inbound_8080_mtls
      filter_chain_match: {destination_port: 8080, transport_protocol: tls}
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            alpn_protocols: [istio, http/1.1]
            tls_certificate_sds_secret_configs: [{name: default, sds_config: )",
      kLocalSds, R"(}]
            combined_validation_context:
              default_validation_context:
                match_typed_subject_alt_names: [{san_type: URI, matcher: {prefix: "spiffe://cluster.local/ns/a/"}}]
              validation_context_sds_secret_config: {name: ROOTCA, sds_config: )",
      kLocalSds, R"(}
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: inbound_8080
          access_log:
          - name: envoy.access_loggers.file
            typed_config: {'@type': type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog, path: )",
      access_log,
      R"(, log_format: {text_format_source: {inline_string: "%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% peer=%DOWNSTREAM_PEER_URI_SAN% tls=%DOWNSTREAM_TLS_VERSION%\n"}}}
          route_config:
            virtual_hosts:
            - name: inbound
              domains: ['*']
              routes: [{match: {prefix: /}, route: {cluster: "inbound|8080||"}}]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  clusters:
  - name: "inbound|8080||"
    type: STATIC
    connect_timeout: 2s
    load_assignment:
      cluster_name: inbound
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8080}}}}]}]
)");
}

// The TCP payloads of a pcap file (Ethernet, IPv4), each with its ports.
struct Segment {
  uint16_t src_port = 0, dst_port = 0;
  std::string payload;
};

std::vector<Segment> tcpSegments(const std::string& pcap) {
  std::vector<Segment> out;
  auto u16be = [&](size_t at) {
    return static_cast<uint16_t>((static_cast<uint8_t>(pcap[at]) << 8) |
                                 static_cast<uint8_t>(pcap[at + 1]));
  };
  auto u32le = [&](size_t at) {
    uint32_t v = 0;
    std::memcpy(&v, pcap.data() + at, 4);  // written by tcpdump on this (little-endian) host
    return v;
  };
  if (pcap.size() < 24 || u32le(20) != 1) return out;  // LINKTYPE_ETHERNET only
  for (size_t pos = 24; pos + 16 <= pcap.size();) {
    uint32_t caplen = u32le(pos + 8);
    size_t frame = pos + 16;
    pos = frame + caplen;
    if (pos > pcap.size() || caplen < 14 + 20) break;
    if (u16be(frame + 12) != 0x0800) continue;  // IPv4 only
    size_t ip = frame + 14;
    size_t ihl = (static_cast<uint8_t>(pcap[ip]) & 0x0f) * 4u;
    if (static_cast<uint8_t>(pcap[ip + 9]) != 6) continue;  // TCP
    size_t ip_total = u16be(ip + 2);
    size_t tcp = ip + ihl;
    if (tcp + 20 > frame + caplen) continue;
    size_t doff = (static_cast<uint8_t>(pcap[tcp + 12]) >> 4) * 4u;
    size_t end = std::min(ip + ip_total, frame + caplen);
    if (tcp + doff >= end) continue;
    out.push_back({u16be(tcp), u16be(tcp + 2), pcap.substr(tcp + doff, end - tcp - doff)});
  }
  return out;
}

// The app in pod B: one HTTP/1.1 exchange; keeps what it received and whom from.
struct App {
  std::string request;
  std::string peer;
  std::thread thread;
  explicit App(int listen_fd) {
    thread = std::thread([this, listen_fd] {
      int fd = testing::acceptTcp(listen_fd, 20000);
      if (fd < 0) return;
      sockaddr_in sa{};
      socklen_t len = sizeof(sa);
      getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len);
      char ip[32];
      inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
      peer = ip;
      // Headers, then the body its content-length announces.
      while (request.find("\r\n\r\n") == std::string::npos) {
        std::string more = testing::readExactly(fd, 1, 10000);
        if (more.empty()) break;
        request += more;
      }
      request += testing::readExactly(fd, std::strlen(kRequestMarker), 10000);
      testing::sendAll(fd, cat("HTTP/1.1 200 OK\r\ncontent-length: ", std::strlen(kReplyMarker),
                               "\r\nconnection: close\r\n\r\n", kReplyMarker));
      close(fd);
    });
  }
  ~App() {
    if (thread.joinable()) thread.join();
  }
};

TEST_CASE(
    "netns: mTLS between two pods' sidecars with identities from remora-control - TLS on the "
    "veth, the peer's SPIFFE ID at the server, plaintext at the app",
    "[netns][root][mtls]") {
  // Everything the sidecars (UID 1337) read lives in a world-readable directory.
  std::string dir = Binaries::get().dir + "/" + uniquePrefix() + "-mtls";
  fs::create_directories(dir + "/logs");
  chmod(dir.c_str(), 0755);
  chmod((dir + "/logs").c_str(), 0777);  // the sidecars write their access logs here
  std::string control_bin = testing::buildDir() + "/xds/remora-control";
  std::string socket_path = dir + "/ca.sock";

  // The control plane's CA, in the host namespace, on a unix socket both pods can reach.
  fs::create_directories(dir + "/resources");
  Process control(
      {control_bin, "--config-dir", dir + "/resources", "--listen", "unix:" + socket_path,
       "--port-file", dir + "/cp.port", "--admin-address", "127.0.0.1:0", "--ca-dir", dir + "/ca"},
      dir + "/control.log");
  bool listening = testing::waitFor([&] { return fs::exists(dir + "/cp.port"); });
  INFO("remora-control:\n" << control.log());
  REQUIRE(listening);
  REQUIRE(fs::exists(socket_path));
  chmod(socket_path.c_str(), 0777);  // connect(2) on a unix socket needs write permission
  auto token = [&](const std::string& ns, const std::string& sa) {
    std::string out;
    int rc = runCommand({control_bin, "issue-token", "--ca-dir", dir + "/ca", "--namespace", ns,
                         "--service-account", sa, "--ttl", "1h"},
                        &out);
    INFO(out);
    REQUIRE(rc == 0);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    std::string path = cat(dir, "/", ns, "-", sa, ".token");
    std::ofstream(path) << out.substr(out.rfind('\n') + 1);
    chmod(path.c_str(), 0644);
    return path;
  };
  std::string a_token = token("a", "client");
  std::string b_token = token("b", "server");
  std::string a_bootstrap = dir + "/pod-a.yaml", b_bootstrap = dir + "/pod-b.yaml";
  std::string access_log = dir + "/logs/pod-b-access.log";
  std::ofstream(a_bootstrap) << clientBootstrap();
  std::ofstream(b_bootstrap) << serverBootstrap(access_log);
  chmod(a_bootstrap.c_str(), 0644);
  chmod(b_bootstrap.c_str(), 0644);
  auto identity = [&](const std::string& bootstrap, const std::string& token_file,
                      const std::string& ns, const std::string& sa) {
    return std::vector<std::string>{
        "--bootstrap",           bootstrap,  "--ca-address", "unix:" + socket_path,
        "--identity-token-file", token_file, "--namespace",  ns,
        "--service-account",     sa};
  };
  // Readiness (which TwoPods waits for) includes the first certificate from the CA.
  TwoPods pods({.proxy_args = identity(a_bootstrap, a_token, "a", "client")},
               {.proxy_args = identity(b_bootstrap, b_token, "b", "server")});
  INFO("pod A sidecar:\n"
       << pods.a().proxy().log() << "\npod B sidecar:\n"
       << pods.b().proxy().log());

  // tcpdump on pod A's end of the veth pair, writing each packet as it comes.
  std::string pcap = dir + "/veth.pcap";
  std::string veth = pods.linkA();
  Process tcpdump(pods.a().ns().exec({"tcpdump", "-i", veth, "-n", "-s", "0", "-U",
                                      "--immediate-mode", "-Z", "root", "-w", pcap}),
                  dir + "/tcpdump.log");
  bool capturing = testing::waitFor(
      [&] { return tcpdump.log().find("listening on") != std::string::npos; }, 10000);
  INFO("tcpdump: " << tcpdump.log());
  REQUIRE(capturing);

  int lfd = pods.b().listen("0.0.0.0", 8080);
  REQUIRE(lfd >= 0);
  std::string response;
  {
    App app(lfd);
    // The app in pod A talks plain HTTP to pod B's address, as an unmodified app would.
    int c = pods.a().connect("192.0.2.2", 8080);
    REQUIRE(c >= 0);
    testing::sendAll(c, cat("POST /orders HTTP/1.1\r\nhost: server.b.svc\r\nconnection: close\r\n"
                            "content-length: ",
                            std::strlen(kRequestMarker), "\r\n\r\n", kRequestMarker));
    testing::readToEnd(c, &response, 10000);
    close(c);
    app.thread.join();
    // The app got plaintext, from the sidecar in its own pod.
    CHECK(app.request.find("POST /orders HTTP/1.1") == 0);
    CHECK(app.request.find(kRequestMarker) != std::string::npos);
    CHECK(app.peer == "127.0.0.1");
  }
  CHECK(response.find("HTTP/1.1 200") == 0);
  CHECK(response.find(kReplyMarker) != std::string::npos);
  // STRICT: plaintext that skips pod A's sidecar (a process of UID 1337 is not captured) is
  // refused by pod B's sidecar and never reaches the app.
  std::string curl_out;
  int curl_rc = runCommand(
      pods.a().ns().exec({"setpriv", "--reuid=1337", "--regid=1337", "--clear-groups", "curl",
                          "-sS", "--max-time", "5", "http://192.0.2.2:8080/sneaky"}),
      &curl_out);
  INFO("plaintext curl: " << curl_out);
  CHECK(curl_rc != 0);
  CHECK(testing::acceptTcp(lfd, 500) < 0);
  close(lfd);
  CHECK(pods.b().stat("listener.0.0.0.0_15006.no_filter_chain_match") == 1);

  // The server sidecar verified and logged the client's identity.
  std::string log;
  CHECK(testing::waitFor([&] {
    log = slurp(access_log);
    return !log.empty();
  }));
  INFO("access log: " << log);
  CHECK(log.find(cat("POST /orders 200 peer=", kClientId, " tls=TLSv1.3")) != std::string::npos);

  // Stop the capture cleanly (SIGINT flushes and prints the count), then read it.
  tcpdump.signal(SIGINT);
  CHECK(tcpdump.wait(5000) == 0);
  std::string summary = tcpdump.log();
  INFO("tcpdump: " << summary);
  CHECK(summary.find(" packets captured") != std::string::npos);
  CHECK(summary.find("\n0 packets captured") == std::string::npos);
  std::string wire = slurp(pcap);
  std::vector<Segment> segments = tcpSegments(wire);
  REQUIRE_FALSE(segments.empty());
  // A TLS handshake on the hop: pod A's sidecar opens with a ClientHello record (16 03 ..
  // then handshake type 1) to port 8080, and application data records follow both ways.
  bool client_hello = false, data_to_b = false, data_to_a = false;
  for (const auto& s : segments) {
    const std::string& p = s.payload;
    if (s.dst_port == 8080 && p.size() > 5 && p[0] == 0x16 && p[1] == 0x03 && p[5] == 0x01) {
      client_hello = true;
    }
    if (p.size() > 3 && p[0] == 0x17 && p[1] == 0x03 && p[2] == 0x03) {
      (s.dst_port == 8080 ? data_to_b : data_to_a) = true;
    }
  }
  CHECK(client_hello);
  CHECK(data_to_b);
  CHECK(data_to_a);
  // And no plaintext, in any packet.
  CHECK(wire.find(kRequestMarker) == std::string::npos);
  CHECK(wire.find(kReplyMarker) == std::string::npos);
  CHECK(wire.find("POST /orders") == std::string::npos);
}

}  // namespace
}  // namespace remora::integration
