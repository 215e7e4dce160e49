// A TCP connection on one event loop: reads into pooled blocks, writes blocks without copying,
// tracks queued bytes against high/low watermarks, half-closes, and closes with FIN or RST.
// Heap-allocated and self-owned: close() starts uv_close and the close callback frees it after
// telling its callbacks (libuv's ownership rule: a handle is never freed while open).
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "proxy/event/event_loop.h"
#include "proxy/net/address.h"
#include "proxy/net/tls_info.h"
#include "proxy/net/watermark.h"

namespace remora::tls {
class TlsContext;
class TlsSocket;
}  // namespace remora::tls

namespace remora::net {

class Connection : private event::EndOfIteration {
 public:
  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    // Outbound only: status 0 when connected (and, with TLS, once the handshake is done and
    // the server verified), else the libuv error (UV_EPROTO: the TLS handshake failed).
    virtual void onConnect(Connection& conn, int status) {}
    // Inbound TLS: the handshake finished and the peer verified; bytes from now on are
    // plaintext. A failed handshake is onError(UV_EPROTO).
    virtual void onHandshakeDone(Connection& conn) {}
    // Bytes arrived; ownership of the block passes to the callee.
    virtual void onData(Connection& conn, event::Block* block) = 0;
    // The peer finished sending (FIN). Reading stops; writing may continue.
    virtual void onEof(Connection& conn) = 0;
    // A read or write failed (reset, broken pipe). The connection is aborted after this returns
    // unless the callee closed it already.
    virtual void onError(Connection& conn, int uv_error) = 0;
    // Queued outbound bytes went above the high watermark / back to or below the low one.
    virtual void onAboveWriteWatermark(Connection& conn) {}
    virtual void onBelowWriteWatermark(Connection& conn) {}
    // shutdownWrite() finished: every queued byte was written and FIN sent.
    virtual void onShutdown(Connection& conn, int status) {}
    // The handle is closed; the connection is freed right after this returns.
    virtual void onClosed(Connection& conn) = 0;
  };

  enum class CloseMode {
    Flush,  // write what is queued, send FIN, then close
    Abort,  // drop what is queued and send RST
  };

  // Accepts one pending connection from a listening stream.
  static absl::StatusOr<Connection*> accept(event::EventLoop& loop, uv_stream_t* server,
                                            uint32_t buffer_limit);
  // A new outbound connection; call connect() next.
  static Connection* create(event::EventLoop& loop, uint32_t buffer_limit);

  // Starts connecting; onConnect reports the outcome. `source`, when set, is bound first
  // (port 0 with IP_BIND_ADDRESS_NO_PORT, so the port is chosen per destination).
  absl::Status connect(const Address& to, const Address* source);

  // TLS on this connection. Outbound: call before connect(); the handshake follows the TCP
  // connect and onConnect waits for it. Inbound: the handshake starts now, with
  // `initial_bytes` (what a listener filter already read) as the first bytes received;
  // onHandshakeDone or onError follows. Reading must be enabled for it to progress.
  void startTls(std::shared_ptr<const tls::TlsContext> context,
                std::string_view initial_bytes = {});
  // After the handshake: what it established (null without TLS).
  const TlsInfoSharedPtr& tlsInfo() const;
  // Why the TLS handshake or a record failed, for logs.
  std::string tlsError() const;
  bool secure() const { return tls_ != nullptr; }

  void setCallbacks(Callbacks* callbacks) { callbacks_ = callbacks; }
  uint64_t id() const { return id_; }
  int fd() const;
  event::EventLoop& loop() { return loop_; }

  // Starts or stops reading. Reading never restarts after EOF or close.
  void readEnable(bool enabled);
  bool reading() const { return reading_; }
  // Queues a block (ownership passes); tries to write it at once.
  void write(event::Block* block);
  // Copies bytes into a staging block; what one loop iteration stages goes out in one write at
  // its end (or sooner when the block fills, or before a write()/shutdown/flush-close).
  void writeCopy(std::string_view bytes);
  // Sends FIN once every queued byte is written.
  void shutdownWrite();
  void close(CloseMode mode);

  bool closing() const { return closing_; }
  bool eofReceived() const { return eof_; }
  bool writeShutdown() const { return shutdown_requested_; }
  // FIN has been sent after every queued byte was written.
  bool writeShutdownComplete() const { return shutdown_done_; }
  size_t pendingWriteBytes() const { return write_watermark_.bytes(); }
  bool aboveWriteWatermark() const { return write_watermark_.above(); }
  uint64_t bytesRead() const { return bytes_read_; }
  uint64_t bytesWritten() const { return bytes_written_; }

 private:
  Connection(event::EventLoop& loop, uint32_t buffer_limit);
  ~Connection() override;

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onWriteDone(uv_write_t* req, int status);
  static void onConnectDone(uv_connect_t* req, int status);
  static void onShutdownDone(uv_shutdown_t* req, int status);
  static void onCloseDone(uv_handle_t* handle);

  void failed(int uv_error);
  void runEndOfIteration() override;
  void flushStaged();
  void writeRaw(event::Block* block);
  // TLS: runs the handshake and decrypts what was received, as far as reading allows.
  void processTls();
  void flushTlsOutput();
  void tlsHandshakeFinished();
  // Starts or stops libuv reading to match what the user and the handshake want.
  void updateReading();
  bool peerReset() const;
  void closeNow(CloseMode mode);
  void queuedBytesReleased(size_t n);
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  event::EventLoop& loop_;
  uv_tcp_t tcp_;
  uv_connect_t connect_req_;
  uv_shutdown_t shutdown_req_;
  Callbacks* callbacks_ = nullptr;
  event::Block* staged_ = nullptr;  // writeCopy's bytes not yet handed to libuv
  Watermark write_watermark_;
  uint64_t id_;
  uint64_t bytes_read_ = 0;
  uint64_t bytes_written_ = 0;
  std::unique_ptr<tls::TlsSocket> tls_;
  bool reading_ = false;     // what the user asked for
  bool uv_reading_ = false;  // what libuv is doing
  bool tls_resume_ = false;  // TLS input is waiting for reading to be enabled again
  bool eof_ = false;
  bool shutdown_requested_ = false;
  bool shutdown_done_ = false;
  bool close_after_shutdown_ = false;
  bool closing_ = false;
};

}  // namespace remora::net
