// HTTP/1.1 message parsing with llhttp (strict mode), for requests from downstream and
// responses from upstream, with the checks llhttp 8.1 leaves to its user: obs-fold, whitespace
// before the colon, header size and count limits, a second Host, and a message that stops the
// parser so that a pipelined request is never read before the current one is answered.
//
// Smuggling rule: anything a second parser could frame differently is an error here, never a
// guess (RFC 9112 6.3, 11.2): both Content-Length and Transfer-Encoding, two Content-Lengths,
// a Transfer-Encoding that is not "chunked" last, bare CR or LF, NUL, obs-fold, bad chunk
// sizes, bad methods or targets.
#pragma once

#include <llhttp.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/http/headers.h"

namespace remora::http {

struct Http1Limits {
  uint32_t max_header_bytes = 60 * 1024;  // Envoy's max_request_headers_kb 60
  uint32_t max_headers = 100;             // Envoy's max_headers_count
};

class Http1Parser {
 public:
  enum class Mode { Request, Response };

  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    // The header block is complete. `end_stream`: the message has no body.
    virtual void onRequestHeaders(RequestHeaders&& headers, bool end_stream) {}
    virtual void onResponseHeaders(ResponseHeaders&& headers, bool end_stream) {}
    // Body bytes (chunked framing removed). Points into the caller's buffer.
    virtual void onBody(std::string_view data) = 0;
    // The message is complete (after a body, if any); `trailers` may be empty.
    virtual void onMessageComplete(HeaderMap&& trailers) = 0;
  };

  struct Error {
    uint32_t status = 400;  // the response a server gives: 400, 413, 431, 501, 505
    std::string detail;     // for the log and the response-code details
  };

  Http1Parser(Mode mode, Http1Limits limits, Callbacks& callbacks);
  ~Http1Parser() = default;
  Http1Parser(const Http1Parser&) = delete;
  Http1Parser& operator=(const Http1Parser&) = delete;

  // Parses `data`. Returns the number of bytes consumed: fewer than given when a message
  // completed (the parser then waits for resume(), and the rest is the next message's), or
  // when an error occurred (see error()).
  size_t feed(std::string_view data);
  // Parsing may go on after a completed message.
  void resume();
  bool paused() const { return paused_; }
  bool failed() const { return failed_; }
  const Error& error() const { return error_; }
  // The peer closed: completes a message delimited by the connection's end (a response
  // without length), or reports a truncated one.
  void finish();

  // Response mode: the next response answers a HEAD request (no body, whatever it says).
  void expectHeadResponse(bool head) { head_response_ = head; }
  // Whether the connection may carry another message after this one.
  bool keepAlive() const { return keep_alive_; }
  // In a message, between its first byte and its completion.
  bool inMessage() const { return in_message_; }
  // The message declared a body of unknown length ended by the connection's close.
  bool bodyUntilClose() const { return body_until_close_; }
  // Request mode: "Expect: 100-continue" on the current request.
  bool expectContinue() const { return expect_continue_; }
  // Upgrade requested (Connection: upgrade + Upgrade) or CONNECT.
  bool upgrade() const { return upgrade_; }
  // The HTTP/1 minor version of the current message.
  int httpMinor() const { return minor_; }

 private:
  static int onMessageBegin(llhttp_t* p);
  static int onUrl(llhttp_t* p, const char* at, size_t len);
  static int onStatus(llhttp_t* p, const char* at, size_t len);
  static int onHeaderField(llhttp_t* p, const char* at, size_t len);
  static int onHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int onHeaderValueComplete(llhttp_t* p);
  static int onHeadersComplete(llhttp_t* p);
  static int onBodyCb(llhttp_t* p, const char* at, size_t len);
  static int onMessageCompleteCb(llhttp_t* p);
  static Http1Parser* self(llhttp_t* p) { return static_cast<Http1Parser*>(p->data); }

  int fail(uint32_t status, std::string detail);
  int addBytes(size_t n);
  int commitHeader();
  int finishRequestHead();

  Mode mode_;
  Http1Limits limits_;
  Callbacks& callbacks_;
  llhttp_settings_t settings_;
  llhttp_t parser_;
  Error error_;
  // Current message.
  RequestHeaders request_;
  ResponseHeaders response_;
  HeaderMap trailers_;
  std::string field_, value_;
  bool in_value_ = false;
  bool in_trailers_ = false;
  bool host_seen_ = false;
  size_t header_bytes_ = 0;
  size_t header_count_ = 0;
  // Where the current feed() began, and the byte just before it (for the obs-fold check).
  const char* feed_start_ = nullptr;
  char last_byte_ = 0;
  int minor_ = 1;
  bool paused_ = false;
  bool failed_ = false;
  bool keep_alive_ = true;
  bool in_message_ = false;
  bool head_response_ = false;
  bool body_until_close_ = false;
  bool expect_continue_ = false;
  bool upgrade_ = false;
  bool upgrade_stop_ = false;  // llhttp stopped at an upgrade: nothing more is parsed
};

// --- Encoding ---

// How a message's body is framed on the wire.
enum class BodyFraming { None, ContentLength, Chunked, UntilClose };

// The request line and header block for an upstream. `framing` is decided by the caller from
// the request (content-length kept; chunked otherwise when there is a body).
std::string encodeRequestHead(const RequestHeaders& headers, BodyFraming framing);
// The status line and header block for a downstream.
std::string encodeResponseHead(const ResponseHeaders& headers, BodyFraming framing, int http_minor,
                               bool close);
// The same, into `*out` (cleared first): the data path reuses one buffer per thread.
void encodeRequestHead(const RequestHeaders& headers, BodyFraming framing, std::string* out);
void encodeResponseHead(const ResponseHeaders& headers, BodyFraming framing, int http_minor,
                        bool close, std::string* out);
// A per-thread scratch string for encoding heads (emptied by the encoders above).
std::string& headScratch();
// Chunked framing around `len` bytes (the chunk header) and the last chunk with trailers.
std::string chunkHeader(size_t len);
std::string lastChunk(const HeaderMap& trailers);

// Hop-by-hop fields (RFC 9110 7.6.1) that never cross the proxy, plus those the Connection
// header names. Removes them from `headers`; "te: trailers" stays (gRPC needs it end to end).
void removeHopByHop(HeaderMap& headers);

}  // namespace remora::http
