// Access log formatting, per-worker buffering and the writer threads.
#include "proxy/http/access_log.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <map>

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/stats/stats.h"

namespace remora::http {

const char kDefaultAccessLogFormat[] =
    "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" "
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
    "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" "
    "\"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\"\n";

void appendResponseFlags(std::string* out, uint32_t flags) {
  static const std::pair<ResponseFlag, std::string_view> kNames[] = {
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
  bool first = true;
  for (const auto& [f, name] : kNames) {
    if ((flags & static_cast<uint32_t>(f)) == 0) continue;
    if (!first) out->push_back(',');
    first = false;
    out->append(name);
  }
}

std::string responseFlagsString(uint32_t flags) {
  std::string out;
  appendResponseFlags(&out, flags);
  return out.empty() ? "-" : out;
}

namespace {

// "2026-11-27T18:02:57.123Z". The text up to the seconds is kept per thread and made again
// only when the second changes.
void appendStartTime(std::string* out, uint64_t ms) {
  thread_local uint64_t cached_sec = ~uint64_t{0};
  thread_local char prefix[32];
  thread_local size_t prefix_len = 0;
  uint64_t sec = ms / 1000;
  if (sec != cached_sec) {
    time_t t = static_cast<time_t>(sec);
    tm parts;
    gmtime_r(&t, &parts);
    prefix_len = strftime(prefix, sizeof(prefix), "%Y-%m-%dT%H:%M:%S.", &parts);
    cached_sec = sec;
  }
  out->append(prefix, prefix_len);
  unsigned frac = static_cast<unsigned>(ms % 1000);
  char f[4] = {static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
               static_cast<char>('0' + frac % 10), 'Z'};
  out->append(f, 4);
}

void appendJoined(std::string* out, const std::vector<std::string>& xs) {  // Envoy: commas
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i > 0) out->push_back(',');
    out->append(xs[i]);
  }
}

const std::string& hostname() {
  static const std::string name = [] {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    return std::string(host);
  }();
  return name;
}

struct OperatorName {
  std::string_view name;
  int op;  // LogFormat::Op, or -1 for REQ and -2 for RESP (resolved by their argument)
  bool numeric;
};

void jsonEscape(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      static const char kHex[] = "0123456789abcdef";
      const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out->append(esc, 6);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

}  // namespace

absl::StatusOr<LogFormat> LogFormat::parse(std::string_view format) {
  static const OperatorName kOperators[] = {
      {"START_TIME", static_cast<int>(Op::StartTime), false},
      {"REQ", -1, false},
      {"RESP", -2, false},
      {"PROTOCOL", static_cast<int>(Op::Protocol), false},
      {"RESPONSE_CODE", static_cast<int>(Op::ResponseCode), true},
      {"RESPONSE_FLAGS", static_cast<int>(Op::ResponseFlags), false},
      {"RESPONSE_CODE_DETAILS", static_cast<int>(Op::ResponseCodeDetails), false},
      {"BYTES_RECEIVED", static_cast<int>(Op::BytesReceived), true},
      {"BYTES_SENT", static_cast<int>(Op::BytesSent), true},
      {"DURATION", static_cast<int>(Op::Duration), true},
      {"UPSTREAM_HOST", static_cast<int>(Op::UpstreamHost), false},
      {"UPSTREAM_CLUSTER", static_cast<int>(Op::UpstreamCluster), false},
      {"DOWNSTREAM_REMOTE_ADDRESS", static_cast<int>(Op::DownstreamRemoteAddress), false},
      {"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT",
       static_cast<int>(Op::DownstreamRemoteAddressWithoutPort), false},
      {"DOWNSTREAM_LOCAL_ADDRESS", static_cast<int>(Op::DownstreamLocalAddress), false},
      {"DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT",
       static_cast<int>(Op::DownstreamLocalAddressWithoutPort), false},
      {"ROUTE_NAME", static_cast<int>(Op::RouteName), false},
      {"UPSTREAM_REQUEST_ATTEMPT_COUNT", static_cast<int>(Op::UpstreamRequestAttemptCount), true},
      {"HOSTNAME", static_cast<int>(Op::Hostname), false},
      {"STREAM_ID", static_cast<int>(Op::StreamId), false},
      {"DOWNSTREAM_PEER_URI_SAN", static_cast<int>(Op::DownstreamPeerUriSan), false},
      {"DOWNSTREAM_PEER_DNS_SAN", static_cast<int>(Op::DownstreamPeerDnsSan), false},
      {"DOWNSTREAM_PEER_SUBJECT", static_cast<int>(Op::DownstreamPeerSubject), false},
      {"DOWNSTREAM_LOCAL_URI_SAN", static_cast<int>(Op::DownstreamLocalUriSan), false},
      {"DOWNSTREAM_LOCAL_SUBJECT", static_cast<int>(Op::DownstreamLocalSubject), false},
      {"DOWNSTREAM_TLS_VERSION", static_cast<int>(Op::DownstreamTlsVersion), false},
      {"DOWNSTREAM_TLS_CIPHER", static_cast<int>(Op::DownstreamTlsCipher), false},
      {"REQUESTED_SERVER_NAME", static_cast<int>(Op::RequestedServerName), false},
  };
  // REQ(x): the pseudo-headers live outside the header map.
  auto requestOp = [](const std::string& lower) {
    if (lower == ":method") return Op::ReqMethod;
    if (lower == ":path") return Op::ReqPath;
    if (lower == ":authority" || lower == "host") return Op::ReqAuthority;
    if (lower == ":scheme") return Op::ReqScheme;
    return Op::ReqHeader;
  };

  LogFormat f;
  size_t i = 0;
  std::string literal;
  bool numeric_candidate = false;
  auto flushLiteral = [&] {
    if (literal.empty()) return;
    Piece p;
    p.text = std::move(literal);
    f.pieces_.push_back(std::move(p));
    literal.clear();
  };
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
    Piece p;
    std::string arg;
    bool has_arg = false;
    // NAME, NAME(arg), NAME(arg):maxlen
    size_t paren = op.find('(');
    std::string_view name = op.substr(0, paren);
    if (paren != std::string_view::npos) {
      size_t close = op.find(')', paren);
      if (close == std::string_view::npos) {
        return absl::InvalidArgumentError(cat("access log format: missing ')' in %", op, "%"));
      }
      has_arg = true;
      std::string_view a = op.substr(paren + 1, close - paren - 1);
      size_t q = a.find('?');
      arg = std::string(a.substr(0, q));
      if (q != std::string_view::npos) p.alt = std::string(a.substr(q + 1));
      std::string_view rest = op.substr(close + 1);
      if (!rest.empty()) {
        if (rest[0] != ':' || !parseInt(rest.substr(1), &p.max_len)) {
          return absl::InvalidArgumentError(cat("access log format: bad length in %", op, "%"));
        }
      }
    }
    const OperatorName* known = nullptr;
    for (const auto& k : kOperators) {
      if (k.name == name) known = &k;
    }
    if (known == nullptr) {
      return absl::InvalidArgumentError(
          cat("access log format: operator %", name, "% is not supported by remora"));
    }
    if (known->op < 0) {  // REQ / RESP
      if (arg.empty()) {
        return absl::InvalidArgumentError(cat("access log format: %", name, "% needs a header"));
      }
      toLower(arg);
      toLower(p.alt);
      if (known->op == -1) {
        p.op = requestOp(arg);
        if (!p.alt.empty()) p.alt_op = requestOp(p.alt);
      } else {
        p.op = Op::RespHeader;
        if (!p.alt.empty()) p.alt_op = Op::RespHeader;
      }
      p.text = std::move(arg);
    } else {
      if (has_arg && !arg.empty()) {
        // START_TIME(format) and the like: a format we would not honour is refused, not
        // rendered some other way.
        return absl::InvalidArgumentError(
            cat("access log format: %", op, "%: arguments to ", name, " are not supported"));
      }
      p.op = static_cast<Op>(known->op);
      p.alt.clear();
    }
    flushLiteral();
    numeric_candidate = known->numeric;
    f.pieces_.push_back(std::move(p));
    i = end + 1;
  }
  flushLiteral();
  f.numeric_ = f.pieces_.size() == 1 && f.pieces_[0].op != Op::Literal && numeric_candidate;
  return f;
}

bool LogFormat::usesResponseHeaders() const {
  for (const auto& p : pieces_) {
    if (p.op == Op::RespHeader || p.alt_op == Op::RespHeader) return true;
  }
  return false;
}

// Appends the value of one operation ("" when it has none; the caller writes "-" then).
void LogFormat::renderValue(Op op, std::string_view header, const RequestHeaders& request,
                            const StreamInfo& info, std::string* out) {
  switch (op) {
    case Op::Literal:
      break;
    case Op::StartTime:
      appendStartTime(out, info.start_ms);
      break;
    case Op::ReqMethod:
      out->append(request.method);
      break;
    case Op::ReqPath:
      out->append(request.path);
      break;
    case Op::ReqAuthority:
      out->append(request.authority);
      break;
    case Op::ReqScheme:
      out->append(request.scheme);
      break;
    case Op::ReqHeader:
      if (const std::string_view* v = request.headers.get(header)) out->append(*v);
      break;
    case Op::RespHeader:
      if (const std::string_view* v = info.response_headers.get(header)) out->append(*v);
      break;
    case Op::Protocol:
      out->append(info.protocol);
      break;
    case Op::ResponseCode:
      append(out, info.response_code);
      break;
    case Op::ResponseFlags:
      appendResponseFlags(out, info.flags);
      break;
    case Op::ResponseCodeDetails:
      out->append(info.response_code_details);
      break;
    case Op::BytesReceived:
      append(out, info.bytes_received);
      break;
    case Op::BytesSent:
      append(out, info.bytes_sent);
      break;
    case Op::Duration:
      append(out, info.end_mono_ms >= info.start_mono_ms ? info.end_mono_ms - info.start_mono_ms
                                                         : uint64_t{0});
      break;
    case Op::UpstreamHost:
      if (info.upstream_host) out->append(info.upstream_host->toString());
      break;
    case Op::UpstreamCluster:
      out->append(info.upstream_cluster.view());
      break;
    case Op::DownstreamRemoteAddress:
      if (info.downstream_remote.valid()) out->append(info.downstream_remote.toString());
      break;
    case Op::DownstreamRemoteAddressWithoutPort:
      if (info.downstream_remote.valid()) out->append(info.downstream_remote.ip());
      break;
    case Op::DownstreamLocalAddress:
      if (info.downstream_local.valid()) out->append(info.downstream_local.toString());
      break;
    case Op::DownstreamLocalAddressWithoutPort:
      if (info.downstream_local.valid()) out->append(info.downstream_local.ip());
      break;
    case Op::RouteName:
      out->append(info.route_name);
      break;
    case Op::UpstreamRequestAttemptCount:
      append(out, info.attempts);
      break;
    case Op::Hostname:
      out->append(hostname());
      break;
    case Op::StreamId:
      out->append(info.request_id.view());
      break;
    default: {
      // The downstream TLS facts: nothing on a plaintext connection.
      if (info.downstream_tls == nullptr) break;
      const net::TlsInfo& t = *info.downstream_tls;
      switch (op) {
        case Op::DownstreamPeerUriSan:
          appendJoined(out, t.peer_uri_sans);
          break;
        case Op::DownstreamPeerDnsSan:
          appendJoined(out, t.peer_dns_sans);
          break;
        case Op::DownstreamPeerSubject:
          out->append(t.peer_subject);
          break;
        case Op::DownstreamLocalUriSan:
          appendJoined(out, t.local_uri_sans);
          break;
        case Op::DownstreamLocalSubject:
          out->append(t.local_subject);
          break;
        case Op::DownstreamTlsVersion:
          out->append(t.version);
          break;
        case Op::DownstreamTlsCipher:
          out->append(t.cipher);
          break;
        case Op::RequestedServerName:
          out->append(t.sni);
          break;
        default:
          break;
      }
    }
  }
}

void LogFormat::render(const RequestHeaders& request, const StreamInfo& info,
                       std::string* out) const {
  for (const auto& p : pieces_) {
    if (p.op == Op::Literal) {
      out->append(p.text);
      continue;
    }
    size_t start = out->size();
    renderValue(p.op, p.text, request, info, out);
    if (out->size() == start && p.alt_op != Op::Literal) {
      renderValue(p.alt_op, p.alt, request, info, out);
    }
    if (p.max_len > 0 && out->size() - start > p.max_len) out->resize(start + p.max_len);
    if (out->size() == start) out->push_back('-');
  }
}

// --- AccessLog ---

namespace {

// The filesystem.* stats, shown once in every store that has a file logger.
void registerFileSystemStats(stats::Store* store) {
  static std::mutex mu;
  static std::map<stats::Store*, std::shared_ptr<stats::Scope>> registered;
  std::lock_guard<std::mutex> lock(mu);
  auto& scope = registered[store];
  if (scope != nullptr) return;
  scope = std::make_shared<stats::CallbackScope>(
      "filesystem.", "filesystem", [](const stats::StatVisitor& visit) {
        const FileSystemStats& s = fileSystemStats();
        auto counter = [&](std::string_view name, const std::atomic<uint64_t>& v,
                           std::string_view help) {
          visit({name, stats::Kind::Counter, help, static_cast<int64_t>(v.load())});
        };
        counter("write_buffered", s.write_buffered,
                "Batches of access log lines handed to a file's writer thread");
        counter("write_completed", s.write_completed, "Batches written to their file");
        counter("write_failed", s.write_failed, "Batches a write error cut short");
        counter("flushed_by_timer", s.flushed_by_timer,
                "Batches handed to the writer by the flush interval, not by size");
        counter("write_dropped", s.write_dropped,
                "Batches dropped because the file's writer was too far behind");
        counter("reopen_failed", s.reopen_failed,
                "Access log files that could not be opened again on /reopen_logs");
        visit({"write_total_buffered", stats::Kind::Gauge,
               "Bytes of access log lines waiting for a writer", s.write_total_buffered.load()});
      });
  store->add(scope);
}

}  // namespace

FileSystemStats& fileSystemStats() {
  static FileSystemStats stats;
  return stats;
}

absl::StatusOr<std::shared_ptr<AccessLog>> AccessLog::create(const config::AccessLogConfig& c,
                                                             stats::Store* stats) {
  std::shared_ptr<AccessLog> log(new AccessLog);
  if (!c.json_format.empty()) {
    log->json_mode_ = true;
    for (const auto& [key, fmt] : c.json_format) {
      auto f = LogFormat::parse(fmt);
      if (!f.ok()) return f.status();
      std::string quoted;
      jsonEscape(&quoted, key);
      log->json_.emplace_back(std::move(quoted), std::move(*f));
    }
  } else {
    auto f = LogFormat::parse(c.text_format.empty() ? kDefaultAccessLogFormat : c.text_format);
    if (!f.ok()) return f.status();
    log->text_ = std::move(*f);
  }
  auto file = AccessLogFile::open(c.path);
  if (!file.ok()) return file.status();
  log->file_ = std::move(*file);
  if (stats != nullptr) registerFileSystemStats(stats);
  return log;
}

bool AccessLog::usesResponseHeaders() const {
  if (!json_mode_) return text_.usesResponseHeaders();
  for (const auto& [key, f] : json_) {
    if (f.usesResponseHeaders()) return true;
  }
  return false;
}

void AccessLog::formatTo(const RequestHeaders& request, const StreamInfo& info,
                         std::string* out) const {
  if (!json_mode_) {
    text_.render(request, info, out);
    return;
  }
  // Each value is rendered in place, then quoted (or written as a number or null) by moving
  // it: the line needs no scratch string.
  out->push_back('{');
  bool first = true;
  for (const auto& [key, f] : json_) {
    if (!first) out->push_back(',');
    first = false;
    out->append(key);
    out->push_back(':');
    size_t start = out->size();
    f.render(request, info, out);
    std::string_view v(out->data() + start, out->size() - start);
    if (v == "-") {
      out->resize(start);
      out->append("null");
    } else if (!f.numeric()) {
      thread_local std::string value;
      value.assign(v);
      out->resize(start);
      jsonEscape(out, value);
    }
  }
  out->append("}\n");
}

std::string AccessLog::format(const RequestHeaders& request, const StreamInfo& info) const {
  std::string out;
  formatTo(request, info, &out);
  return out;
}

void AccessLog::log(AccessLogBuffers& buffers, const RequestHeaders& request,
                    const StreamInfo& info) {
  std::string& buf = buffers.buffer(file_);
  formatTo(request, info, &buf);
  buffers.committed(file_, buf);
}

// --- AccessLogFile ---

namespace {

std::mutex g_files_mu;
std::map<std::string, std::weak_ptr<AccessLogFile>>& openFiles() {
  static auto* files = new std::map<std::string, std::weak_ptr<AccessLogFile>>;  // never freed:
  return *files;  // a retired writer may still use it while statics are destroyed
}

// Writers whose file was let go and that are still writing what was queued (never freed, like
// the map above).
struct Retiring {
  std::mutex mu;
  std::condition_variable done;
  size_t count = 0;
};
Retiring& retiring() {
  static auto* r = new Retiring;
  return *r;
}

}  // namespace

absl::StatusOr<std::shared_ptr<AccessLogFile>> AccessLogFile::open(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_files_mu);
  auto& slot = openFiles()[path];
  if (auto existing = slot.lock()) return existing;
  int fd;
  bool own = false;
  if (path == "/dev/stdout") {
    fd = STDOUT_FILENO;
  } else if (path == "/dev/stderr") {
    fd = STDERR_FILENO;
  } else {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      return absl::InvalidArgumentError(
          cat("access log '", path, "': cannot open: ", strerror(errno)));
    }
    own = true;
  }
  std::shared_ptr<AccessLogFile> file(new AccessLogFile(path, fd, own), &AccessLogFile::release);
  slot = file;
  return file;
}

AccessLogFile::AccessLogFile(std::string path, int fd, bool own_fd)
    : path_(std::move(path)), fd_(fd), own_fd_(own_fd) {
  struct stat st;
  if (fstat(fd_, &st) == 0) {
    if (S_ISFIFO(st.st_mode)) kind_ = Kind::Pipe;
    if (S_ISSOCK(st.st_mode)) kind_ = Kind::Socket;
  }
  thread_ = std::thread([this] {
    log::setThreadName("access_log");
    run();
    // Stopped (release()) and everything queued is written or given up on.
    delete this;
    Retiring& r = retiring();
    std::lock_guard<std::mutex> lock(r.mu);
    if (--r.count == 0) r.done.notify_all();
  });
}

AccessLogFile::~AccessLogFile() {  // on the writer's own thread, which is detached
  if (own_fd_) ::close(fd_);
}

// Runs where the last reference went away, possibly a worker: it must not wait for the disk or
// a stuck pipe. The writer is told to stop and finishes, and frees the file, on its own.
void AccessLogFile::release(AccessLogFile* file) {
  {
    std::lock_guard<std::mutex> lock(g_files_mu);
    auto it = openFiles().find(file->path_);
    if (it != openFiles().end() && it->second.expired()) openFiles().erase(it);
  }
  {
    std::lock_guard<std::mutex> lock(retiring().mu);
    ++retiring().count;
  }
  file->thread_.detach();  // before stop_: once stopped, the writer may free `file` at any time
  std::lock_guard<std::mutex> lock(file->mu_);
  file->stop_ = true;
  file->wake_.notify_one();  // under the lock: `file` is not touched after it is released
}

size_t AccessLogFile::awaitRetired(uint64_t max_ms) {
  Retiring& r = retiring();
  std::unique_lock<std::mutex> lock(r.mu);
  r.done.wait_for(lock, std::chrono::milliseconds(max_ms), [&] { return r.count == 0; });
  return r.count;
}

std::string AccessLogFile::submit(std::string&& batch, bool by_timer) {
  FileSystemStats& stats = fileSystemStats();
  std::string next;
  bool dropped = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queued_bytes_ + batch.size() > kMaxQueuedBytes) {
      dropped = true;
      batch.clear();
      next = std::move(batch);  // keeps its capacity
    } else {
      queued_bytes_ += batch.size();
      stats.write_total_buffered.fetch_add(static_cast<int64_t>(batch.size()));
      queue_.push_back(std::move(batch));
      ++submitted_;
      if (!spare_.empty()) {
        next = std::move(spare_.back());
        spare_.pop_back();
      }
    }
  }
  if (dropped) {
    stats.write_dropped.fetch_add(1);
    return next;
  }
  stats.write_buffered.fetch_add(1);
  if (by_timer) stats.flushed_by_timer.fetch_add(1);
  wake_.notify_one();
  return next;
}

void AccessLogFile::reopenAll() {
  std::vector<std::shared_ptr<AccessLogFile>> files;
  {
    std::lock_guard<std::mutex> lock(g_files_mu);
    for (auto& [path, weak] : openFiles()) {
      if (auto f = weak.lock()) files.push_back(std::move(f));
    }
  }
  for (auto& f : files) {
    if (!f->own_fd_) continue;
    {
      std::lock_guard<std::mutex> lock(f->mu_);
      f->reopen_ = true;
    }
    f->wake_.notify_one();
  }
}

// The writer thread: the path names a new file now (or none, and it is made again).
void AccessLogFile::reopen() {
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    fileSystemStats().reopen_failed.fetch_add(1);
    REMORA_LOG(Warn, "access log '%s': cannot open again: %s; still writing the old file", path_,
               strerror(errno));
    return;
  }
  ::close(fd_);
  fd_ = fd;
  struct stat st;
  kind_ = Kind::File;
  if (fstat(fd_, &st) == 0 && S_ISFIFO(st.st_mode)) kind_ = Kind::Pipe;
}

void AccessLogFile::sync() {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t target = submitted_;
  idle_.wait(lock, [&] { return done_ >= target; });
}

// Writes all of data; false (and a warning) when the file refuses it. A pipe or socket is
// written only as far as poll(2) says it has room, so the writer never blocks in write(2): once
// the log is stopping, a reader that takes nothing for a second is given up on (the process must
// be able to exit).
bool AccessLogFile::writeAll(std::string_view data) {
  int stalled_ms = 0;
  while (!data.empty()) {
    size_t chunk = data.size();
    if (kind_ != Kind::File) {
      pollfd p{fd_, POLLOUT, 0};
      int r = ::poll(&p, 1, 100);
      if (r < 0 && errno != EINTR) r = 1;  // let write() report it
      if (r <= 0) {
        if (stop_.load() && (stalled_ms += 100) >= 1000) {
          REMORA_LOG(Warn, "access log '%s': not writable for 1 s at shutdown; %zu bytes dropped",
                     path_, data.size());
          return false;
        }
        continue;
      }
      // POLLOUT on a pipe promises room for PIPE_BUF bytes, not more.
      if (kind_ == Kind::Pipe) chunk = std::min<size_t>(chunk, PIPE_BUF);
    }
    ssize_t n = kind_ == Kind::Socket ? ::send(fd_, data.data(), chunk, MSG_DONTWAIT | MSG_NOSIGNAL)
                                      : ::write(fd_, data.data(), chunk);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      REMORA_LOG(Warn, "access log '%s': write failed: %s; %zu bytes dropped", path_,
                 strerror(errno), data.size());
      return false;
    }
    stalled_ms = 0;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void AccessLogFile::run() {
  FileSystemStats& stats = fileSystemStats();
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || reopen_ || !queue_.empty(); });
    if (reopen_) {  // before the next batch: lines logged after the request go to the new file
      reopen_ = false;
      lock.unlock();
      reopen();
      lock.lock();
      continue;
    }
    if (queue_.empty()) break;  // stopping, and everything is written
    std::string batch = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    bool ok = !given_up_ && writeAll(batch);
    // At shutdown, a file that took nothing for a second takes nothing more: the rest of the
    // queue is dropped at once, not a second per batch.
    if (!ok && stop_.load()) given_up_ = true;
    (ok ? stats.write_completed : stats.write_failed).fetch_add(1);
    stats.write_total_buffered.fetch_sub(static_cast<int64_t>(batch.size()));
    lock.lock();
    queued_bytes_ -= batch.size();
    ++done_;
    // Buffers of the usual size go back to the workers; a rare huge one is freed.
    if (spare_.size() < 8 && batch.capacity() <= 4 * AccessLogBuffers::kFlushBytes) {
      batch.clear();
      spare_.push_back(std::move(batch));
    }
    if (queue_.empty()) idle_.notify_all();
  }
  idle_.notify_all();
}

// --- AccessLogBuffers ---

AccessLogBuffers::AccessLogBuffers(event::TimeoutQueues& timeouts)
    : timer_(timeouts, [this] { flush(true); }) {}

AccessLogBuffers::~AccessLogBuffers() { flush(); }

std::string& AccessLogBuffers::buffer(const std::shared_ptr<AccessLogFile>& file) {
  for (auto& e : entries_) {
    if (e.file == file) return e.buf;
  }
  entries_.push_back({file, std::string()});
  entries_.back().buf.reserve(kFlushBytes + 4096);
  return entries_.back().buf;
}

void AccessLogBuffers::committed(const std::shared_ptr<AccessLogFile>& file, std::string& buf) {
  if (buf.size() >= kFlushBytes || closing_) {
    buf = file->submit(std::move(buf), false);
    if (buf.capacity() < kFlushBytes) buf.reserve(kFlushBytes + 4096);
    return;
  }
  if (!timer_.enabled()) timer_.enable(flush_interval_ms_);
}

void AccessLogBuffers::flush(bool by_timer) {
  timer_.disable();
  for (auto& e : entries_) {
    if (!e.buf.empty()) e.buf = e.file->submit(std::move(e.buf), by_timer);
  }
  // A file no configuration names any more is let go with the buffers it gave back; the
  // others keep theirs for the next lines.
  std::erase_if(entries_, [](const Entry& e) { return e.file.use_count() == 1; });
}

}  // namespace remora::http
