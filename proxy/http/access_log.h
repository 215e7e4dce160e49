// Per-request access logs in Envoy's formats: a text line with %OPERATORS% (Envoy's default
// format when none is given) or a JSON object whose values are format strings. Written to a
// file, /dev/stdout or /dev/stderr.
//
// The data path neither parses nor writes: a format is compiled once, when the configuration
// is translated, into a list of operations, and a request's line is rendered straight into its
// worker's buffer for that file (AccessLogBuffers). A buffer goes to the file's writer thread
// when it holds 64 KiB, or a flush interval (1 s by default) after its first line. So a worker
// never blocks on a slow disk or a full stdout pipe, takes no lock per request, and allocates
// nothing per line once its buffers are warm.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/config/http_config.h"
#include "proxy/event/timeout.h"
#include "proxy/http/filter.h"
#include "proxy/http/headers.h"

namespace remora::stats {
class Store;
}

namespace remora::http {

// A compiled format string: literal text and operators.
class LogFormat {
 public:
  static absl::StatusOr<LogFormat> parse(std::string_view format);
  // Appends the rendered format to *out.
  void render(const RequestHeaders& request, const StreamInfo& info, std::string* out) const;
  std::string render(const RequestHeaders& request, const StreamInfo& info) const {
    std::string out;
    render(request, info, &out);
    return out;
  }
  // For JSON values: numbers stay numbers when the whole value is one numeric operator.
  bool numeric() const { return numeric_; }
  // Some operator reads the response headers (%RESP(...)%).
  bool usesResponseHeaders() const;

 private:
  enum class Op : uint8_t {
    Literal,
    StartTime,
    ReqMethod,
    ReqPath,
    ReqAuthority,
    ReqScheme,
    ReqHeader,
    RespHeader,
    Protocol,
    ResponseCode,
    ResponseFlags,
    ResponseCodeDetails,
    BytesReceived,
    BytesSent,
    Duration,
    UpstreamHost,
    UpstreamCluster,
    DownstreamRemoteAddress,
    DownstreamRemoteAddressWithoutPort,
    DownstreamLocalAddress,
    DownstreamLocalAddressWithoutPort,
    RouteName,
    UpstreamRequestAttemptCount,
    Hostname,
    StreamId,
    DownstreamPeerUriSan,
    DownstreamPeerDnsSan,
    DownstreamPeerSubject,
    DownstreamLocalUriSan,
    DownstreamLocalSubject,
    DownstreamTlsVersion,
    DownstreamTlsCipher,
    RequestedServerName,
  };
  struct Piece {
    Op op = Op::Literal;
    std::string text;  // the literal; the lower-cased header of REQ(x) / RESP(x)
    // REQ(x?y) / RESP(x?y): the alternative, lower-cased; its pseudo-header operation, if any.
    std::string alt;
    Op alt_op = Op::Literal;
    size_t max_len = 0;  // 0: no limit
  };
  static void renderValue(Op op, std::string_view header, const RequestHeaders& request,
                          const StreamInfo& info, std::string* out);
  std::vector<Piece> pieces_;
  bool numeric_ = false;
};

class AccessLogFile;
class AccessLogBuffers;

class AccessLog {
 public:
  // The file is shared with every other log that names the same path. `stats` gets the
  // process's filesystem.* counters (once).
  static absl::StatusOr<std::shared_ptr<AccessLog>> create(const config::AccessLogConfig& config,
                                                           stats::Store* stats = nullptr);
  // On a worker's thread: renders the request's line into that worker's buffer.
  void log(AccessLogBuffers& buffers, const RequestHeaders& request, const StreamInfo& info);
  // The line that would be written (tests).
  std::string format(const RequestHeaders& request, const StreamInfo& info) const;
  bool usesResponseHeaders() const;
  const std::shared_ptr<AccessLogFile>& file() const { return file_; }

 private:
  AccessLog() = default;
  void formatTo(const RequestHeaders& request, const StreamInfo& info, std::string* out) const;
  std::shared_ptr<AccessLogFile> file_;
  LogFormat text_;
  std::vector<std::pair<std::string, LogFormat>> json_;  // key already JSON-quoted
  bool json_mode_ = false;
};

// An open log file and the thread that writes to it. One per path in the process, shared by
// every access log naming it; lines from different workers arrive in whole batches.
class AccessLogFile {
 public:
  // The last reference may go away on any thread, a worker's too, and that thread does not
  // wait: the writer finishes what is queued on its own (waiting up to a second for a pipe that
  // does not drain), closes the file and frees itself. awaitRetired() waits for those writers.
  static absl::StatusOr<std::shared_ptr<AccessLogFile>> open(const std::string& path);
  AccessLogFile(const AccessLogFile&) = delete;
  AccessLogFile& operator=(const AccessLogFile&) = delete;

  // Any thread: queues a batch of whole lines for the writer and returns an empty buffer (with
  // capacity, when the writer has one to give back) to fill next. A batch that would take the
  // queue past kMaxQueuedBytes is dropped and counted: memory stays bounded when the file or
  // pipe stops taking data, and the worker never waits for it.
  std::string submit(std::string&& batch, bool by_timer);
  // Blocks until everything submitted so far was written or dropped (tests, shutdown).
  void sync();
  // Every open log file is closed and opened again by its path before its next write (admin
  // /reopen_logs, after a rotation that renamed the files). stdout and stderr stay as they are.
  static void reopenAll();
  // Waits until every writer whose file was let go has finished (process exit, tests), at most
  // `max_ms`; returns how many are still running.
  static size_t awaitRetired(uint64_t max_ms = 10000);
  const std::string& path() const { return path_; }

  static constexpr size_t kMaxQueuedBytes = 16 << 20;

 private:
  AccessLogFile(std::string path, int fd, bool own_fd);
  ~AccessLogFile();
  static void release(AccessLogFile* file);  // the shared_ptr's deleter
  void run();
  bool writeAll(std::string_view data);

  std::string path_;
  int fd_;
  bool own_fd_;
  // A pipe or socket may stop taking data; the writer then must not block in write(2), or a
  // stuck reader would hold up shutdown forever: it waits in poll(2) and writes what fits.
  enum class Kind { File, Pipe, Socket } kind_ = Kind::File;
  std::mutex mu_;
  std::condition_variable wake_;  // writer: work or stop
  std::condition_variable idle_;  // sync(): the queue went empty
  std::deque<std::string> queue_;
  std::vector<std::string> spare_;  // written buffers, for reuse
  size_t queued_bytes_ = 0;
  uint64_t submitted_ = 0, done_ = 0;  // batches, for sync()
  std::atomic<bool> stop_{false};      // written under mu_ (for the wake-up), read by writeAll too
  bool given_up_ = false;              // writer thread only
  bool reopen_ = false;                // guarded by mu_
  void reopen();                       // writer thread
  std::thread thread_;
};

// Envoy's filesystem.* statistics (process-wide, every file's).
struct FileSystemStats {
  std::atomic<uint64_t> write_buffered{0};       // batches handed to a writer
  std::atomic<uint64_t> write_completed{0};      // batches written
  std::atomic<uint64_t> write_failed{0};         // batches a write error cut short
  std::atomic<uint64_t> flushed_by_timer{0};     // batches handed over by the flush interval
  std::atomic<uint64_t> write_dropped{0};        // batches dropped: the writer was too far behind
  std::atomic<uint64_t> reopen_failed{0};        // /reopen_logs could not open a file again
  std::atomic<int64_t> write_total_buffered{0};  // bytes waiting in the writers' queues
};
FileSystemStats& fileSystemStats();

// One worker's unwritten lines, per file. Lives in the worker and runs on its thread.
class AccessLogBuffers {
 public:
  explicit AccessLogBuffers(event::TimeoutQueues& timeouts);
  ~AccessLogBuffers();
  AccessLogBuffers(const AccessLogBuffers&) = delete;
  AccessLogBuffers& operator=(const AccessLogBuffers&) = delete;

  // The buffer to append one whole line for `file` to; then call committed().
  std::string& buffer(const std::shared_ptr<AccessLogFile>& file);
  void committed(const std::shared_ptr<AccessLogFile>& file, std::string& buffer);
  // Hands every non-empty buffer to its file's writer (the flush timer).
  void flush(bool by_timer = false);
  // Worker shutdown: flushes, and from now on every line goes to its writer at once (the loop
  // is ending; a flush timer would only hold it up).
  void close() {
    closing_ = true;
    flush();
  }
  void setFlushInterval(uint64_t ms) { flush_interval_ms_ = ms == 0 ? 1 : ms; }

  static constexpr size_t kFlushBytes = 64 << 10;

 private:
  struct Entry {
    std::shared_ptr<AccessLogFile> file;
    std::string buf;
  };
  std::vector<Entry> entries_;  // a handful at most: the files this worker's logs name
  event::Timeout timer_;
  uint64_t flush_interval_ms_ = 1000;
  bool closing_ = false;
};

// Envoy's default text format.
extern const char kDefaultAccessLogFormat[];

// Appends Envoy's short names of the flags set ("UH,UF"), nothing when none is.
void appendResponseFlags(std::string* out, uint32_t flags);

}  // namespace remora::http
