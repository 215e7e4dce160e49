// A remora process started from a bootstrap for loopback tests, with its admin port found
// through --admin-address-path; and small helpers the loopback tests share.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/any.pb.h>

#include "proxy/common/strings.h"
#include "test/common/test_util.h"
#include "test/integration/harness.h"
#include "xds/common/load.h"

namespace remora::integration {

inline uint16_t freePort() {
  int fd = testing::listenTcp("127.0.0.1", 0);
  uint16_t p = testing::boundPort(fd);
  close(fd);
  return p;
}

// Writes a file atomically (a watcher sees one complete version).
inline void writeFile(const std::string& path, const std::string& text) {
  namespace fs = std::filesystem;
  std::string tmp =
      fs::path(path).parent_path() / ("." + fs::path(path).filename().string() + ".tmp");
  std::ofstream(tmp) << text;
  fs::rename(tmp, path);
}

class ProxyUnderTest {
 public:
  explicit ProxyUnderTest(const std::string& bootstrap_yaml, std::vector<std::string> extra = {}) {
    dir_ = Binaries::get().dir + "/" + cat("proxy", counter_++, "-", getpid());
    std::filesystem::create_directories(dir_);
    writeFile(dir_ + "/bootstrap.yaml", bootstrap_yaml);
    std::vector<std::string> argv{testing::buildDir() + "/proxy/remora",
                                  "--bootstrap",
                                  dir_ + "/bootstrap.yaml",
                                  "--concurrency",
                                  "1",
                                  "--prometheus-address=",
                                  "--health-address=",
                                  "--admin-address-path",
                                  dir_ + "/admin",
                                  "--log-level",
                                  "debug"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<Process>(argv, dir_ + "/remora.log");
    bool up = testing::waitFor([&] {
      std::ifstream in(dir_ + "/admin");
      std::string a;
      if (!(in >> a)) return false;
      admin_port_ = static_cast<uint16_t>(std::stoi(a.substr(a.rfind(':') + 1)));
      return true;
    });
    INFO("remora did not start; its log:\n" << proc_->log());
    REQUIRE(up);
  }
  HttpResult admin(const std::string& path, const std::string& method = "GET") {
    return hostHttp(admin_port_, method, path);
  }
  int64_t stat(const std::string& name) {
    HttpResult r = admin("/stats");
    for (std::string_view line : split(r.body, '\n', true)) {
      if (line.starts_with(name + ": ")) {
        int64_t v = -1;
        parseInt(line.substr(name.size() + 2), &v);
        return v;
      }
    }
    return -1;
  }
  bool ready() { return admin("/ready").status == 200; }
  std::string log() { return proc_->log(); }
  Process& process() { return *proc_; }
  const std::string& dir() const { return dir_; }

  static HttpResult hostHttp(uint16_t port, const std::string& method, const std::string& path) {
    HttpResult r;
    int fd = testing::connectTcp("127.0.0.1", port, 2000);
    if (fd < 0) return r;
    testing::sendAll(fd,
                     cat(method, " ", path, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    std::string resp;
    testing::readToEnd(fd, &resp, 5000);
    close(fd);
    if (resp.size() > 12) parseInt(std::string_view(resp).substr(9, 3), &r.status);
    size_t body = resp.find("\r\n\r\n");
    if (body != std::string::npos) r.body = resp.substr(body + 4);
    return r;
  }

 private:
  static inline std::atomic<int> counter_{0};
  std::string dir_;
  std::unique_ptr<Process> proc_;
  uint16_t admin_port_ = 0;
};

constexpr const char* kListenerType = "type.googleapis.com/envoy.config.listener.v3.Listener";
constexpr const char* kClusterType = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
constexpr const char* kEdsType =
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

// A backend that answers every connection with its name and keeps the connection open
// until the client closes it (so a test can keep a session alive across a change).
class NamedBackend {
 public:
  explicit NamedBackend(std::string name) : name_(std::move(name)) {
    fd_ = testing::listenTcp("127.0.0.1", 0);
    port_ = testing::boundPort(fd_);
    thread_ = std::thread([this] {
      while (!stop_) {
        int c = testing::acceptTcp(fd_, 100);
        if (c < 0) continue;
        std::thread([c, n = name_] {
          testing::sendAll(c, n + "\n");
          // Echo until the client closes.
          std::string got;
          char buf[4096];
          for (;;) {
            ssize_t r = recv(c, buf, sizeof(buf), 0);
            if (r <= 0) break;
            testing::sendAll(c, std::string_view(buf, static_cast<size_t>(r)));
          }
          close(c);
        }).detach();
      }
    });
  }
  ~NamedBackend() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  std::string name_;
  int fd_;
  uint16_t port_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// test/interop/http_upstream.py in its own process.
class Upstream {
 public:
  Upstream() {
    dir_ = Binaries::get().dir + "/" + cat("upstream", counter_++, "-", getpid());
    std::filesystem::create_directories(dir_);
    proc_ = std::make_unique<Process>(
        std::vector<std::string>{"python3", testing::sourceDir() + "/test/interop/http_upstream.py",
                                 dir_ + "/port", dir_ + "/requests"},
        dir_ + "/upstream.log");
    REQUIRE(testing::waitFor([&] {
      std::ifstream in(dir_ + "/port");
      return static_cast<bool>(in >> port_);
    }));
  }
  uint16_t port() const { return port_; }
  // Requests it has received ("METHOD /path" lines).
  std::vector<std::string> requests() const {
    std::ifstream in(dir_ + "/requests");
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  static inline int counter_ = 0;
  std::string dir_;
  std::unique_ptr<Process> proc_;
  uint16_t port_ = 0;
};

// A bootstrap that takes everything from ADS at 127.0.0.1:ads_port.
inline std::string bootstrapYaml(int ads_port, bool delta,
                                 const std::string& fetch_timeout = "15s") {
  return cat(R"(node: {id: sidecar-under-test, cluster: test}
admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
dynamic_resources:
  ads_config:
    api_type: )",
             delta ? "DELTA_GRPC" : "GRPC", R"(
    transport_api_version: V3
    grpc_services: [{envoy_grpc: {cluster_name: xds_cluster}}]
  cds_config: {ads: {}, resource_api_version: V3, initial_fetch_timeout: )",
             fetch_timeout, R"(}
  lds_config: {ads: {}, resource_api_version: V3, initial_fetch_timeout: )",
             fetch_timeout, R"(}
static_resources:
  clusters:
  - name: xds_cluster
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: xds_cluster
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: )",
             ads_port, "}}}}]}]\n");
}

// An EDS cluster over ADS (`fetch_timeout`: eds_config's initial_fetch_timeout), and its
// one-endpoint ClusterLoadAssignment on loopback.
inline std::string clusterYaml(const std::string& name, const std::string& fetch_timeout = "15s") {
  return cat("'@type': ", kClusterType, "\nname: ", name,
             "\ntype: EDS\nconnect_timeout: 1s\neds_cluster_config: {eds_config: {ads: {}, "
             "resource_api_version: V3, initial_fetch_timeout: ",
             fetch_timeout, "}}\n");
}

inline std::string claYaml(const std::string& name, uint16_t port) {
  return cat(
      "'@type': ", kEdsType, "\ncluster_name: ", name,
      "\nendpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, "
      "port_value: ",
      port, "}}}}]}]\n");
}

// A resource from YAML, as an Any.
inline google::protobuf::Any any(const std::string& yaml) {
  google::protobuf::Any a;
  auto st = xds::parseMessage(yaml, &a);
  INFO(st.ToString());
  REQUIRE(st.ok());
  return a;
}

}  // namespace remora::integration
