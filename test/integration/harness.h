// Multi-process test harness: network namespaces joined by a veth pair, processes started
// inside them (remora as UID 1337, clients, servers), sockets opened from inside a namespace
// by this test process, and small HTTP/admin helpers. Needs root.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace remora::integration {

// A child process; killed (SIGKILL) and reaped on destruction if still running.
class Process {
 public:
  Process(std::vector<std::string> argv, const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits for exit; returns the exit code (128+signal if killed), or -1 on timeout.
  int wait(int timeout_ms);
  bool running();
  const std::string& logPath() const { return log_path_; }
  std::string log() const;

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
  std::string log_path_;
};

// Runs a command to completion; returns its exit code and (merged) output.
int runCommand(const std::vector<std::string>& argv, std::string* output = nullptr);

// Where the built binaries are copied so that UID 1337 can run them.
class Binaries {
 public:
  static const Binaries& get();
  std::string dir;
  std::string remora;
  std::string remora_init;
};

// A network namespace, deleted on destruction.
class Netns {
 public:
  explicit Netns(std::string name);
  ~Netns();
  const std::string& name() const { return name_; }
  // Runs fn on a thread that has entered this namespace (sockets it makes live here).
  template <typename Fn>
  auto run(Fn fn) -> decltype(fn());
  std::vector<std::string> exec(std::vector<std::string> argv) const;

 private:
  int enterThread() const;
  std::string name_;
};

struct PodOptions {
  std::vector<std::string> proxy_args = {};  // extra remora flags
  std::vector<std::string> init_args = {};   // extra remora-init flags
  bool start_proxy = true;
};

// A pod: a namespace with an address on the shared veth link, remora-init rules and a remora
// running as UID 1337.
class Pod {
 public:
  Pod(const std::string& name, const std::string& ip, PodOptions options);
  ~Pod();
  Netns& ns() { return *ns_; }
  const std::string& ip() const { return ip_; }
  Process& proxy() { return *proxy_; }
  void startProxy();
  // remora's /stats parsed into name -> value (from 127.0.0.1:15000 inside the pod).
  std::map<std::string, int64_t> stats();
  int64_t stat(const std::string& name);
  // Sockets made inside the pod, as an unmodified application would make them.
  int connect(const std::string& ip, uint16_t port, int timeout_ms = 5000);
  int listen(const std::string& ip, uint16_t port);
  int proxyFds();
  // The proxy's fd count once it stops changing (admin connections of readiness checks and
  // stats reads may still be closing right after they were answered).
  int settledProxyFds();
  // ls -l /proc/<pid>/fd and ss of the pod, for failure messages.
  std::string describeProxyFds();

 private:
  std::unique_ptr<Netns> ns_;
  std::string ip_;
  PodOptions options_;
  std::unique_ptr<Process> proxy_;
  std::string log_dir_;
};

// Two pods joined by a veth pair: A at 192.0.2.1, B at 192.0.2.2.
class TwoPods {
 public:
  explicit TwoPods(PodOptions a = {}, PodOptions b = {});
  ~TwoPods();
  Pod& a() { return *a_; }
  Pod& b() { return *b_; }
  // The names of the veth pair's ends, in pod A and in pod B (for tcpdump -i).
  std::string linkA() const { return prefix_ + "a0"; }
  std::string linkB() const { return prefix_ + "b0"; }

 private:
  std::string prefix_;
  std::unique_ptr<Pod> a_;
  std::unique_ptr<Pod> b_;
};

struct HttpResult {
  int status = 0;
  std::string body;
};
// One HTTP/1.1 request over a new connection made inside `ns`.
HttpResult httpRequest(Netns& ns, const std::string& ip, uint16_t port, const std::string& method,
                       const std::string& path);

// A unique short prefix for namespace and link names of this test process.
std::string uniquePrefix();

}  // namespace remora::integration

#include "test/integration/harness_inl.h"
