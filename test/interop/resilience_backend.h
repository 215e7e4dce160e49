// resilience_backend.py as a process the interop tests control (its mode file, its request
// log), one-shot requests, and a static bootstrap with one route to cluster "svc".
#pragma once

#include <signal.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "test/interop/proxy_under_test.h"

namespace remora::integration {

// A resilience_backend.py process: its name in every answer, every request logged.
class Backend {
 public:
  explicit Backend(std::string name) : name_(std::move(name)) {
    dir_ = Binaries::get().dir + "/" + cat("rbackend-", name_, "-", counter_++, "-", getpid());
    std::filesystem::create_directories(dir_);
    start();
  }
  void start() {
    std::filesystem::remove(dir_ + "/port");
    std::vector<std::string> argv{
        "python3",          testing::sourceDir() + "/test/interop/resilience_backend.py",
        dir_ + "/port",     name_,
        dir_ + "/requests", dir_ + "/mode"};
    if (port_ != 0) argv.push_back(cat(port_));  // a restart listens where it did
    proc_ = std::make_unique<Process>(argv, dir_ + "/backend.log");
    REQUIRE(testing::waitFor([&] {
      std::ifstream in(dir_ + "/port");
      return static_cast<bool>(in >> port_);
    }));
  }
  void kill() {
    proc_->signal(SIGKILL);
    proc_->wait(5000);
  }
  void setMode(const std::string& mode) { writeFile(dir_ + "/mode", mode); }
  uint16_t port() const { return port_; }
  const std::string& name() const { return name_; }
  size_t requests() const { return requestsExcept(""); }
  // Requests whose path is not `path` (health checks left out of a count of traffic).
  size_t requestsExcept(const std::string& path) const {
    std::ifstream in(dir_ + "/requests");
    size_t n = 0;
    for (std::string line; std::getline(in, line);) {
      n += path.empty() || !line.ends_with(" " + path) ? 1 : 0;
    }
    return n;
  }

 private:
  static inline int counter_ = 0;
  std::string name_;
  std::string dir_;
  std::unique_ptr<Process> proc_;
  uint16_t port_ = 0;
};

struct Reply {
  int status = 0;
  std::string body;
  std::string headers;
  double ms = 0;
};

// One request on its own connection, with extra header lines ("name: value\r\n").
inline Reply request(uint16_t port, const std::string& path, const std::string& extra = "") {
  auto t0 = std::chrono::steady_clock::now();
  Reply r;
  int fd = testing::connectTcp("127.0.0.1", port, 2000);
  if (fd < 0) return r;
  testing::sendAll(
      fd, cat("GET ", path, " HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n", extra, "\r\n"));
  std::string resp;
  testing::readToEnd(fd, &resp, 20000);
  close(fd);
  if (resp.size() > 12) parseInt(std::string_view(resp).substr(9, 3), &r.status);
  size_t body = resp.find("\r\n\r\n");
  if (body != std::string::npos) {
    r.headers = resp.substr(0, body);
    r.body = resp.substr(body + 4);
  }
  r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// A static bootstrap: one HTTP listener whose only route goes to cluster "svc" over
// `backends`, with `route_extra` in the route action and `cluster_extra` in the cluster.
inline std::string bootstrap(uint16_t listen_port, const std::vector<uint16_t>& backends,
                             const std::string& route_extra, const std::string& cluster_extra,
                             const std::string& route_match_extra = "") {
  std::string eps;
  for (uint16_t p : backends) {
    eps +=
        cat("        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ", p,
            "}}}\n");
  }
  return cat(R"(admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
  - name: http
    address: {socket_address: {address: 127.0.0.1, port_value: )",
             listen_port, R"(}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          route_config:
            virtual_hosts:
            - name: all
              domains: ['*']
              routes:
              - match: {prefix: /)",
             route_match_extra, R"(}
                route:
                  cluster: svc
)",
             route_extra, R"(
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  clusters:
  - name: svc
    type: STATIC
    connect_timeout: 1s
)",
             cluster_extra, R"(
    load_assignment:
      cluster_name: svc
      endpoints:
      - lb_endpoints:
)",
             eps);
}

}  // namespace remora::integration
