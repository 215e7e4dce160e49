// remora-http-load: a constant-rate HTTP/1.1 client for tools/bench/http.sh (built by the script
// with g++, not by CMake). One thread, C keep-alive connections, no pipelining.
//   http_load IP:PORT PATH RATE CONNECTIONS SECONDS [WARMUP_SECONDS]
// Request k is due at start + k/RATE on connection k % C. Latency runs from the moment the
// request is written, or from the moment it was due if its connection was still busy with an
// earlier response then (so a stall is not hidden by the client waiting: no coordinated
// omission). Requests due in the warm-up are sent but not counted. Prints one line:
//   sent=N ok=N non2xx=N errors=N late=N rps=R p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=..
// where late counts requests that waited for their connection, and errors counts resets, EOFs
// and responses still missing 2 s after the run (each costs a reconnect).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <string>
#include <vector>

namespace {

int64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

sockaddr_in parseAddress(const char* hostport) {
  std::string s(hostport);
  size_t colon = s.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::atoi(s.c_str() + colon + 1)));
  if (colon == std::string::npos ||
      inet_pton(AF_INET, s.substr(0, colon).c_str(), &sa.sin_addr) != 1) {
    std::fprintf(stderr, "http_load: bad address '%s'\n", hostport);
    std::exit(2);
  }
  return sa;
}

struct Pending {
  int64_t due;
  bool counted;  // false in the warm-up
};

// --- Response parsing: status line, Content-Length or chunked, Connection: close ---
enum class Parse { kNeedMore, kDone, kBad };

bool iequalsPrefix(const char* p, const char* end, const char* lit) {
  size_t n = std::strlen(lit);
  return size_t(end - p) >= n && strncasecmp(p, lit, n) == 0;
}

struct Conn {
  int fd = -1;
  std::string in;
  std::deque<Pending> queue;  // due but not yet sent (connection busy)
  bool busy = false;
  Pending current{};
  int64_t start = 0;
  // Parse state of the current response.
  bool headersDone = false;
  int status = 0;
  bool chunked = false;
  bool closeAfter = false;
  int64_t bodyLeft = 0;  // Content-Length mode
};

// Consumes one complete response from c.in if there is one.
Parse parseResponse(Conn& c) {
  if (!c.headersDone) {
    size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return c.in.size() > 65536 ? Parse::kBad : Parse::kNeedMore;
    const char* p = c.in.data();
    const char* hend = p + end + 2;
    if (!iequalsPrefix(p, hend, "HTTP/1.")) return Parse::kBad;
    c.status = std::atoi(p + 9);
    c.chunked = false;
    c.closeAfter = false;
    c.bodyLeft = 0;
    const char* line = static_cast<const char*>(std::memchr(p, '\n', hend - p)) + 1;
    while (line < hend) {
      const char* eol = static_cast<const char*>(std::memchr(line, '\n', hend - line));
      if (iequalsPrefix(line, eol, "content-length:")) c.bodyLeft = std::atoll(line + 15);
      if (iequalsPrefix(line, eol, "transfer-encoding:") &&
          std::string(line, eol).find("chunked") != std::string::npos)
        c.chunked = true;
      if (iequalsPrefix(line, eol, "connection:") &&
          std::string(line, eol).find("close") != std::string::npos)
        c.closeAfter = true;
      line = eol + 1;
    }
    c.in.erase(0, end + 4);
    c.headersDone = true;
  }
  if (!c.chunked) {
    if (int64_t(c.in.size()) < c.bodyLeft) return Parse::kNeedMore;
    c.in.erase(0, c.bodyLeft);
    c.headersDone = false;
    return Parse::kDone;
  }
  // Chunked: consume whole chunks; keep partial ones in the buffer.
  for (;;) {
    size_t eol = c.in.find("\r\n");
    if (eol == std::string::npos) return Parse::kNeedMore;
    long size = std::strtol(c.in.c_str(), nullptr, 16);
    if (size == 0) {  // last chunk, then optional trailers, then an empty line
      size_t trailerEnd = c.in.find("\r\n\r\n", eol);
      if (trailerEnd == std::string::npos) return Parse::kNeedMore;
      c.in.erase(0, trailerEnd + 4);
      c.headersDone = false;
      return Parse::kDone;
    }
    if (c.in.size() < eol + 2 + size + 2) return Parse::kNeedMore;
    c.in.erase(0, eol + 2 + size + 2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: http_load IP:PORT PATH RATE CONNECTIONS SECONDS [WARMUP]\n");
    return 2;
  }
  sockaddr_in sa = parseAddress(argv[1]);
  std::string request = std::string("GET ") + argv[2] +
                        " HTTP/1.1\r\nHost: bench\r\nUser-Agent: remora-http-load\r\n"
                        "Accept: */*\r\n\r\n";
  double rate = std::atof(argv[3]);
  int nconn = std::atoi(argv[4]);
  double seconds = std::atof(argv[5]);
  double warmup = argc > 6 ? std::atof(argv[6]) : 2.0;
  if (rate <= 0 || nconn <= 0 || seconds <= 0) return 2;
  // The default 50 us timer slack would add up to 50 us to every send; we want ~1 us.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

  int ep = epoll_create1(0);
  std::vector<Conn> conns(nconn);
  auto dial = [&](int i) {
    Conn& c = conns[i];
    c.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
      std::perror("http_load: connect");
      std::exit(1);
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = uint32_t(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    c.in.clear();
    c.busy = false;
    c.headersDone = false;
  };
  for (int i = 0; i < nconn; i++) dial(i);

  std::vector<int64_t> lat;
  lat.reserve(size_t(rate * seconds * 1.1) + 16);
  uint64_t sent = 0, ok = 0, non2xx = 0, errors = 0, late = 0;

  auto send = [&](int i, Pending p, int64_t start) {
    Conn& c = conns[i];
    ssize_t n = write(c.fd, request.data(), request.size());
    if (n != ssize_t(request.size())) {  // a 100-byte write to an idle socket does not split
      errors++;
      return;
    }
    sent++;
    c.busy = true;
    c.current = p;
    c.start = start;
  };
  auto reconnect = [&](int i) {
    Conn& c = conns[i];
    epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    dial(i);
  };

  const int64_t t0 = nowNs() + 10000000;  // 10 ms to settle
  const double interval = 1e9 / rate;
  const uint64_t warmupCount = uint64_t(warmup * rate);
  const uint64_t total = warmupCount + uint64_t(seconds * rate);
  uint64_t next = 0;  // index of the next request to become due
  int64_t drainDeadline = 0;
  char buf[65536];
  epoll_event events[256];

  for (;;) {
    int64_t now = nowNs();
    // Make due requests: send on the idle connection, or queue behind the busy one.
    while (next < total && t0 + int64_t(next * interval) <= now) {
      Pending p{t0 + int64_t(next * interval), next >= warmupCount};
      int i = int(next % nconn);
      next++;
      if (conns[i].busy) {
        conns[i].queue.push_back(p);
        late++;
      } else {
        send(i, p, nowNs());
      }
    }
    bool outstanding = false;
    for (auto& c : conns) outstanding = outstanding || c.busy || !c.queue.empty();
    if (next >= total && !outstanding) break;
    if (next >= total && drainDeadline == 0) drainDeadline = now + 2000000000;
    if (drainDeadline != 0 && now > drainDeadline) {
      for (auto& c : conns) errors += (c.busy ? 1 : 0) + c.queue.size();
      break;
    }

    int64_t wait = next < total ? t0 + int64_t(next * interval) - now : 10000000;
    if (wait < 0) wait = 0;
    timespec ts{time_t(wait / 1000000000), long(wait % 1000000000)};
    int n = epoll_pwait2(ep, events, 256, &ts, nullptr);
    if (n < 0 && errno != EINTR) {
      std::perror("http_load: epoll_pwait2");
      return 1;
    }
    for (int e = 0; e < n; e++) {
      int i = int(events[e].data.u32);
      Conn& c = conns[i];
      ssize_t r = read(c.fd, buf, sizeof(buf));
      if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        // EOF or reset: the in-flight request is lost; reconnect and go on with the queue.
        if (c.busy) errors++;
        std::deque<Pending> q = std::move(c.queue);
        reconnect(i);
        c.queue = std::move(q);
      } else {
        c.in.append(buf, size_t(r));
        for (;;) {
          if (!c.busy) {
            if (!c.in.empty()) errors++, c.in.clear();  // bytes nobody asked for
            break;
          }
          Parse st = parseResponse(c);
          if (st == Parse::kNeedMore) break;
          int64_t done = nowNs();
          if (st == Parse::kBad) {
            errors++;
            c.busy = false;
            std::deque<Pending> q = std::move(c.queue);
            reconnect(i);
            c.queue = std::move(q);
            break;
          }
          c.busy = false;
          if (c.status >= 200 && c.status < 300) {
            ok++;
            if (c.current.counted) lat.push_back(done - c.start);
          } else {
            non2xx++;
          }
          if (c.closeAfter) {
            std::deque<Pending> q = std::move(c.queue);
            reconnect(i);
            c.queue = std::move(q);
            break;
          }
        }
      }
      // The connection is idle again: send what waited, timed from when it was due.
      if (!c.busy && !c.queue.empty()) {
        Pending p = c.queue.front();
        c.queue.pop_front();
        send(i, p, p.due);
      }
    }
  }
  int64_t elapsed = nowNs() - t0;

  std::sort(lat.begin(), lat.end());
  auto pct = [&](double q) {
    if (lat.empty()) return 0.0;
    size_t k = std::min(lat.size() - 1, size_t(q * double(lat.size())));
    return double(lat[k]) / 1000.0;
  };
  std::printf(
      "sent=%llu ok=%llu non2xx=%llu errors=%llu late=%llu rps=%.0f p50_us=%.1f p90_us=%.1f "
      "p99_us=%.1f p999_us=%.1f max_us=%.1f\n",
      (unsigned long long)sent, (unsigned long long)ok, (unsigned long long)non2xx,
      (unsigned long long)errors, (unsigned long long)late, double(sent) * 1e9 / double(elapsed),
      pct(0.50), pct(0.90), pct(0.99), pct(0.999), lat.empty() ? 0.0 : double(lat.back()) / 1000);
  return errors == 0 && non2xx == 0 ? 0 : 3;
}
