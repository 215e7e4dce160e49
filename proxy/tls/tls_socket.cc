// TlsSocket: OpenSSL driven through a BIO over the connection's own blocks.
#include "proxy/tls/tls_socket.h"

#include <openssl/err.h>

#include <cstring>
#include <mutex>

#include "proxy/common/assert.h"
#include "proxy/common/strings.h"

namespace remora::tls {
namespace {

BIO_METHOD* bioMethod(int (*wr)(BIO*, const char*, size_t, size_t*),
                      int (*rd)(BIO*, char*, size_t, size_t*),
                      long (*ctrl)(BIO*, int, long, void*)) {
  static BIO_METHOD* method = nullptr;
  static std::once_flag once;
  std::call_once(once, [&] {
    method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "remora");
    BIO_meth_set_write_ex(method, wr);
    BIO_meth_set_read_ex(method, rd);
    BIO_meth_set_ctrl(method, ctrl);
    BIO_meth_set_create(method, [](BIO* b) {
      BIO_set_init(b, 1);
      return 1;
    });
  });
  return method;
}

}  // namespace

TlsSocket::TlsSocket(TlsContextSharedPtr ctx, event::BlockPool& pool)
    : ctx_(std::move(ctx)), pool_(pool) {
  if (!ctx_->ready()) return;  // no SSL: the handshake fails at once
  ssl_ = ctx_->newSsl();
  RELEASE_ASSERT(ssl_ != nullptr, "SSL_new");
  BIO* bio = BIO_new(bioMethod(&TlsSocket::bioWrite, &TlsSocket::bioRead, &TlsSocket::bioCtrl));
  RELEASE_ASSERT(bio != nullptr, "BIO_new");
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // one BIO both ways; SSL owns it
  if (ctx_->isServer()) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
  }
}

TlsSocket::~TlsSocket() {
  SSL_free(ssl_);
  while (in_head_ != nullptr) {
    event::Block* b = in_head_;
    in_head_ = b->next;
    pool_.release(b);
  }
  while (out_head_ != nullptr) {
    event::Block* b = out_head_;
    out_head_ = b->next;
    pool_.release(b);
  }
}

void TlsSocket::addInput(event::Block* block) {
  if (block->len == 0) {
    pool_.release(block);
    return;
  }
  block->next = nullptr;
  if (in_tail_ != nullptr) {
    in_tail_->next = block;
  } else {
    in_head_ = block;
  }
  in_tail_ = block;
}

void TlsSocket::addInput(std::string_view bytes) {
  while (!bytes.empty()) {
    event::Block* b = pool_.acquire();
    b->start = 0;
    b->len = static_cast<uint32_t>(std::min<size_t>(bytes.size(), event::Block::capacity()));
    std::memcpy(b->data, bytes.data(), b->len);
    bytes.remove_prefix(b->len);
    addInput(b);
  }
}

bool TlsSocket::hasInput() const {
  return in_head_ != nullptr || (ssl_ != nullptr && SSL_pending(ssl_) > 0);
}

int TlsSocket::bioRead(BIO* bio, char* data, size_t len, size_t* read) {
  auto* self = static_cast<TlsSocket*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  size_t n = 0;
  while (n < len && self->in_head_ != nullptr) {
    event::Block* b = self->in_head_;
    size_t take = std::min<size_t>(len - n, b->len);
    std::memcpy(data + n, b->begin(), take);
    n += take;
    b->start += static_cast<uint32_t>(take);
    b->len -= static_cast<uint32_t>(take);
    if (b->len == 0) {
      self->in_head_ = b->next;
      if (self->in_head_ == nullptr) self->in_tail_ = nullptr;
      self->pool_.release(b);
    }
  }
  if (n == 0) {
    BIO_set_retry_read(bio);
    *read = 0;
    return 0;
  }
  *read = n;
  return 1;
}

int TlsSocket::bioWrite(BIO* bio, const char* data, size_t len, size_t* written) {
  auto* self = static_cast<TlsSocket*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  size_t done = 0;
  while (done < len) {
    event::Block* b = self->out_tail_;
    if (b == nullptr || b->start + b->len == event::Block::capacity()) {
      b = self->pool_.acquire();
      b->start = 0;
      b->len = 0;
      b->next = nullptr;
      if (self->out_tail_ != nullptr) {
        self->out_tail_->next = b;
      } else {
        self->out_head_ = b;
      }
      self->out_tail_ = b;
    }
    size_t room = event::Block::capacity() - (b->start + b->len);
    size_t n = std::min(room, len - done);
    std::memcpy(b->data + b->start + b->len, data + done, n);
    b->len += static_cast<uint32_t>(n);
    done += n;
  }
  *written = len;
  return 1;
}

long TlsSocket::bioCtrl(BIO*, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;  // the connection sends what takeOutput() hands it
    default:
      return 0;
  }
}

event::Block* TlsSocket::takeOutput() {
  event::Block* b = out_head_;
  if (b == nullptr) return nullptr;
  out_head_ = b->next;
  if (out_head_ == nullptr) out_tail_ = nullptr;
  b->next = nullptr;
  return b;
}

void TlsSocket::recordError(int ssl_result) {
  int err = SSL_get_error(ssl_, ssl_result);
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    error_ = cat("certificate verify failed: ", X509_verify_cert_error_string(verify));
    ERR_clear_error();
  } else if (err == SSL_ERROR_SSL) {
    error_ = opensslErrors();
  } else if (err == SSL_ERROR_SYSCALL) {
    error_ = "unexpected end of the connection";
    ERR_clear_error();
  } else {
    error_ = cat("SSL error ", err);
    ERR_clear_error();
  }
}

TlsSocket::Status TlsSocket::handshake() {
  if (done_) return Status::Done;
  if (ssl_ == nullptr) {
    // Envoy's words for it: the context's SDS secrets did not arrive.
    error_ = "TLS error: Secret is not supplied by SDS";
    ctx_->stats().secrets_not_ready.fetch_add(1, std::memory_order_relaxed);
    return Status::Error;
  }
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    done_ = true;
    info_ = ctx_->infoOf(ssl_);
    auto& stats = ctx_->stats();
    stats.handshake.fetch_add(1, std::memory_order_relaxed);
    if (info_->session_reused) stats.session_reused.fetch_add(1, std::memory_order_relaxed);
    return Status::Done;
  }
  int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::WantMore;
  recordError(rc);
  auto& stats = ctx_->stats();
  stats.connection_error.fetch_add(1, std::memory_order_relaxed);
  if (ctx_->isServer() && SSL_get0_peer_certificate(ssl_) == nullptr &&
      error_.find("peer did not return a certificate") != std::string::npos) {
    stats.no_certificate.fetch_add(1, std::memory_order_relaxed);
  }
  return Status::Error;
}

TlsSocket::ReadStatus TlsSocket::read(event::Block* out) {
  while (out->start + out->len < event::Block::capacity()) {
    size_t room = event::Block::capacity() - (out->start + out->len);
    size_t n = 0;
    int rc = SSL_read_ex(ssl_, out->data + out->start + out->len, room, &n);
    if (rc == 1) {
      out->len += static_cast<uint32_t>(n);
      continue;
    }
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return ReadStatus::WantMore;
    if (err == SSL_ERROR_ZERO_RETURN) return ReadStatus::Closed;
    recordError(rc);
    ctx_->stats().connection_error.fetch_add(1, std::memory_order_relaxed);
    return ReadStatus::Error;
  }
  return ReadStatus::Ok;
}

bool TlsSocket::write(std::string_view plaintext) {
  while (!plaintext.empty()) {
    size_t n = 0;
    int rc = SSL_write_ex(ssl_, plaintext.data(), plaintext.size(), &n);
    if (rc != 1) {
      recordError(rc);
      return false;
    }
    plaintext.remove_prefix(n);
  }
  return true;
}

void TlsSocket::shutdown() {
  if (!done_ || ssl_ == nullptr) return;
  SSL_shutdown(ssl_);  // queues close_notify; we do not wait for the peer's
  ERR_clear_error();
}

}  // namespace remora::tls
