// The TLS state of one connection: an SSL whose BIO reads ciphertext from the blocks the
// connection received and writes ciphertext into pooled blocks for the connection to send.
// No memory BIO in between: the bytes are copied once each way, by OpenSSL itself.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <string_view>

#include "proxy/event/block_pool.h"
#include "proxy/tls/context.h"

namespace remora::tls {

class TlsSocket {
 public:
  TlsSocket(TlsContextSharedPtr ctx, event::BlockPool& pool);
  ~TlsSocket();
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  const TlsContext& context() const { return *ctx_; }

  // Ciphertext from the peer; ownership of the block passes.
  void addInput(event::Block* block);
  void addInput(std::string_view bytes);

  enum class Status { Done, WantMore, Error };
  // Drives the handshake as far as the input allows. Done once; the output may hold the last
  // flight (and TLS 1.3 session tickets).
  Status handshake();
  bool handshakeDone() const { return done_; }

  enum class ReadStatus {
    Ok,        // `out` is full, or more may follow: call again
    WantMore,  // every received byte is consumed
    Closed,    // the peer sent close_notify
    Error,
  };
  // Appends plaintext to `out` until it is full or the input runs dry.
  ReadStatus read(event::Block* out);
  // Whether plaintext or ciphertext is waiting (a paused reader resumes with it).
  bool hasInput() const;
  // Encrypts; false when the connection is broken.
  bool write(std::string_view plaintext);
  // Queues close_notify.
  void shutdown();
  // The next block of ciphertext to send, or null.
  event::Block* takeOutput();

  // After the handshake: names, versions and the peer's identity.
  const net::TlsInfoSharedPtr& info() const { return info_; }
  // Why the last operation failed (OpenSSL's error queue, or the verify result).
  const std::string& error() const { return error_; }

 private:
  static int bioWrite(BIO* bio, const char* data, size_t len, size_t* written);
  static int bioRead(BIO* bio, char* data, size_t len, size_t* read);
  static long bioCtrl(BIO* bio, int cmd, long num, void* ptr);
  void recordError(int ssl_result);

  TlsContextSharedPtr ctx_;
  event::BlockPool& pool_;
  SSL* ssl_ = nullptr;
  event::Block* in_head_ = nullptr;  // ciphertext not yet read by OpenSSL (linked by next)
  event::Block* in_tail_ = nullptr;
  event::Block* out_head_ = nullptr;  // ciphertext to send
  event::Block* out_tail_ = nullptr;
  net::TlsInfoSharedPtr info_;
  std::string error_;
  bool done_ = false;
};

}  // namespace remora::tls
