// A small HTTP/1.1 server for the admin endpoints (llhttp for parsing; keep-alive and
// pipelining; bounded request size; idle connections closed). Runs on the main thread's loop.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/event/event_loop.h"
#include "proxy/net/address.h"

namespace remora::admin {

struct Request {
  std::string method;  // "GET"
  std::string path;    // "/stats"
  std::string query;   // "format=json" (without '?')
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=UTF-8";
  std::string body;
  // Runs after the response is queued (e.g. /quitquitquit starts the shutdown).
  std::function<void()> after;
};

using Handler = std::function<Response(const Request&)>;

// Path -> handler table; routing is separate from the socket so tests can call it directly.
class Router {
 public:
  // `mutating` handlers require POST (Envoy's rule), others GET or HEAD.
  void add(std::string path, std::string help, bool mutating, Handler handler);
  Response handle(const Request& request) const;
  // "  /stats: print server stats" lines, for the index page.
  std::string index() const;

 private:
  struct Entry {
    std::string help;
    bool mutating;
    Handler handler;
  };
  std::map<std::string, Entry> routes_;
};

class HttpServer {
 public:
  static constexpr size_t kMaxRequestBytes = 64 * 1024;
  static constexpr uint64_t kIdleTimeoutMs = 60'000;

  HttpServer(event::EventLoop& loop, std::string name, std::shared_ptr<const Router> router);
  ~HttpServer();

  absl::Status listen(const net::Address& address);
  const net::Address& address() const { return bound_; }
  // Stops listening and closes every connection; `done` runs once all handles are closed.
  void close(std::function<void()> done);

 private:
  class Conn;
  static void onConnection(uv_stream_t* server, int status);

  event::EventLoop& loop_;
  std::string name_;
  std::shared_ptr<const Router> router_;
  uv_tcp_t tcp_;
  bool listening_ = false;
  net::Address bound_;
  std::vector<Conn*> conns_;
  size_t open_handles_ = 0;
  std::function<void()> on_closed_;
  friend class Conn;
};

const char* statusText(int status);

}  // namespace remora::admin
