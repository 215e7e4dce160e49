// Access log formatting and writing.
#include "proxy/http/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>

#include "proxy/common/strings.h"

namespace remora::http {

const char kDefaultAccessLogFormat[] =
    "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" "
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
    "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" "
    "\"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\"\n";

std::string responseFlagsString(uint32_t flags) {
  static const std::pair<ResponseFlag, const char*> kNames[] = {
      {ResponseFlag::FailedLocalHealthCheck, "LH"},
      {ResponseFlag::NoHealthyUpstream, "UH"},
      {ResponseFlag::UpstreamRequestTimeout, "UT"},
      {ResponseFlag::LocalReset, "LR"},
      {ResponseFlag::UpstreamRemoteReset, "UR"},
      {ResponseFlag::UpstreamConnectionFailure, "UF"},
      {ResponseFlag::UpstreamConnectionTermination, "UC"},
      {ResponseFlag::UpstreamOverflow, "UO"},
      {ResponseFlag::NoRouteFound, "NR"},
      {ResponseFlag::DelayInjected, "DI"},
      {ResponseFlag::FaultInjected, "FI"},
      {ResponseFlag::RateLimited, "RL"},
      {ResponseFlag::UpstreamRetryLimitExceeded, "URX"},
      {ResponseFlag::StreamIdleTimeout, "SI"},
      {ResponseFlag::DownstreamConnectionTermination, "DC"},
      {ResponseFlag::DownstreamProtocolError, "DPE"},
      {ResponseFlag::UpstreamProtocolError, "UPE"},
      {ResponseFlag::NoClusterFound, "NC"},
      {ResponseFlag::DurationTimeout, "DT"},
      {ResponseFlag::UnauthorizedExternalService, "UAEX"},
      {ResponseFlag::RbacDenied, "RBAC"},
  };
  std::string out;
  for (const auto& [f, name] : kNames) {
    if ((flags & static_cast<uint32_t>(f)) == 0) continue;
    if (!out.empty()) out += ",";
    out += name;
  }
  return out.empty() ? "-" : out;
}

namespace {

constexpr std::string_view kOperators[] = {"START_TIME",
                                           "REQ",
                                           "RESP",
                                           "PROTOCOL",
                                           "RESPONSE_CODE",
                                           "RESPONSE_FLAGS",
                                           "RESPONSE_CODE_DETAILS",
                                           "BYTES_RECEIVED",
                                           "BYTES_SENT",
                                           "DURATION",
                                           "UPSTREAM_HOST",
                                           "UPSTREAM_CLUSTER",
                                           "DOWNSTREAM_REMOTE_ADDRESS",
                                           "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT",
                                           "DOWNSTREAM_LOCAL_ADDRESS",
                                           "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT",
                                           "ROUTE_NAME",
                                           "UPSTREAM_REQUEST_ATTEMPT_COUNT",
                                           "HOSTNAME",
                                           "STREAM_ID",
                                           "DOWNSTREAM_PEER_URI_SAN",
                                           "DOWNSTREAM_PEER_DNS_SAN",
                                           "DOWNSTREAM_PEER_SUBJECT",
                                           "DOWNSTREAM_LOCAL_URI_SAN",
                                           "DOWNSTREAM_LOCAL_SUBJECT",
                                           "DOWNSTREAM_TLS_VERSION",
                                           "DOWNSTREAM_TLS_CIPHER",
                                           "REQUESTED_SERVER_NAME"};

constexpr std::string_view kNumeric[] = {"RESPONSE_CODE", "BYTES_RECEIVED", "BYTES_SENT",
                                         "DURATION", "UPSTREAM_REQUEST_ATTEMPT_COUNT"};

std::string startTime(uint64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  tm t;
  gmtime_r(&secs, &t);
  char buf[64];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &t);
  snprintf(buf + n, sizeof(buf) - n, ".%03uZ", static_cast<unsigned>(ms % 1000));
  return buf;
}

std::string requestHeader(const RequestHeaders& r, std::string name) {
  toLower(name);
  if (name == ":method") return r.method;
  if (name == ":path") return r.path;
  if (name == ":authority" || name == "host") return r.authority;
  if (name == ":scheme") return r.scheme;
  const std::string* v = r.headers.get(name);
  return v == nullptr ? std::string() : *v;
}

}  // namespace

absl::StatusOr<LogFormat> LogFormat::parse(std::string_view format) {
  LogFormat f;
  size_t i = 0;
  std::string literal;
  while (i < format.size()) {
    char c = format[i];
    if (c != '%') {
      literal.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '%') {  // "%%" is a literal '%'
      literal.push_back('%');
      i += 2;
      continue;
    }
    size_t end = format.find('%', i + 1);
    if (end == std::string_view::npos) {
      return absl::InvalidArgumentError(cat("access log format: unterminated operator at ", i));
    }
    std::string_view op = format.substr(i + 1, end - i - 1);
    Piece p{Piece::Kind::Operator, "", "", "", 0};
    // NAME, NAME(arg), NAME(arg):maxlen
    size_t paren = op.find('(');
    std::string_view name = op.substr(0, paren);
    if (paren != std::string_view::npos) {
      size_t close = op.find(')', paren);
      if (close == std::string_view::npos) {
        return absl::InvalidArgumentError(cat("access log format: missing ')' in %", op, "%"));
      }
      std::string_view arg = op.substr(paren + 1, close - paren - 1);
      size_t q = arg.find('?');
      p.arg = std::string(arg.substr(0, q));
      if (q != std::string_view::npos) p.alt = std::string(arg.substr(q + 1));
      std::string_view rest = op.substr(close + 1);
      if (!rest.empty()) {
        if (rest[0] != ':' || !parseInt(rest.substr(1), &p.max_len)) {
          return absl::InvalidArgumentError(cat("access log format: bad length in %", op, "%"));
        }
      }
    }
    bool known = false;
    for (auto k : kOperators) known |= (k == name);
    if (!known) {
      return absl::InvalidArgumentError(
          cat("access log format: operator %", name, "% is not supported by remora"));
    }
    if ((name == "REQ" || name == "RESP") && p.arg.empty()) {
      return absl::InvalidArgumentError(cat("access log format: %", name, "% needs a header"));
    }
    if (!literal.empty()) {
      f.pieces_.push_back({Piece::Kind::Literal, std::move(literal), "", "", 0});
      literal.clear();
    }
    p.text = std::string(name);
    f.pieces_.push_back(std::move(p));
    i = end + 1;
  }
  if (!literal.empty()) f.pieces_.push_back({Piece::Kind::Literal, std::move(literal), "", "", 0});
  if (f.pieces_.size() == 1 && f.pieces_[0].kind == Piece::Kind::Operator) {
    for (auto n : kNumeric) f.numeric_ |= (f.pieces_[0].text == n);
  }
  return f;
}

std::string LogFormat::render(const RequestHeaders& request, const StreamInfo& info) const {
  std::string out;
  for (const auto& p : pieces_) {
    if (p.kind == Piece::Kind::Literal) {
      out += p.text;
      continue;
    }
    std::string v;
    const std::string& n = p.text;
    if (n == "START_TIME") {
      v = startTime(info.start_ms);
    } else if (n == "REQ") {
      v = requestHeader(request, p.arg);
      if (v.empty() && !p.alt.empty()) v = requestHeader(request, p.alt);
    } else if (n == "RESP") {
      std::string name = p.arg;
      toLower(name);
      const std::string* h = info.response_headers.get(name);
      if (h == nullptr && !p.alt.empty()) {
        std::string alt = p.alt;
        toLower(alt);
        h = info.response_headers.get(alt);
      }
      if (h != nullptr) v = *h;
    } else if (n == "PROTOCOL") {
      v = info.protocol;
    } else if (n == "RESPONSE_CODE") {
      v = cat(info.response_code);
    } else if (n == "RESPONSE_FLAGS") {
      v = responseFlagsString(info.flags);
    } else if (n == "RESPONSE_CODE_DETAILS") {
      v = info.response_code_details;
    } else if (n == "BYTES_RECEIVED") {
      v = cat(info.bytes_received);
    } else if (n == "BYTES_SENT") {
      v = cat(info.bytes_sent);
    } else if (n == "DURATION") {
      v = cat(info.end_mono_ms >= info.start_mono_ms ? info.end_mono_ms - info.start_mono_ms : 0);
    } else if (n == "UPSTREAM_HOST") {
      if (info.upstream_host) v = info.upstream_host->toString();
    } else if (n == "UPSTREAM_CLUSTER") {
      v = info.upstream_cluster.view();
    } else if (n == "DOWNSTREAM_REMOTE_ADDRESS") {
      v = info.downstream_remote.valid() ? info.downstream_remote.toString() : "";
    } else if (n == "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT") {
      v = info.downstream_remote.valid() ? info.downstream_remote.ip() : "";
    } else if (n == "DOWNSTREAM_LOCAL_ADDRESS") {
      v = info.downstream_local.valid() ? info.downstream_local.toString() : "";
    } else if (n == "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT") {
      v = info.downstream_local.valid() ? info.downstream_local.ip() : "";
    } else if (n == "ROUTE_NAME") {
      v = info.route_name;
    } else if (n == "UPSTREAM_REQUEST_ATTEMPT_COUNT") {
      v = cat(info.attempts);
    } else if (n == "HOSTNAME") {
      char host[256] = {0};
      gethostname(host, sizeof(host) - 1);
      v = host;
    } else if (n == "STREAM_ID") {
      v = info.request_id.view();
    } else if (info.downstream_tls != nullptr) {
      // Envoy joins several SANs with commas.
      const net::TlsInfo& t = *info.downstream_tls;
      auto joined = [](const std::vector<std::string>& xs) {
        std::string j;
        for (const auto& x : xs) append(&j, j.empty() ? "" : ",", x);
        return j;
      };
      if (n == "DOWNSTREAM_PEER_URI_SAN") {
        v = joined(t.peer_uri_sans);
      } else if (n == "DOWNSTREAM_PEER_DNS_SAN") {
        v = joined(t.peer_dns_sans);
      } else if (n == "DOWNSTREAM_PEER_SUBJECT") {
        v = t.peer_subject;
      } else if (n == "DOWNSTREAM_LOCAL_URI_SAN") {
        v = joined(t.local_uri_sans);
      } else if (n == "DOWNSTREAM_LOCAL_SUBJECT") {
        v = t.local_subject;
      } else if (n == "DOWNSTREAM_TLS_VERSION") {
        v = t.version;
      } else if (n == "DOWNSTREAM_TLS_CIPHER") {
        v = t.cipher;
      } else if (n == "REQUESTED_SERVER_NAME") {
        v = t.sni;
      }
    }
    if (p.max_len > 0 && v.size() > p.max_len) v.resize(p.max_len);
    out += v.empty() ? "-" : v;
  }
  return out;
}

absl::StatusOr<std::shared_ptr<AccessLog>> AccessLog::create(const config::AccessLogConfig& c) {
  std::shared_ptr<AccessLog> log(new AccessLog);
  if (!c.json_format.empty()) {
    log->json_mode_ = true;
    for (const auto& [key, fmt] : c.json_format) {
      auto f = LogFormat::parse(fmt);
      if (!f.ok()) return f.status();
      log->json_.emplace_back(key, std::move(*f));
    }
  } else {
    auto f = LogFormat::parse(c.text_format.empty() ? kDefaultAccessLogFormat : c.text_format);
    if (!f.ok()) return f.status();
    log->text_ = std::move(*f);
  }
  if (c.path == "/dev/stdout") {
    log->fd_ = STDOUT_FILENO;
  } else if (c.path == "/dev/stderr") {
    log->fd_ = STDERR_FILENO;
  } else {
    log->fd_ = ::open(c.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log->fd_ < 0) {
      return absl::InvalidArgumentError(
          cat("access log '", c.path, "': cannot open: ", strerror(errno)));
    }
    log->own_fd_ = true;
  }
  return log;
}

AccessLog::~AccessLog() {
  if (own_fd_ && fd_ >= 0) ::close(fd_);
}

namespace {

void jsonEscape(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\u%04x", c);
      *out += buf;
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

}  // namespace

std::string AccessLog::format(const RequestHeaders& request, const StreamInfo& info) const {
  if (!json_mode_) return text_.render(request, info);
  std::string out = "{";
  bool first = true;
  for (const auto& [key, f] : json_) {
    if (!first) out += ",";
    first = false;
    jsonEscape(&out, key);
    out += ":";
    std::string v = f.render(request, info);
    if (f.numeric() && v != "-") {
      out += v;
    } else if (v == "-") {
      out += "null";
    } else {
      jsonEscape(&out, v);
    }
  }
  out += "}\n";
  return out;
}

void AccessLog::log(const RequestHeaders& request, const StreamInfo& info) {
  std::string line = format(request, info);
  // One write per line: O_APPEND keeps lines from different workers whole.
  ssize_t n = ::write(fd_, line.data(), line.size());
  (void)n;
}

}  // namespace remora::http
