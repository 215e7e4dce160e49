// The remora binary driven over ADS: by the real remora-control (files on disk) and by a
// scripted control plane that misbehaves on purpose. Loopback only; no root needed.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "proxy/common/strings.h"
#include "test/common/fake_ads_server.h"
#include "test/common/test_util.h"
#include "test/integration/harness.h"
#include "test/interop/proxy_under_test.h"
#include "xds/common/load.h"

namespace remora::integration {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The first line a connection through the proxy gets: the backend's name, or "" if reset.
std::string whoAnswers(uint16_t port) {
  int fd = testing::connectTcp("127.0.0.1", port, 2000);
  if (fd < 0) return "";
  std::string line;
  char c;
  while (line.size() < 64 && recv(fd, &c, 1, 0) == 1 && c != '\n') line.push_back(c);
  close(fd);
  return line;
}

std::string listenerYaml(const std::string& name, uint16_t port, const std::string& cluster) {
  return cat(
      "'@type': ", kListenerType, "\nname: ", name,
      "\naddress: {socket_address: {address: 127.0.0.1, port_value: ", port, "}}\n",
      "filter_chains: [{filters: [{name: envoy.filters.network.tcp_proxy, typed_config: {'@type': "
      "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: ",
      name, ", cluster: ", cluster, "}}]}]\n");
}

TEST_CASE("xds: remora-control drives remora - endpoints changed on disk move the traffic",
          "[xds]") {
  bool delta = GENERATE(false, true);
  INFO((delta ? "DELTA_GRPC" : "GRPC"));
  NamedBackend a("backend-a"), b("backend-b");
  std::string dir = Binaries::get().dir + cat("/cp", delta ? "-delta" : "-sotw");
  fs::create_directories(dir);
  uint16_t lport = freePort();
  writeFile(dir + "/app.yaml", listenerYaml("app", lport, "backend") + "---\n" +
                                   clusterYaml("backend") + "---\n" + claYaml("backend", a.port()));
  std::string port_file = dir + ".port";
  Process control({testing::buildDir() + "/xds/remora-control", "--config-dir", dir, "--listen",
                   "127.0.0.1:0", "--port-file", port_file, "--admin-address", "127.0.0.1:0"},
                  dir + ".log");
  int cp_port = 0;
  REQUIRE(testing::waitFor([&] {
    std::ifstream in(port_file);
    return static_cast<bool>(in >> cp_port);
  }));
  ProxyUnderTest proxy(bootstrapYaml(cp_port, delta));
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }));
  CHECK(whoAnswers(lport) == "backend-a");
  writeFile(dir + "/app.yaml", listenerYaml("app", lport, "backend") + "---\n" +
                                   clusterYaml("backend") + "---\n" + claYaml("backend", b.port()));
  CHECK(testing::waitFor([&] { return whoAnswers(lport) == "backend-b"; }, 5000));
  CHECK(proxy.stat("cluster_manager.cds.update_success") >= 1);
  CHECK(proxy.stat("cluster_manager.eds.update_success") >= 2);
  CHECK(proxy.stat("listener_manager.lds.update_success") >= 1);
  CHECK(proxy.stat("control_plane.connected_state") == 1);
  std::string dump = proxy.admin("/config_dump").body;
  // (Checked last below: a SIGTERM with the stream up exits cleanly.)
  CHECK(dump.find("\"@type\": \"type.googleapis.com/envoy.admin.v3.ClustersConfigDump\"") !=
        std::string::npos);
  CHECK(dump.find("\"dynamic_active_clusters\"") != std::string::npos);
  CHECK(dump.find(cat("\"port_value\": ", b.port())) != std::string::npos);
  CHECK(dump.find("\"last_updated\"") != std::string::npos);
  INFO(proxy.log());
  CHECK(proxy.log().find("rejected") == std::string::npos);
  proxy.process().signal(SIGTERM);
  CHECK(proxy.process().wait(10000) == 0);
  CHECK(proxy.log().find("exited cleanly") != std::string::npos);
}

TEST_CASE(
    "xds: one remora-control serves many proxies, per node, pushing only what changed for each",
    "[xds]") {
  NamedBackend a("backend-a"), b("backend-b"), c("backend-c");
  std::string dir = Binaries::get().dir + "/cp-nodes";
  fs::create_directories(dir + "/nodes/sidecar-x");
  uint16_t shared_port = freePort(), x_port = freePort(), y_port = freePort();
  // For every node: a listener to backend-a. Node sidecar-x also gets its own listener.
  writeFile(dir + "/shared.yaml", listenerYaml("shared", shared_port, "shared") + "---\n" +
                                      clusterYaml("shared") + "---\n" +
                                      claYaml("shared", a.port()));
  writeFile(dir + "/nodes/sidecar-x/own.yaml", listenerYaml("own", x_port, "own") + "---\n" +
                                                   clusterYaml("own") + "---\n" +
                                                   claYaml("own", b.port()));
  Process control({testing::buildDir() + "/xds/remora-control", "--config-dir", dir, "--listen",
                   "127.0.0.1:0", "--port-file", dir + ".port", "--admin-address", "127.0.0.1:0"},
                  dir + ".log");
  int cp_port = 0;
  REQUIRE(testing::waitFor([&] {
    std::ifstream in(dir + ".port");
    return static_cast<bool>(in >> cp_port);
  }));
  auto bootFor = [&](const std::string& node, bool delta) {
    std::string y = bootstrapYaml(cp_port, delta);
    return "node: {id: " + node + ", cluster: test}\n" + y.substr(y.find('\n') + 1);
  };
  ProxyUnderTest x(bootFor("sidecar-x", false));
  ProxyUnderTest y(bootFor("sidecar-y", true));
  REQUIRE(testing::waitFor([&] { return x.ready() && y.ready(); }));
  CHECK(whoAnswers(shared_port) == "backend-a");  // (both proxies bind it with SO_REUSEPORT)
  CHECK(whoAnswers(x_port) == "backend-b");
  CHECK(y.admin("/config_dump").body.find("\"own\"") == std::string::npos);
  CHECK(x.admin("/config_dump").body.find("\"own\"") != std::string::npos);
  // A change for sidecar-x only: x gets a push, y gets none.
  int64_t y_eds = y.stat("cluster_manager.eds.update_attempt");
  int64_t x_eds = x.stat("cluster_manager.eds.update_attempt");
  writeFile(dir + "/nodes/sidecar-x/own.yaml", listenerYaml("own", x_port, "own") + "---\n" +
                                                   clusterYaml("own") + "---\n" +
                                                   claYaml("own", c.port()));
  CHECK(testing::waitFor([&] { return whoAnswers(x_port) == "backend-c"; }, 5000));
  CHECK(x.stat("cluster_manager.eds.update_attempt") == x_eds + 1);
  std::this_thread::sleep_for(300ms);
  CHECK(y.stat("cluster_manager.eds.update_attempt") == y_eds);
  CHECK(y.stat("cluster_manager.cds.update_attempt") == 1);
  (void)y_port;
}

TEST_CASE("xds: a NACK names the resource and the field - the last good configuration stays",
          "[xds]") {
  testing::FakeAdsServer cp;
  NamedBackend a("backend-a");
  uint16_t lport = freePort();
  ProxyUnderTest proxy(bootstrapYaml(cp.port(), false));
  REQUIRE(cp.waitRequest([](const auto& r) { return r.type_url() == kClusterType; }));
  envoy::service::discovery::v3::DiscoveryResponse cds;
  cds.set_type_url(kClusterType);
  cds.set_version_info("v1");
  cds.set_nonce("n1");
  *cds.add_resources() = any(clusterYaml("backend"));
  cp.send(cds);
  REQUIRE(cp.waitRequest(
      [](const auto& r) { return r.type_url() == kEdsType && r.resource_names_size() == 1; }));
  envoy::service::discovery::v3::DiscoveryResponse eds;
  eds.set_type_url(kEdsType);
  eds.set_version_info("e1");
  eds.set_nonce("n2");
  *eds.add_resources() = any(claYaml("backend", a.port()));
  cp.send(eds);
  REQUIRE(cp.waitRequest([](const auto& r) { return r.type_url() == kListenerType; }));
  envoy::service::discovery::v3::DiscoveryResponse lds;
  lds.set_type_url(kListenerType);
  lds.set_version_info("l1");
  lds.set_nonce("n3");
  *lds.add_resources() = any(listenerYaml("app", lport, "backend"));
  cp.send(lds);
  REQUIRE(testing::waitFor([&] { return whoAnswers(lport) == "backend-a"; }));
  CHECK(proxy.ready());

  // A cluster with a field remora does not implement: NACK with the field, keep v1.
  envoy::service::discovery::v3::DiscoveryResponse bad;
  bad.set_type_url(kClusterType);
  bad.set_version_info("v2");
  bad.set_nonce("n4");
  *bad.add_resources() =
      any(clusterYaml("backend") + "lb_subset_config: {fallback_policy: ANY_ENDPOINT}\n");
  cp.send(bad);
  REQUIRE(cp.waitRequest([](const auto& r) { return r.response_nonce() == "n4"; }));
  auto reqs = cp.requests();
  const auto& nack = *std::find_if(reqs.begin(), reqs.end(),
                                   [](const auto& r) { return r.response_nonce() == "n4"; });
  CHECK(nack.has_error_detail());
  CHECK(nack.version_info() == "v1");
  CHECK(nack.error_detail().message() ==
        "cluster 'backend'.lb_subset_config: not supported by remora");
  CHECK(whoAnswers(lport) == "backend-a");
  CHECK(proxy.stat("cluster_manager.cds.update_rejected") == 1);
  CHECK(proxy.admin("/config_dump").body.find("not supported by remora") != std::string::npos);

  // Malformed, unknown and duplicate input: each NACKed, traffic never stops.
  struct Case {
    std::string nonce, type, expect;
    std::function<void(envoy::service::discovery::v3::DiscoveryResponse&)> fill;
  };
  std::vector<Case> cases = {
      {"m1", kClusterType, "malformed Cluster",
       [](auto& r) {
         auto* raw = r.add_resources();
         raw->set_type_url(kClusterType);
         raw->set_value("\xff\xff\xff\x0f not a protobuf");
       }},
      {"m2", "type.googleapis.com/example.Unknown",
       "type type.googleapis.com/example.Unknown is not supported", [](auto&) {}},
      {"m3", kClusterType, "cluster 'backend' appears twice in one response",
       [](auto& r) {
         *r.add_resources() = any(clusterYaml("backend"));
         *r.add_resources() = any(clusterYaml("backend"));
       }},
      {"m4", kListenerType, "Address already in use", nullptr},
  };
  int busy = testing::listenTcp("127.0.0.1", 0);  // a port someone else holds
  uint16_t busy_port = testing::boundPort(busy);
  cases[3].fill = [&](auto& r) {
    *r.add_resources() = any(listenerYaml("app", lport, "backend"));
    *r.add_resources() = any(listenerYaml("squatter", busy_port, "backend"));
  };
  for (auto& c : cases) {
    INFO(c.nonce);
    envoy::service::discovery::v3::DiscoveryResponse r;
    r.set_type_url(c.type);
    r.set_version_info("bad-" + c.nonce);
    r.set_nonce(c.nonce);
    c.fill(r);
    cp.send(r);
    REQUIRE(cp.waitRequest([&](const auto& q) { return q.response_nonce() == c.nonce; }));
    auto all = cp.requests();
    const auto& q = *std::find_if(all.begin(), all.end(),
                                  [&](const auto& x) { return x.response_nonce() == c.nonce; });
    CHECK(q.has_error_detail());
    CHECK(q.error_detail().message().find(c.expect) != std::string::npos);
    CHECK(whoAnswers(lport) == "backend-a");
  }
  close(busy);
  CHECK(proxy.process().running());
  CHECK(proxy.ready());
}

TEST_CASE("xds: an oversized response breaks the stream, not the proxy - it reconnects", "[xds]") {
  testing::FakeAdsServer cp;
  ProxyUnderTest proxy(bootstrapYaml(cp.port(), false, "1s"));
  REQUIRE(cp.waitRequest([](const auto& r) { return r.type_url() == kClusterType; }));
  envoy::service::discovery::v3::DiscoveryResponse huge;
  huge.set_type_url(kClusterType);
  huge.set_version_info("huge");
  huge.set_nonce("h1");
  auto* raw = huge.add_resources();
  raw->set_type_url(kClusterType);
  raw->set_value(std::string(65 << 20, 'x'));  // past the 64 MiB the client accepts
  cp.send(huge);
  // The client drops the stream (RESOURCE_EXHAUSTED) and comes back on a new one.
  REQUIRE(testing::waitFor([&] { return cp.streams() >= 2; }, 20000));
  CHECK(proxy.process().running());
  CHECK(proxy.stat("control_plane.streams_total") >= 2);
  CHECK(proxy.stat("cluster_manager.cds.update_success") == 0);
  CHECK(proxy.log().find("xds stream to") != std::string::npos);
}

TEST_CASE("xds: a static bootstrap runs with no control plane at all", "[xds]") {
  NamedBackend a("backend-a");
  uint16_t lport = freePort();
  std::string bootstrap = cat(R"(node: {id: static-only}
admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
  - name: app
    address: {socket_address: {address: 127.0.0.1, port_value: )",
                              lport, R"(}}
    filter_chains: [{filters: [{name: envoy.filters.network.tcp_proxy, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: app, cluster: backend}}]}]
  clusters:
  - name: backend
    type: STATIC
    connect_timeout: 1s
    load_assignment: {cluster_name: backend, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: )",
                              a.port(), "}}}}]}]}\n");
  ProxyUnderTest proxy(bootstrap);
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }));
  CHECK(whoAnswers(lport) == "backend-a");
  CHECK(proxy.stat("control_plane.connected_state") == -1);  // no xDS client at all
}

TEST_CASE("xds: remora --mode validate reports per resource, naming the field", "[xds]") {
  std::string dir = Binaries::get().dir + "/validate";
  fs::create_directories(dir);
  // A DiscoveryResponse as a control plane would dump it (camelCase JSON), one good cluster and
  // one with a field remora does not implement.
  writeFile(dir + "/response.json", R"({
    "versionInfo": "7", "typeUrl": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
    "resources": [
      {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "good", "type": "EDS",
       "edsClusterConfig": {"edsConfig": {"ads": {}}}},
      {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "bad", "type": "EDS",
       "edsClusterConfig": {"edsConfig": {"ads": {}}}, "lbSubsetConfig": {"fallbackPolicy": "ANY_ENDPOINT"}}
    ]})");
  std::string out;
  int rc = runCommand({testing::buildDir() + "/proxy/remora", "--mode", "validate", "--resources",
                       dir + "/response.json"},
                      &out);
  CHECK(rc == 1);
  CHECK(out.find("ACCEPT cluster 'good'\n") != std::string::npos);
  CHECK(
      out.find("REJECT cluster 'bad': cluster 'bad'.lb_subset_config: not supported by remora\n") !=
      std::string::npos);
  CHECK(out.find("1 accepted, 1 rejected") != std::string::npos);
  // Resources one per YAML document; overlapping filter chains are caught as the server would.
  writeFile(dir + "/resources.yaml",
            listenerYaml("app", 9000, "backend") + "---\n" + clusterYaml("backend") + "---\n" +
                R"('@type': type.googleapis.com/envoy.config.listener.v3.Listener
name: twins
address: {socket_address: {address: 0.0.0.0, port_value: 9001}}
filter_chains:
- filter_chain_match: {destination_port: 80}
  filters: [{name: envoy.filters.network.tcp_proxy, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: a, cluster: a}}]
- filter_chain_match: {destination_port: 80}
  filters: [{name: envoy.filters.network.tcp_proxy, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: b, cluster: b}}]
)");
  rc = runCommand({testing::buildDir() + "/proxy/remora", "--mode", "validate", "--resources",
                   dir + "/resources.yaml"},
                  &out);
  CHECK(rc == 1);
  CHECK(out.find("ACCEPT listener 'app'") != std::string::npos);
  CHECK(out.find("REJECT listener 'twins': listener 'twins': filter_chains[1]: overlaps "
                 "filter_chains[0]") != std::string::npos);
  // A bootstrap.
  writeFile(dir + "/bootstrap.yaml", bootstrapYaml(15010, true));
  rc = runCommand({testing::buildDir() + "/proxy/remora", "--mode", "validate", "--bootstrap",
                   dir + "/bootstrap.yaml"},
                  &out);
  CHECK(rc == 0);
  CHECK(out.find("ACCEPT bootstrap (ADS DELTA_GRPC to 127.0.0.1:15010, plaintext)") !=
        std::string::npos);
}

TEST_CASE("xds: a cluster without endpoints warms, then initial_fetch_timeout lets LDS go on",
          "[xds]") {
  testing::FakeAdsServer cp;
  ProxyUnderTest proxy(bootstrapYaml(cp.port(), false));
  REQUIRE(cp.waitRequest([](const auto& r) { return r.type_url() == kClusterType; }));
  CHECK_FALSE(proxy.ready());  // initializing until the first fetch is done
  envoy::service::discovery::v3::DiscoveryResponse cds;
  cds.set_type_url(kClusterType);
  cds.set_version_info("v1");
  cds.set_nonce("n1");
  *cds.add_resources() = any(clusterYaml("lonely", "1s"));  // the endpoints' own timeout
  auto sent = std::chrono::steady_clock::now();
  cp.send(cds);
  REQUIRE(cp.waitRequest(
      [](const auto& r) { return r.type_url() == kEdsType && r.resource_names_size() == 1; }));
  // Make before break: LDS is asked for only once the cluster stopped warming (timeout here).
  CHECK(proxy.admin("/config_dump").body.find("dynamic_warming_clusters") != std::string::npos);
  REQUIRE(cp.waitRequest([](const auto& r) { return r.type_url() == kListenerType; }, 5000));
  CHECK(std::chrono::steady_clock::now() - sent >= 900ms);
  // Order of first requests: CDS, then EDS, then LDS.
  auto reqs = cp.requests();
  std::vector<std::string> order;
  for (const auto& r : reqs) {
    if (std::find(order.begin(), order.end(), r.type_url()) == order.end())
      order.push_back(r.type_url());
  }
  CHECK(order == std::vector<std::string>{kClusterType, kEdsType, kListenerType});
  envoy::service::discovery::v3::DiscoveryResponse lds;
  lds.set_type_url(kListenerType);
  lds.set_version_info("l1");
  lds.set_nonce("n2");
  uint16_t lport = freePort();
  *lds.add_resources() = any(listenerYaml("app", lport, "lonely"));
  cp.send(lds);
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }));
  // The cluster is active with no endpoints: connections are refused at once.
  CHECK(whoAnswers(lport).empty());
  CHECK(proxy.stat("cluster.lonely.upstream_cx_none_healthy") == 1);
}

TEST_CASE(
    "xds: the control plane vanishes - traffic goes on - Delta resumes with "
    "initial_resource_versions",
    "[xds]") {
  testing::FakeAdsServer cp;
  NamedBackend a("backend-a");
  uint16_t lport = freePort();
  ProxyUnderTest proxy(bootstrapYaml(cp.port(), true));
  REQUIRE(cp.waitDeltaRequest([](const auto& r) { return r.type_url() == kClusterType; }));
  auto resource = [](const std::string& name, const std::string& version,
                     const google::protobuf::Any& body) {
    envoy::service::discovery::v3::Resource r;
    r.set_name(name);
    r.set_version(version);
    *r.mutable_resource() = body;
    return r;
  };
  envoy::service::discovery::v3::DeltaDiscoveryResponse cds;
  cds.set_type_url(kClusterType);
  cds.set_nonce("d1");
  *cds.add_resources() = resource("backend", "c-7", any(clusterYaml("backend")));
  cp.sendDelta(cds);
  REQUIRE(cp.waitDeltaRequest([](const auto& r) {
    return r.type_url() == kEdsType && r.resource_names_subscribe_size() == 1 &&
           r.resource_names_subscribe(0) == "backend";
  }));
  envoy::service::discovery::v3::DeltaDiscoveryResponse eds;
  eds.set_type_url(kEdsType);
  eds.set_nonce("d2");
  *eds.add_resources() = resource("backend", "e-3", any(claYaml("backend", a.port())));
  cp.sendDelta(eds);
  REQUIRE(cp.waitDeltaRequest([](const auto& r) { return r.type_url() == kListenerType; }));
  envoy::service::discovery::v3::DeltaDiscoveryResponse lds;
  lds.set_type_url(kListenerType);
  lds.set_nonce("d3");
  *lds.add_resources() = resource("app", "l-1", any(listenerYaml("app", lport, "backend")));
  cp.sendDelta(lds);
  REQUIRE(testing::waitFor([&] { return whoAnswers(lport) == "backend-a"; }));
  REQUIRE(cp.waitDeltaRequest(
      [](const auto& r) { return r.response_nonce() == "d3" && !r.has_error_detail(); }));

  cp.dropStream();
  CHECK(testing::waitFor([&] { return proxy.stat("control_plane.connected_state") == 0; }, 5000));
  CHECK(whoAnswers(lport) == "backend-a");  // the last good configuration keeps serving
  // The new stream says what the proxy has, so the server need not resend it.
  REQUIRE(cp.waitDeltaRequest(
      [](const auto& r) {
        auto it = r.initial_resource_versions().find("backend");
        return r.type_url() == kClusterType && it != r.initial_resource_versions().end() &&
               it->second == "c-7";
      },
      20000));
  CHECK(cp.streams() >= 2);
  CHECK(proxy.stat("control_plane.streams_total") >= 2);
  CHECK(whoAnswers(lport) == "backend-a");
}

TEST_CASE("xds: a listener update drains the old version's connections instead of cutting them",
          "[xds]") {
  NamedBackend a("backend-a"), b("backend-b");
  std::string dir = Binaries::get().dir + "/cp-drain";
  fs::create_directories(dir);
  uint16_t lport = freePort();
  auto config = [&](const std::string& cluster) {
    return listenerYaml("app", lport, cluster) + "---\n" + clusterYaml("one") + "---\n" +
           claYaml("one", a.port()) + "---\n" + clusterYaml("two") + "---\n" +
           claYaml("two", b.port());
  };
  writeFile(dir + "/app.yaml", config("one"));
  Process control({testing::buildDir() + "/xds/remora-control", "--config-dir", dir, "--listen",
                   "127.0.0.1:0", "--port-file", dir + ".port", "--admin-address", "127.0.0.1:0"},
                  dir + ".log");
  int cp_port = 0;
  REQUIRE(testing::waitFor([&] {
    std::ifstream in(dir + ".port");
    return static_cast<bool>(in >> cp_port);
  }));
  ProxyUnderTest proxy(bootstrapYaml(cp_port, false), {"--listener-drain-time", "2s"});
  REQUIRE(testing::waitFor([&] { return proxy.ready(); }));
  int old_conn = testing::connectTcp("127.0.0.1", lport);
  REQUIRE(old_conn >= 0);
  CHECK(testing::readExactly(old_conn, 10) == "backend-a\n");
  writeFile(dir + "/app.yaml", config("two"));
  REQUIRE(testing::waitFor([&] { return whoAnswers(lport) == "backend-b"; }, 5000));
  // The connection made before the update still works, on the old version...
  testing::sendAll(old_conn, "still here");
  CHECK(testing::readExactly(old_conn, 10, 2000) == "still here");
  // ...until the drain time is over.
  std::string rest;
  CHECK(testing::readToEnd(old_conn, &rest, 5000) == testing::ReadEnd::Reset);
  close(old_conn);
  // (The worker logs right after it resets, so the line may land just after the RST.)
  CHECK(testing::waitFor(
      [&] {
        return proxy.log().find("reset 1 connections of replaced listeners") != std::string::npos;
      },
      2000));
}

}  // namespace
}  // namespace remora::integration
