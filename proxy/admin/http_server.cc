// Admin HTTP server: parsing with llhttp, routing, responses.
#include "proxy/admin/http_server.h"

#include "proxy/admin/request_parser.h"

#include <algorithm>

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/common/uv_status.h"
#include "proxy/net/connection.h"
#include "proxy/net/socket.h"

namespace remora::admin {

const char* statusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

void Router::add(std::string path, std::string help, bool mutating, Handler handler) {
  routes_[std::move(path)] = Entry{std::move(help), mutating, std::move(handler)};
}

Response Router::handle(const Request& request) const {
  auto it = routes_.find(request.path);
  if (it == routes_.end()) {
    Response r;
    r.status = 404;
    r.body = cat("invalid path: ", request.path, "\nadmin commands are:\n", index());
    return r;
  }
  const Entry& e = it->second;
  bool ok_method =
      e.mutating ? request.method == "POST" : (request.method == "GET" || request.method == "HEAD");
  if (!ok_method) {
    Response r;
    r.status = 405;
    r.body = cat(request.path, " requires ", e.mutating ? "POST" : "GET", "\n");
    return r;
  }
  return e.handler(request);
}

std::string Router::index() const {
  std::string out;
  for (const auto& [path, e] : routes_) append(&out, "  ", path, ": ", e.help, "\n");
  return out;
}

// --- HttpServer::Conn ---

class HttpServer::Conn : public net::Connection::Callbacks {
 public:
  Conn(HttpServer& server, net::Connection* conn)
      : server_(server), conn_(conn), parser_(kMaxRequestBytes) {
    conn_->setCallbacks(this);
    uv_timer_init(server_.loop_.uv(), &timer_);
    timer_.data = this;
    ++server_.open_handles_;  // timer
    ++server_.open_handles_;  // connection
    last_activity_ = server_.loop_.now();
    armTimer(kIdleTimeoutMs);
    conn_->readEnable(true);
  }

  // Flushes what is queued; when the server itself is closing, a peer that is not reading
  // is reset instead of waited for.
  void close(bool server_closing = false) {
    if (server_closing && conn_ != nullptr && conn_->pendingWriteBytes() > 0) {
      conn_->close(net::Connection::CloseMode::Abort);
    }
    if (closing_) return;
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
      auto* self = static_cast<Conn*>(h->data);
      self->timer_closed_ = true;
      self->maybeDelete();
    });
    if (conn_ != nullptr) conn_->close(net::Connection::CloseMode::Flush);
  }

  void onData(net::Connection& c, event::Block* block) override {
    last_activity_ = server_.loop_.now();
    std::vector<RequestParser::Parsed> requests;
    RequestParser::Status status =
        parser_.feed(std::string_view(block->begin(), block->len), &requests);
    server_.loop_.blocks().release(block);
    for (auto& parsed : requests) {
      if (closing_) return;
      Response resp = server_.router_->handle(parsed.request);
      send(resp, parsed.keep_alive, parsed.request.method == "HEAD");
      if (resp.after) resp.after();
    }
    if (status != RequestParser::Status::Ok && !closing_) {
      Response r;
      r.status = status == RequestParser::Status::TooLarge ? 431 : 400;
      r.body = cat("bad request: ", parser_.errorName(), "\n");
      send(r, /*keep_alive=*/false, /*head=*/false);
    }
  }
  void onEof(net::Connection&) override { close(); }
  void onError(net::Connection&, int) override { close(); }
  void onClosed(net::Connection&) override {
    conn_ = nullptr;
    auto& v = server_.conns_;
    v.erase(std::remove(v.begin(), v.end(), this), v.end());
    if (!closing_) close();
    maybeDelete();
  }

 private:
  void send(const Response& r, bool keep_alive, bool head) {
    if (conn_ == nullptr || closing_) return;
    std::string out =
        cat("HTTP/1.1 ", r.status, " ", statusText(r.status), "\r\ncontent-type: ", r.content_type,
            "\r\ncontent-length: ", r.body.size(), "\r\ncache-control: no-cache, max-age=0\r\n",
            keep_alive ? "" : "connection: close\r\n", "\r\n");
    if (!head) out += r.body;
    conn_->writeCopy(out);
    if (!keep_alive) close();
  }

  void armTimer(uint64_t ms) {
    uv_timer_start(
        &timer_,
        [](uv_timer_t* t) {
          auto* self = static_cast<Conn*>(t->data);
          uint64_t quiet = self->server_.loop_.now() - self->last_activity_;
          if (quiet >= kIdleTimeoutMs) {
            self->close();
          } else {
            self->armTimer(kIdleTimeoutMs - quiet);
          }
        },
        ms, 0);
  }

  void maybeDelete() {
    if (conn_ != nullptr || !timer_closed_) return;
    HttpServer& server = server_;
    server.open_handles_ -= 2;
    delete this;
    if (server.open_handles_ == 0 && server.on_closed_) {
      auto done = std::move(server.on_closed_);
      server.on_closed_ = nullptr;
      done();
    }
  }

  HttpServer& server_;
  net::Connection* conn_;
  RequestParser parser_;
  uv_timer_t timer_;
  uint64_t last_activity_ = 0;
  bool closing_ = false;
  bool timer_closed_ = false;
};

// --- HttpServer ---

HttpServer::HttpServer(event::EventLoop& loop, std::string name,
                       std::shared_ptr<const Router> router)
    : loop_(loop), name_(std::move(name)), router_(std::move(router)) {
  uv_tcp_init(loop_.uv(), &tcp_);
  tcp_.data = this;
  ++open_handles_;
}

HttpServer::~HttpServer() = default;

absl::Status HttpServer::listen(const net::Address& address) {
  auto fd = net::bindTcpSocket(address, /*reuse_port=*/false);
  if (!fd.ok()) return absl::Status(fd.status().code(), cat(name_, ": ", fd.status().message()));
  int rc = uv_tcp_open(&tcp_, *fd);
  if (rc != 0) return uvStatus(rc, cat(name_, ": uv_tcp_open"));
  rc = uv_listen(reinterpret_cast<uv_stream_t*>(&tcp_), 128, &HttpServer::onConnection);
  if (rc != 0) return uvStatus(rc, cat(name_, ": listen ", address.toString()));
  auto bound = net::localAddress(*fd);
  bound_ = bound.ok() ? *bound : address;
  listening_ = true;
  REMORA_LOG(Info, "%s listening on %s", name_, bound_.toString());
  return absl::OkStatus();
}

void HttpServer::onConnection(uv_stream_t* stream, int status) {
  auto* self = static_cast<HttpServer*>(stream->data);
  if (status < 0) return;
  auto conn = net::Connection::accept(self->loop_, stream, 256 * 1024);
  if (!conn.ok()) return;
  self->conns_.push_back(new Conn(*self, *conn));
}

void HttpServer::close(std::function<void()> done) {
  on_closed_ = std::move(done);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), [](uv_handle_t* h) {
    auto* self = static_cast<HttpServer*>(h->data);
    if (--self->open_handles_ == 0 && self->on_closed_) {
      auto cb = std::move(self->on_closed_);
      self->on_closed_ = nullptr;
      cb();
    }
  });
  std::vector<Conn*> conns = conns_;
  for (Conn* c : conns) c->close(/*server_closing=*/true);
}

}  // namespace remora::admin
