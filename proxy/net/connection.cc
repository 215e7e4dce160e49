// Connection: libuv stream plumbing, block ownership and close sequencing.
#include "proxy/net/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "proxy/common/assert.h"
#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/common/uv_status.h"
#include "proxy/net/socket.h"
#include "proxy/tls/tls_socket.h"

namespace remora::net {
namespace {

std::atomic<uint64_t> g_next_id{1};

event::Block* blockOf(uv_write_t* req) {
  return reinterpret_cast<event::Block*>(reinterpret_cast<char*>(req) -
                                         offsetof(event::Block, req));
}

}  // namespace

Connection::Connection(event::EventLoop& loop, uint32_t buffer_limit)
    : loop_(loop),
      write_watermark_(buffer_limit),
      id_(g_next_id.fetch_add(1, std::memory_order_relaxed)) {
  tcp_.data = this;
  connect_req_.data = this;
  shutdown_req_.data = this;
}

Connection::~Connection() = default;

const TlsInfoSharedPtr& Connection::tlsInfo() const {
  static const TlsInfoSharedPtr kNone;
  return tls_ != nullptr ? tls_->info() : kNone;
}

std::string Connection::tlsError() const { return tls_ != nullptr ? tls_->error() : std::string(); }

void Connection::startTls(std::shared_ptr<const tls::TlsContext> context,
                          std::string_view initial_bytes) {
  RELEASE_ASSERT(tls_ == nullptr, "TLS started twice");
  bool server = context->isServer();
  tls_ = std::make_unique<tls::TlsSocket>(std::move(context), loop_.blocks());
  if (!server) return;  // the client speaks first, once connected
  if (!initial_bytes.empty()) tls_->addInput(initial_bytes);
  updateReading();
  // The handshake may be complete-able from the initial bytes alone (a ClientHello); run it
  // once the caller has set its callbacks.
  tls_resume_ = true;
  loop_.deferToEndOfIteration(this);
}

void Connection::runEndOfIteration() {
  flushStaged();
  if (tls_resume_) {
    tls_resume_ = false;
    processTls();
  }
}

void Connection::updateReading() {
  if (closing_ || eof_) return;
  bool want = reading_ || (tls_ != nullptr && !tls_->handshakeDone());
  if (want == uv_reading_) return;
  if (want) {
    int rc = uv_read_start(stream(), &Connection::onAlloc, &Connection::onRead);
    if (rc != 0) {
      REMORA_LOG(Debug, "[C%d] read start: %s", id_, uv_err_name(rc));
      return;
    }
  } else {
    uv_read_stop(stream());
  }
  uv_reading_ = want;
}

void Connection::flushTlsOutput() {
  while (event::Block* b = tls_->takeOutput()) writeRaw(b);
}

void Connection::tlsHandshakeFinished() {
  updateReading();  // the user's wish alone decides from now on
  REMORA_LOG(Debug, "[C%d] TLS %s %s%s", id_, tls_->info()->version, tls_->info()->cipher,
             tls_->info()->session_reused ? " (resumed)" : "");
  if (!tls_->context().isServer()) {
    if (callbacks_ != nullptr) callbacks_->onConnect(*this, 0);
  } else if (callbacks_ != nullptr) {
    callbacks_->onHandshakeDone(*this);
  }
}

void Connection::processTls() {
  if (closing_) return;
  if (!tls_->handshakeDone()) {
    auto st = tls_->handshake();
    flushTlsOutput();
    if (st == tls::TlsSocket::Status::WantMore) return;
    if (st == tls::TlsSocket::Status::Error) {
      REMORA_LOG(Debug, "[C%d] TLS handshake failed: %s", id_, tls_->error());
      failed(UV_EPROTO);
      return;
    }
    tlsHandshakeFinished();
    if (closing_) return;
  }
  while (reading_ && !closing_ && !eof_) {
    event::Block* plain = loop_.blocks().acquire();
    plain->start = 0;
    plain->len = 0;
    auto st = tls_->read(plain);
    if (plain->len > 0) {
      bytes_read_ += plain->len;
      callbacks_->onData(*this, plain);
    } else {
      loop_.blocks().release(plain);
    }
    if (closing_) return;
    if (st == tls::TlsSocket::ReadStatus::Ok) continue;
    flushTlsOutput();  // session tickets, key updates, alerts
    if (st == tls::TlsSocket::ReadStatus::WantMore) return;
    if (st == tls::TlsSocket::ReadStatus::Closed) {
      // close_notify: the peer's clean end of its stream.
      eof_ = true;
      if (uv_reading_) {
        uv_read_stop(stream());
        uv_reading_ = false;
      }
      reading_ = false;
      callbacks_->onEof(*this);
      return;
    }
    REMORA_LOG(Debug, "[C%d] TLS read failed: %s", id_, tls_->error());
    failed(UV_EPROTO);
    return;
  }
}

absl::StatusOr<Connection*> Connection::accept(event::EventLoop& loop, uv_stream_t* server,
                                               uint32_t buffer_limit) {
  auto* c = new Connection(loop, buffer_limit);
  RELEASE_ASSERT(uv_tcp_init(loop.uv(), &c->tcp_) == 0, "uv_tcp_init");
  int rc = uv_accept(server, c->stream());
  if (rc != 0) {
    c->closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp_),
             [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
    return uvStatus(rc, "accept");
  }
  uv_tcp_nodelay(&c->tcp_, 1);
  return c;
}

Connection* Connection::create(event::EventLoop& loop, uint32_t buffer_limit) {
  auto* c = new Connection(loop, buffer_limit);
  RELEASE_ASSERT(uv_tcp_init(loop.uv(), &c->tcp_) == 0, "uv_tcp_init");
  return c;
}

int Connection::fd() const {
  uv_os_fd_t fd = -1;
  uv_fileno(reinterpret_cast<const uv_handle_t*>(&tcp_), &fd);
  return fd;
}

absl::Status Connection::connect(const Address& to, const Address* source) {
  if (source != nullptr) {
    int fd = socket(source->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::UnavailableError(cat("socket: ", strerror(errno)));
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    Address from = source->withPort(0);
    if (bind(fd, from.sockaddr_ptr(), from.sockaddrLen()) != 0) {
      int err = errno;
      ::close(fd);
      return absl::UnavailableError(cat("bind source ", from.ip(), ": ", strerror(err)));
    }
    int rc = uv_tcp_open(&tcp_, fd);
    if (rc != 0) {
      ::close(fd);
      return uvStatus(rc, "uv_tcp_open");
    }
  }
  int rc = uv_tcp_connect(&connect_req_, &tcp_, to.sockaddr_ptr(), &Connection::onConnectDone);
  if (rc != 0) return uvStatus(rc, cat("connect ", to.toString()));
  return absl::OkStatus();
}

void Connection::onConnectDone(uv_connect_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  if (status == UV_ECANCELED) return;  // closed while connecting; onClosed follows
  if (status == 0) uv_tcp_nodelay(&c->tcp_, 1);
  if (status == 0 && c->tls_ != nullptr) {
    c->updateReading();
    c->processTls();  // the ClientHello; onConnect waits for the handshake
    return;
  }
  if (c->callbacks_ != nullptr) c->callbacks_->onConnect(*c, status);
}

void Connection::readEnable(bool enabled) {
  if (closing_ || eof_ || enabled == reading_) return;
  reading_ = enabled;
  updateReading();
  if (enabled && tls_ != nullptr && tls_->handshakeDone() && tls_->hasInput()) {
    // Plaintext held back while reading was off: deliver it from the loop, not from inside
    // the caller.
    tls_resume_ = true;
    loop_.deferToEndOfIteration(this);
  }
}

void Connection::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(handle->data);
  event::Block* b = c->loop_.blocks().acquire();
  buf->base = b->data;
  buf->len = event::Block::capacity();
}

void Connection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(stream->data);
  event::Block* b = nullptr;
  if (buf->base != nullptr) {
    b = reinterpret_cast<event::Block*>(buf->base - offsetof(event::Block, data));
  }
  if (nread > 0) {
    b->start = 0;
    b->len = static_cast<uint32_t>(nread);
    if (c->tls_ != nullptr) {
      c->tls_->addInput(b);
      c->processTls();
      return;
    }
    c->bytes_read_ += static_cast<uint64_t>(nread);
    c->callbacks_->onData(*c, b);
    return;
  }
  if (b != nullptr) c->loop_.blocks().release(b);
  if (nread == 0) return;  // EAGAIN
  if (nread == UV_EOF) {
    // Linux may report a peer's RST as end-of-file (after the data before it was read, the
    // pending error can be gone). A FIN leaves the socket in CLOSE_WAIT; a reset, in CLOSE.
    // Telling them apart matters: a reset must not reach the other side as a clean end.
    if (c->peerReset()) {
      c->failed(UV_ECONNRESET);
      return;
    }
    if (c->tls_ != nullptr && !c->tls_->handshakeDone()) {
      // The peer gave up during the handshake (a plaintext client refused by a STRICT
      // listener, a scanner): a failed handshake, not a clean end.
      c->failed(UV_EPROTO);
      return;
    }
    c->eof_ = true;
    if (c->uv_reading_) {
      uv_read_stop(stream);
      c->uv_reading_ = false;
    }
    c->reading_ = false;
    c->callbacks_->onEof(*c);
    return;
  }
  c->failed(static_cast<int>(nread));
}

bool Connection::peerReset() const {
  int err = 0;
  socklen_t elen = sizeof(err);
  if (getsockopt(fd(), SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == ECONNRESET) return true;
  // After our own FIN, the peer's FIN also leaves the socket in CLOSE (time-wait is kept
  // apart), so the state only tells a reset while our side is still open.
  if (shutdown_requested_) return false;
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (getsockopt(fd(), IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
  return info.tcpi_state == TCP_CLOSE;
}

void Connection::failed(int uv_error) {
  if (closing_) return;
  if (uv_reading_) {
    uv_read_stop(stream());
    uv_reading_ = false;
  }
  reading_ = false;
  if (tls_ != nullptr && !tls_->handshakeDone() && !tls_->context().isServer()) {
    // An upstream that fails before its handshake is done never connected.
    if (callbacks_ != nullptr) callbacks_->onConnect(*this, uv_error);
    if (!closing_) close(CloseMode::Abort);
    return;
  }
  if (callbacks_ != nullptr) callbacks_->onError(*this, uv_error);
  if (!closing_) close(CloseMode::Abort);
}

void Connection::write(event::Block* block) {
  if (staged_ != nullptr && block != staged_) flushStaged();  // keep the byte order
  if (closing_ || shutdown_requested_ || block->len == 0) {
    loop_.blocks().release(block);
    return;
  }
  bytes_written_ += block->len;
  if (tls_ != nullptr) {
    // Users write only once connected (outbound) or handed over (inbound), so the
    // handshake is done here.
    bool ok = tls_->write(std::string_view(block->begin(), block->len));
    loop_.blocks().release(block);
    flushTlsOutput();
    if (!ok) {
      REMORA_LOG(Debug, "[C%d] TLS write failed: %s", id_, tls_->error());
      failed(UV_EPROTO);
    }
    return;
  }
  writeRaw(block);
}

void Connection::writeRaw(event::Block* block) {
  if (write_watermark_.bytes() == 0) {
    uv_buf_t buf = uv_buf_init(block->begin(), block->len);
    int n = uv_try_write(stream(), &buf, 1);
    if (n == static_cast<int>(block->len)) {
      loop_.blocks().release(block);
      return;
    }
    if (n > 0) {
      block->start += static_cast<uint32_t>(n);
      block->len -= static_cast<uint32_t>(n);
    }
    // Other errors (EPIPE, ECONNRESET) fall through: uv_write reports them from the loop, so
    // the caller is never re-entered from inside its own write().
  }
  block->owner = this;
  block->req.data = this;
  uv_buf_t buf = uv_buf_init(block->begin(), block->len);
  int rc = uv_write(&block->req, stream(), &buf, 1, &Connection::onWriteDone);
  if (rc != 0) {
    loop_.blocks().release(block);
    REMORA_LOG(Debug, "[C%d] write: %s", id_, uv_err_name(rc));
    return;
  }
  if (write_watermark_.add(block->len) && callbacks_ != nullptr) {
    callbacks_->onAboveWriteWatermark(*this);
  }
}

void Connection::writeCopy(std::string_view bytes) {
  if (closing_ || shutdown_requested_) return;
  while (!bytes.empty()) {
    if (staged_ == nullptr) {
      staged_ = loop_.blocks().acquire();
      staged_->start = 0;
      staged_->len = 0;
      loop_.deferToEndOfIteration(this);
    }
    size_t room = event::Block::capacity() - staged_->len;
    size_t n = std::min(bytes.size(), room);
    std::memcpy(staged_->data + staged_->len, bytes.data(), n);
    staged_->len += static_cast<uint32_t>(n);
    bytes.remove_prefix(n);
    if (staged_->len == event::Block::capacity()) flushStaged();
  }
}

void Connection::flushStaged() {
  if (staged_ == nullptr) return;
  event::Block* b = staged_;
  staged_ = nullptr;
  if (!tls_resume_) loop_.cancelEndOfIteration(this);
  write(b);
}

void Connection::onWriteDone(uv_write_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  event::Block* b = blockOf(req);
  size_t n = b->len;
  c->loop_.blocks().release(b);
  if (status < 0) {
    if (status != UV_ECANCELED) c->failed(status);
    return;
  }
  c->queuedBytesReleased(n);
}

void Connection::queuedBytesReleased(size_t n) {
  if (write_watermark_.remove(n) && callbacks_ != nullptr && !closing_) {
    callbacks_->onBelowWriteWatermark(*this);
  }
}

void Connection::shutdownWrite() {
  if (closing_ || shutdown_requested_) return;
  flushStaged();
  if (tls_ != nullptr && tls_->handshakeDone()) {
    tls_->shutdown();  // close_notify before the FIN
    flushTlsOutput();
  }
  shutdown_requested_ = true;
  int rc = uv_shutdown(&shutdown_req_, stream(), &Connection::onShutdownDone);
  if (rc != 0) {
    REMORA_LOG(Debug, "[C%d] shutdown: %s", id_, uv_err_name(rc));
    failed(rc);
  }
}

void Connection::onShutdownDone(uv_shutdown_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  if (status == UV_ECANCELED) return;
  if (c->close_after_shutdown_) {
    c->closeNow(status < 0 ? CloseMode::Abort : CloseMode::Flush);
    return;
  }
  if (status < 0) {
    c->failed(status);
    return;
  }
  c->shutdown_done_ = true;
  if (c->callbacks_ != nullptr) c->callbacks_->onShutdown(*c, status);
}

void Connection::close(CloseMode mode) {
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) return;
  if (mode == CloseMode::Flush && !closing_) {
    flushStaged();
    if (tls_ != nullptr && tls_->handshakeDone() && !shutdown_requested_) {
      tls_->shutdown();
      flushTlsOutput();
    }
  }
  if (mode == CloseMode::Flush) {
    if (close_after_shutdown_) return;  // already flushing
    if (write_watermark_.bytes() > 0) {
      // Let libuv write the queue and send FIN; the shutdown callback closes.
      if (uv_reading_) {
        uv_read_stop(stream());
        uv_reading_ = false;
      }
      reading_ = false;
      if (!shutdown_requested_) {
        shutdown_requested_ = true;
        if (uv_shutdown(&shutdown_req_, stream(), &Connection::onShutdownDone) != 0) {
          closeNow(CloseMode::Abort);
          return;
        }
      }
      close_after_shutdown_ = true;
      closing_ = true;
      return;
    }
  }
  closeNow(mode);
}

void Connection::closeNow(CloseMode mode) {
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) return;
  if (staged_ != nullptr) {  // never written: dropped
    loop_.blocks().release(staged_);
    staged_ = nullptr;
  }
  loop_.cancelEndOfIteration(this);
  tls_resume_ = false;
  closing_ = true;
  close_after_shutdown_ = false;
  reading_ = false;
  uv_reading_ = false;
  if (mode == CloseMode::Abort) {
    int fd = this->fd();
    if (fd >= 0) setLingerZero(fd);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Connection::onCloseDone);
}

void Connection::onCloseDone(uv_handle_t* handle) {
  auto* c = static_cast<Connection*>(handle->data);
  if (c->callbacks_ != nullptr) c->callbacks_->onClosed(*c);
  delete c;
}

}  // namespace remora::net
