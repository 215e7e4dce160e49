// HTTP/1.1 parsing and encoding.
#include "proxy/http/http1_parser.h"

#include <cstring>

#include "proxy/common/strings.h"

namespace remora::http {

Http1Parser::Http1Parser(Mode mode, Http1Limits limits, Callbacks& callbacks)
    : mode_(mode), limits_(limits), callbacks_(callbacks) {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = &Http1Parser::onMessageBegin;
  settings_.on_url = &Http1Parser::onUrl;
  settings_.on_status = &Http1Parser::onStatus;
  settings_.on_header_field = &Http1Parser::onHeaderField;
  settings_.on_header_value = &Http1Parser::onHeaderValue;
  settings_.on_header_value_complete = &Http1Parser::onHeaderValueComplete;
  settings_.on_headers_complete = &Http1Parser::onHeadersComplete;
  settings_.on_body = &Http1Parser::onBodyCb;
  settings_.on_message_complete = &Http1Parser::onMessageCompleteCb;
  llhttp_init(&parser_, mode == Mode::Request ? HTTP_REQUEST : HTTP_RESPONSE, &settings_);
  parser_.data = this;
}

int Http1Parser::fail(uint32_t status, std::string detail) {
  if (!failed_) {
    failed_ = true;
    error_.status = status;
    error_.detail = std::move(detail);
  }
  return HPE_USER;
}

size_t Http1Parser::feed(std::string_view data) {
  if (failed_ || paused_ || data.empty()) return 0;
  feed_start_ = data.data();
  llhttp_errno_t err = llhttp_execute(&parser_, data.data(), data.size());
  size_t consumed = data.size();
  if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
    consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data.data());
    paused_ = true;
    // After an upgrade request (or CONNECT) the client may switch protocols: remora does not
    // take upgrades, so the connection ends after this exchange instead of parsing on.
    if (err == HPE_PAUSED_UPGRADE) {
      keep_alive_ = false;
      upgrade_stop_ = true;
    }
  } else if (err != HPE_OK) {
    consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data.data());
    if (!failed_) {
      // llhttp's own verdict on the bytes.
      uint32_t status = 400;
      if (err == HPE_INVALID_TRANSFER_ENCODING) status = 501;
      if (err == HPE_INVALID_VERSION) status = 505;
      fail(status, cat("http1.codec_error: ", llhttp_errno_name(err), " (",
                       llhttp_get_error_reason(&parser_), ")"));
    }
  }
  if (consumed > 0) last_byte_ = data[consumed - 1];
  return consumed;
}

void Http1Parser::resume() {
  if (!paused_ || upgrade_stop_) return;
  paused_ = false;
  llhttp_resume(&parser_);
}

void Http1Parser::finish() {
  if (failed_) return;
  llhttp_errno_t err = llhttp_finish(&parser_);
  if (err != HPE_OK && err != HPE_PAUSED) {
    fail(400,
         cat("http1.codec_error: ", llhttp_errno_name(err), " (connection closed mid-message)"));
  }
}

int Http1Parser::onMessageBegin(llhttp_t* p) {
  Http1Parser* s = self(p);
  // Cleared, not replaced: the strings' storage serves the next message.
  s->request_.clear();
  s->response_.clear();
  s->trailers_.clear();
  s->field_.clear();
  s->value_.clear();
  s->in_value_ = false;
  s->in_trailers_ = false;
  s->header_bytes_ = 0;
  s->header_count_ = 0;
  s->in_message_ = true;
  s->body_until_close_ = false;
  s->expect_continue_ = false;
  s->upgrade_ = false;
  return 0;
}

int Http1Parser::addBytes(size_t n) {
  header_bytes_ += n;
  if (header_bytes_ > limits_.max_header_bytes) {
    return fail(431, cat("http1.headers_too_large: over ", limits_.max_header_bytes, " bytes"));
  }
  return 0;
}

int Http1Parser::onUrl(llhttp_t* p, const char* at, size_t len) {
  Http1Parser* s = self(p);
  for (size_t i = 0; i < len; ++i) {
    // llhttp lets a TAB (and other controls) into the target; a next hop that splits the
    // request line on it would see another request (fuzzer finding).
    auto c = static_cast<unsigned char>(at[i]);
    if (c <= 0x20 || c == 0x7f) {
      return s->fail(400, "http1.invalid_target: whitespace or a control character");
    }
  }
  s->request_.path.append(at, len);
  return s->addBytes(len);
}

int Http1Parser::onStatus(llhttp_t* p, const char* at, size_t len) {
  return self(p)->addBytes(len);  // the reason phrase is not kept
}

int Http1Parser::onHeaderField(llhttp_t* p, const char* at, size_t len) {
  Http1Parser* s = self(p);
  // Checked and lower-cased in one pass.
  size_t old = s->field_.size();
  s->field_.resize(old + len);
  char* out = s->field_.data() + old;
  for (size_t i = 0; i < len; ++i) {
    auto c = static_cast<unsigned char>(at[i]);
    // llhttp 8 lets "Name : value" through; RFC 9112 5.1 says reject (smuggling vector).
    if (!isTokenChar(c)) {
      return s->fail(400,
                     "http1.invalid_header_name: whitespace or a bad character in a field name");
    }
    out[i] = lowerAscii(c);
  }
  return s->addBytes(len);
}

int Http1Parser::onHeaderValue(llhttp_t* p, const char* at, size_t len) {
  Http1Parser* s = self(p);
  // A value that starts right after a line break is an obs-fold continuation line (RFC 9112
  // 5.2: a server must reject it). A legitimate value always follows ':' and optional spaces.
  char before = at > s->feed_start_ ? at[-1] : s->last_byte_;
  if (before == '\n') return s->fail(400, "http1.obs_fold: folded header line");
  s->value_.append(at, len);
  s->in_value_ = true;
  return s->addBytes(len);
}

int Http1Parser::onHeaderValueComplete(llhttp_t* p) { return self(p)->commitHeader(); }

int Http1Parser::commitHeader() {
  if (field_.empty()) return fail(400, "http1.invalid_header_name: empty field name");
  if (++header_count_ > limits_.max_headers) {
    return fail(431, cat("http1.too_many_headers: over ", limits_.max_headers));
  }
  // Trailing whitespace is not part of the value (RFC 9110 5.5).
  while (!value_.empty() && (value_.back() == ' ' || value_.back() == '\t')) value_.pop_back();
  // field_ is lower case already (onHeaderField).
  // Copied, not moved: field_ and value_ keep their storage for the next field.
  if (in_trailers_) {
    trailers_.add(field_, value_);
  } else if (mode_ == Mode::Request && field_ == "host") {
    if (!request_.authority.empty() || host_seen_) {
      return fail(400, "http1.multiple_host: more than one Host field");
    }
    host_seen_ = true;
    request_.authority.assign(value_);
  } else {
    HeaderMap& h = mode_ == Mode::Request ? request_.headers : response_.headers;
    h.add(field_, value_);
  }
  field_.clear();
  value_.clear();
  in_value_ = false;
  return 0;
}

int Http1Parser::finishRequestHead() {
  RequestHeaders& r = request_;
  r.method = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
  r.http_minor = parser_.http_minor;
  std::string& target = r.path;
  if (r.method == "CONNECT") {
    // authority-form; the connection manager decides what to do with it.
    r.authority = target;
    target.clear();
  } else if (!target.empty() && target[0] == '/') {
    // origin-form: the common case.
  } else if (target == "*") {
    if (r.method != "OPTIONS") return fail(400, "http1.invalid_target: '*' outside OPTIONS");
  } else {
    // absolute-form (RFC 9112 3.2.2): its authority replaces Host.
    size_t scheme_end = target.find("://");
    if (scheme_end == std::string::npos) {
      return fail(400, "http1.invalid_target: not origin-form or absolute-form");
    }
    std::string scheme = target.substr(0, scheme_end);
    toLower(scheme);
    if (scheme != "http" && scheme != "https") {
      return fail(400, "http1.invalid_target: unsupported scheme");
    }
    size_t host_start = scheme_end + 3;
    size_t path_start = target.find_first_of("/?", host_start);
    std::string authority = target.substr(
        host_start, path_start == std::string::npos ? std::string::npos : path_start - host_start);
    if (authority.empty() || authority.find('@') != std::string::npos) {
      return fail(400, "http1.invalid_target: bad authority in absolute-form");
    }
    r.authority = std::move(authority);
    r.scheme = std::move(scheme);
    // "http://host?q" has the path "/?q". Built by appending: GCC 12's -Wrestrict misfires on
    // string::insert at the front (and fails -O3 builds).
    std::string rest;
    if (path_start == std::string::npos || target[path_start] == '?') rest.push_back('/');
    if (path_start != std::string::npos) rest.append(target, path_start);
    target = std::move(rest);
  }
  if (r.http_minor >= 1 && !host_seen_ && r.method != "CONNECT") {
    return fail(400, "http1.missing_host: HTTP/1.1 request without Host");
  }
  if (const std::string_view* e = r.headers.get("expect")) {
    expect_continue_ = equalsIgnoreCase(*e, "100-continue");
  }
  return 0;
}

int Http1Parser::onHeadersComplete(llhttp_t* p) {
  Http1Parser* s = self(p);
  if (p->http_major != 1) return s->fail(505, "http1.unsupported_version");
  s->minor_ = p->http_minor;
  s->upgrade_ = p->upgrade != 0;
  // Known from the head (Connection, the version): an answer given before the body (a local
  // reply) must already close the connection when the client asked for that.
  s->keep_alive_ = llhttp_should_keep_alive(p) != 0 && p->upgrade == 0;
  bool chunked = (p->flags & F_CHUNKED) != 0;
  bool has_length = (p->flags & F_CONTENT_LENGTH) != 0;
  bool end_stream = false;
  if (s->mode_ == Mode::Request) {
    if (s->finishRequestHead() != 0) return HPE_USER;
    // A request without Content-Length or Transfer-Encoding has no body (RFC 9112 6.3).
    end_stream = !chunked && (!has_length || p->content_length == 0);
    if (s->request_.method == "CONNECT") s->upgrade_ = true;
    s->in_trailers_ = true;
    s->callbacks_.onRequestHeaders(std::move(s->request_), end_stream);
  } else {
    s->response_.status = p->status_code;
    s->minor_ = p->http_minor;
    bool informational = p->status_code >= 100 && p->status_code < 200;
    bool no_body =
        s->head_response_ || informational || p->status_code == 204 || p->status_code == 304;
    s->body_until_close_ = !no_body && !chunked && !has_length;
    end_stream = no_body || (!chunked && has_length && p->content_length == 0);
    s->in_trailers_ = true;
    s->callbacks_.onResponseHeaders(std::move(s->response_), end_stream);
    if (s->failed_) return HPE_USER;
    // Tell llhttp there is no body to read (HEAD; 1xx/204/304 it knows itself).
    if (s->head_response_) return 1;
  }
  return s->failed_ ? HPE_USER : 0;
}

int Http1Parser::onBodyCb(llhttp_t* p, const char* at, size_t len) {
  Http1Parser* s = self(p);
  s->callbacks_.onBody(std::string_view(at, len));
  return s->failed_ ? HPE_USER : 0;
}

int Http1Parser::onMessageCompleteCb(llhttp_t* p) {
  Http1Parser* s = self(p);
  // An upgrade request (or CONNECT) may be followed by another protocol: the connection ends
  // after this exchange (remora does not take upgrades).
  s->keep_alive_ = llhttp_should_keep_alive(p) != 0 && p->upgrade == 0;
  s->in_message_ = false;
  s->host_seen_ = false;
  s->callbacks_.onMessageComplete(std::move(s->trailers_));
  // The blocks' storage goes back to the worker's pool: an idle connection holds none.
  s->response_.headers.release();
  s->trailers_.release();
  if (s->failed_) return HPE_USER;
  // One message at a time: the next one waits until this one is answered.
  return HPE_PAUSED;
}

// --- Encoding ---

namespace {

void appendHeaders(std::string* out, const HeaderMap& headers) {
  for (const auto& e : headers.entries()) append(out, e.name, ": ", e.value, "\r\n");
}

}  // namespace

void encodeRequestHead(const RequestHeaders& h, BodyFraming framing, std::string* out) {
  out->clear();
  out->reserve(256 + h.headers.byteSize() + 4 * h.headers.size());
  append(out, h.method, " ", h.path.empty() ? std::string_view("/") : std::string_view(h.path),
         " HTTP/1.1\r\n");
  if (!h.authority.empty()) append(out, "host: ", h.authority, "\r\n");
  appendHeaders(out, h.headers);
  if (framing == BodyFraming::Chunked) *out += "transfer-encoding: chunked\r\n";
  *out += "\r\n";
}

void encodeResponseHead(const ResponseHeaders& h, BodyFraming framing, int http_minor, bool close,
                        std::string* out) {
  out->clear();
  out->reserve(128 + h.headers.byteSize() + 4 * h.headers.size());
  append(out, "HTTP/1.", http_minor >= 1 ? 1 : 0, " ", h.status, " ", reasonPhrase(h.status),
         "\r\n");
  appendHeaders(out, h.headers);
  if (framing == BodyFraming::Chunked) *out += "transfer-encoding: chunked\r\n";
  if (close) {
    *out += "connection: close\r\n";
  } else if (http_minor == 0) {
    *out += "connection: keep-alive\r\n";
  }
  *out += "\r\n";
}

std::string encodeRequestHead(const RequestHeaders& h, BodyFraming framing) {
  std::string out;
  encodeRequestHead(h, framing, &out);
  return out;
}

std::string encodeResponseHead(const ResponseHeaders& h, BodyFraming framing, int http_minor,
                               bool close) {
  std::string out;
  encodeResponseHead(h, framing, http_minor, close, &out);
  return out;
}

std::string& headScratch() {
  static thread_local std::string scratch;
  return scratch;
}

std::string chunkHeader(size_t len) {
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "%zx\r\n", len);
  return std::string(buf, static_cast<size_t>(n));
}

std::string lastChunk(const HeaderMap& trailers) {
  std::string out = "0\r\n";
  appendHeaders(&out, trailers);
  out += "\r\n";
  return out;
}

namespace {

// The hop-by-hop fields RFC 9110 7.6.1 names (and the legacy ones), by length first: most
// names are none of them and cost one switch.
bool namedHopByHop(std::string_view n) {
  switch (n.size()) {
    case 2:
      return n == "te";
    case 7:
      return n == "upgrade" || n == "trailer";
    case 10:
      return n == "connection" || n == "keep-alive";
    case 16:
      return n == "proxy-connection";
    case 17:
      return n == "transfer-encoding";
    case 18:
      return n == "proxy-authenticate";
    default:
      return false;
  }
}

}  // namespace

void removeHopByHop(HeaderMap& headers) {
  // Fields the Connection header lists are hop-by-hop too. Their names, comma-separated, are
  // copied (entries move while being removed); "keep-alive" and "close" fit in the string.
  std::string listed;
  bool any = false;
  for (const auto& e : headers.entries()) {
    if (!namedHopByHop(e.name)) continue;
    if (e.name == "te" && equalsIgnoreCase(e.value, "trailers")) continue;
    any = true;
    if (e.name == "connection") {
      listed += e.value;
      listed += ',';
    }
  }
  auto isListed = [&](std::string_view name) {
    std::string_view rest = listed;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view token = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
        token.remove_prefix(1);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
        token.remove_suffix(1);
      if (!token.empty() && equalsIgnoreCase(token, name)) return true;
    }
    return false;
  };
  // Most blocks have none of them: nothing moves then.
  if (!any) return;
  headers.removeIf([&](const HeaderMap::Entry& e) {
    if (e.name == "te" && equalsIgnoreCase(e.value, "trailers")) return false;
    if (namedHopByHop(e.name)) return true;
    return !listed.empty() && isListed(e.name);
  });
}

}  // namespace remora::http
