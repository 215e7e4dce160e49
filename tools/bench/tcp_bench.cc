// remora-tcp-bench: a small TCP load tool for the L4 benchmarks.
//   server IP:PORT            echo server (rr) that also acts as a sink (stream)
//   rr IP:PORT SIZE COUNT     ping-pong of SIZE-byte messages on one connection; prints
//                             round-trip percentiles in microseconds
//   stream IP:PORT MIB        sends MIB MiB, half-closes, waits for the server's count;
//                             prints MiB/s
//   idle IP:PORT N SECONDS    opens N connections, holds them SECONDS, closes them
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

sockaddr_in parse(const char* hostport) {
  std::string s(hostport);
  size_t colon = s.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::atoi(s.c_str() + colon + 1)));
  inet_pton(AF_INET, s.substr(0, colon).c_str(), &sa.sin_addr);
  return sa;
}

int dial(const char* hostport, char mode) {
  sockaddr_in sa = parse(hostport);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (write(fd, &mode, 1) != 1) {
    std::perror("write");
    std::exit(1);
  }
  return fd;
}

bool readFull(int fd, char* buf, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, buf, n);
    if (r <= 0) return false;
    buf += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

void serveConn(int fd) {
  // The first byte says what the client wants: 'R' echo everything (round trips), 'S' sink
  // everything and answer with the byte count (8 bytes) after EOF, 'I' hold the connection.
  char mode = 0;
  if (!readFull(fd, &mode, 1)) {
    close(fd);
    return;
  }
  std::vector<char> buf(256 * 1024);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n <= 0) break;
    total += static_cast<uint64_t>(n);
    if (mode == 'R' && write(fd, buf.data(), static_cast<size_t>(n)) != n) break;
  }
  if (mode == 'S') (void)!write(fd, &total, sizeof(total));
  close(fd);
}

int server(const char* hostport) {
  sockaddr_in sa = parse(hostport);
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || listen(lfd, 4096) != 0) {
    std::perror("listen");
    return 1;
  }
  for (;;) {
    int fd = accept(lfd, nullptr, nullptr);
    if (fd < 0) continue;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::thread(serveConn, fd).detach();
  }
}

int rr(const char* hostport, size_t size, int count) {
  int fd = dial(hostport, 'R');
  std::string msg(size, 'x');
  std::vector<char> buf(size);
  std::vector<double> us;
  us.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count + 100; ++i) {
    auto t0 = Clock::now();
    if (write(fd, msg.data(), size) != static_cast<ssize_t>(size) ||
        !readFull(fd, buf.data(), size)) {
      std::fprintf(stderr, "rr: connection failed\n");
      return 1;
    }
    if (i >= 100)
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  close(fd);
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[static_cast<size_t>(p * (us.size() - 1))]; };
  std::printf("p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f n=%zu\n", pct(0.5), pct(0.9),
              pct(0.99), us.back(), us.size());
  return 0;
}

int stream(const char* hostport, int mib) {
  int fd = dial(hostport, 'S');
  std::vector<char> buf(1 << 20, 'y');
  auto t0 = Clock::now();
  for (int i = 0; i < mib; ++i) {
    size_t off = 0;
    while (off < buf.size()) {
      ssize_t n = write(fd, buf.data() + off, buf.size() - off);
      if (n <= 0) {
        std::perror("write");
        return 1;
      }
      off += static_cast<size_t>(n);
    }
  }
  shutdown(fd, SHUT_WR);
  uint64_t total = 0;
  readFull(fd, reinterpret_cast<char*>(&total), sizeof(total));
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  close(fd);
  std::printf("mib=%d seconds=%.3f mib_per_s=%.0f server_bytes=%llu\n", mib, s, mib / s,
              static_cast<unsigned long long>(total));
  return total == static_cast<uint64_t>(mib) << 20 ? 0 : 1;
}

int idle(const char* hostport, int n, int seconds) {
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) fds.push_back(dial(hostport, 'I'));
  std::printf("open=%d\n", n);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  for (int fd : fds) close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "server" && argc == 3) return server(argv[2]);
  if (mode == "rr" && argc == 5)
    return rr(argv[2], std::strtoul(argv[3], nullptr, 10), std::atoi(argv[4]));
  if (mode == "stream" && argc == 4) return stream(argv[2], std::atoi(argv[3]));
  if (mode == "idle" && argc == 5) return idle(argv[2], std::atoi(argv[3]), std::atoi(argv[4]));
  std::fprintf(stderr,
               "usage: remora-tcp-bench server IP:PORT | rr IP:PORT SIZE COUNT | "
               "stream IP:PORT MIB | idle IP:PORT N SECONDS\n");
  return 2;
}
