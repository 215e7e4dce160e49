// Test harness implementation.
#include "test/integration/harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "proxy/common/strings.h"
#include "test/common/test_util.h"

namespace remora::integration {
namespace fs = std::filesystem;

// --- Process ---

Process::Process(std::vector<std::string> argv, const std::string& log_path) : log_path_(log_path) {
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    setpgid(0, 0);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
}

Process::~Process() {
  if (running()) {
    signal(SIGKILL);
    wait(5000);
  }
}

void Process::signal(int sig) {
  if (pid_ > 0 && !reaped_) kill(pid_, sig);
}

bool Process::running() {
  if (reaped_ || pid_ <= 0) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = st;
    return false;
  }
  return true;
}

int Process::wait(int timeout_ms) {
  if (!testing::waitFor([&] { return !running(); }, timeout_ms)) return -1;
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

std::string Process::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int runCommand(const std::vector<std::string>& argv, std::string* output) {
  char path[] = "/tmp/remora-cmd-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  int rc;
  {
    Process p(argv, path);
    rc = p.wait(60000);
  }
  if (output != nullptr) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    *output = ss.str();
  }
  unlink(path);
  return rc;
}

// --- Binaries ---

const Binaries& Binaries::get() {
  static Binaries* b = [] {
    auto* bin = new Binaries;
    std::string build_dir = testing::buildDir();
    char tmpl[] = "/tmp/remora-it-XXXXXX";
    bin->dir = mkdtemp(tmpl);
    chmod(bin->dir.c_str(), 0755);
    bin->remora = bin->dir + "/remora";
    bin->remora_init = bin->dir + "/remora-init";
    fs::copy_file(build_dir + "/proxy/remora", bin->remora, fs::copy_options::overwrite_existing);
    fs::copy_file(build_dir + "/tools/init/remora-init", bin->remora_init,
                  fs::copy_options::overwrite_existing);
    chmod(bin->remora.c_str(), 0755);
    chmod(bin->remora_init.c_str(), 0755);
    // Logs stay for a look after a failure when REMORA_KEEP_TEST_DIR is set.
    if (std::getenv("REMORA_KEEP_TEST_DIR") == nullptr) {
      std::atexit([] {
        std::error_code ec;
        fs::remove_all(Binaries::get().dir, ec);
      });
    }
    return bin;
  }();
  return *b;
}

// --- Netns ---

Netns::Netns(std::string name) : name_(std::move(name)) {
  runCommand({"ip", "netns", "del", name_});  // left over from a crashed run
  std::string out;
  int rc = runCommand({"ip", "netns", "add", name_}, &out);
  INFO(out);
  REQUIRE(rc == 0);
  REQUIRE(runCommand(exec({"ip", "link", "set", "lo", "up"})) == 0);
}

Netns::~Netns() { runCommand({"ip", "netns", "del", name_}); }

std::vector<std::string> Netns::exec(std::vector<std::string> argv) const {
  argv.insert(argv.begin(), {"ip", "netns", "exec", name_});
  return argv;
}

int Netns::enterThread() const {
  int fd = open(("/var/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0 && setns(fd, CLONE_NEWNET) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// --- Pod ---

Pod::Pod(const std::string& name, const std::string& ip, PodOptions options)
    : ns_(std::make_unique<Netns>(name)), ip_(ip), options_(std::move(options)) {
  log_dir_ = Binaries::get().dir;
}

Pod::~Pod() {
  if (proxy_) {
    proxy_->signal(SIGKILL);
    proxy_->wait(5000);
  }
}

void Pod::startProxy() {
  const Binaries& bin = Binaries::get();
  std::vector<std::string> init = ns_->exec({bin.remora_init});
  init.insert(init.end(), options_.init_args.begin(), options_.init_args.end());
  std::string out;
  int rc = runCommand(init, &out);
  INFO(out);
  REQUIRE(rc == 0);
  if (!options_.start_proxy) return;
  std::vector<std::string> argv = ns_->exec({"setpriv", "--reuid=1337", "--regid=1337",
                                             "--clear-groups", bin.remora, "--concurrency", "2"});
  argv.insert(argv.end(), options_.proxy_args.begin(), options_.proxy_args.end());
  proxy_ = std::make_unique<Process>(argv, log_dir_ + "/" + ns_->name() + ".log");
  bool ready = testing::waitFor(
      [&] {
        if (!proxy_->running()) return true;
        return httpRequest(*ns_, "127.0.0.1", 15000, "GET", "/ready").status == 200;
      },
      10000);
  INFO(proxy_->log());
  REQUIRE(ready);
  REQUIRE(proxy_->running());
}

std::map<std::string, int64_t> Pod::stats() {
  std::map<std::string, int64_t> out;
  HttpResult r = httpRequest(*ns_, "127.0.0.1", 15000, "GET", "/stats");
  for (std::string_view line : split(r.body, '\n', true)) {
    size_t colon = line.find(": ");
    if (colon == std::string_view::npos) continue;
    int64_t v = 0;
    parseInt(line.substr(colon + 2), &v);
    out[std::string(line.substr(0, colon))] = v;
  }
  return out;
}

int64_t Pod::stat(const std::string& name) {
  auto s = stats();
  auto it = s.find(name);
  return it == s.end() ? -1 : it->second;
}

int Pod::connect(const std::string& ip, uint16_t port, int timeout_ms) {
  auto [fd, err] = ns_->run([&] {
    int f = testing::connectTcp(ip, port, timeout_ms);
    return std::pair<int, int>(f, errno);
  });
  errno = err;  // errno is per thread: carry it over from the namespace thread
  return fd;
}

int Pod::listen(const std::string& ip, uint16_t port) {
  return ns_->run([&] { return testing::listenTcp(ip, port, 4096); });
}

int Pod::proxyFds() { return proxy_ ? testing::openFds(proxy_->pid()) : -1; }

int Pod::settledProxyFds() {
  int last = proxyFds();
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int now = proxyFds();
    if (now == last) return now;
    last = now;
  }
  return last;
}

std::string Pod::describeProxyFds() {
  std::string out;
  if (!proxy_) return out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(cat("/proc/", proxy_->pid(), "/fd"), ec)) {
    append(&out, e.path().filename().string(), " -> ", fs::read_symlink(e.path(), ec).string(),
           "\n");
  }
  std::string ss_out;
  runCommand(ns_->exec({"ss", "-tanp"}), &ss_out);
  return out + ss_out;
}

// --- TwoPods ---

std::string uniquePrefix() {
  static std::atomic<int> n{0};
  return cat("r", getpid() % 100000, static_cast<char>('a' + (n++ % 26)));
}

TwoPods::TwoPods(PodOptions a, PodOptions b) : prefix_(uniquePrefix()) {
  a_ = std::make_unique<Pod>(prefix_ + "a", "192.0.2.1", std::move(a));
  b_ = std::make_unique<Pod>(prefix_ + "b", "192.0.2.2", std::move(b));
  std::string va = linkA(), vb = linkB();
  REQUIRE(runCommand({"ip", "link", "add", va, "type", "veth", "peer", "name", vb}) == 0);
  REQUIRE(runCommand({"ip", "link", "set", va, "netns", a_->ns().name()}) == 0);
  REQUIRE(runCommand({"ip", "link", "set", vb, "netns", b_->ns().name()}) == 0);
  REQUIRE(runCommand(a_->ns().exec({"ip", "addr", "add", "192.0.2.1/24", "dev", va})) == 0);
  REQUIRE(runCommand(b_->ns().exec({"ip", "addr", "add", "192.0.2.2/24", "dev", vb})) == 0);
  REQUIRE(runCommand(a_->ns().exec({"ip", "link", "set", va, "up"})) == 0);
  REQUIRE(runCommand(b_->ns().exec({"ip", "link", "set", vb, "up"})) == 0);
  a_->startProxy();
  b_->startProxy();
}

TwoPods::~TwoPods() = default;

// --- HTTP ---

HttpResult httpRequest(Netns& ns, const std::string& ip, uint16_t port, const std::string& method,
                       const std::string& path) {
  return ns.run([&] {
    HttpResult r;
    int fd = testing::connectTcp(ip, port, 2000);
    if (fd < 0) return r;
    testing::sendAll(
        fd, cat(method, " ", path, " HTTP/1.1\r\nHost: ", ip, "\r\nConnection: close\r\n\r\n"));
    std::string resp;
    testing::readToEnd(fd, &resp, 5000);
    close(fd);
    if (resp.rfind("HTTP/1.1 ", 0) == 0 && resp.size() > 12)
      parseInt(std::string_view(resp).substr(9, 3), &r.status);
    size_t body = resp.find("\r\n\r\n");
    if (body != std::string::npos) r.body = resp.substr(body + 4);
    return r;
  });
}

}  // namespace remora::integration
