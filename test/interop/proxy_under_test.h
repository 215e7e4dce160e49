// A remora process started from a bootstrap for loopback tests, with its admin port found
// through --admin-address-path; and small helpers the loopback tests share.
#pragma once

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/common/strings.h"
#include "test/common/test_util.h"
#include "test/integration/harness.h"

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
    REQUIRE(testing::waitFor([&] {
      std::ifstream in(dir_ + "/admin");
      std::string a;
      if (!(in >> a)) return false;
      admin_port_ = static_cast<uint16_t>(std::stoi(a.substr(a.rfind(':') + 1)));
      return true;
    }));
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

}  // namespace remora::integration
