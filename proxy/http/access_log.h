// Per-request access logs in Envoy's formats: a text line with %OPERATORS% (Envoy's default
// format when none is given) or a JSON object whose values are format strings. Written to a
// file, /dev/stdout or /dev/stderr, one line per request, from the worker that served it.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/config/http_config.h"
#include "proxy/http/filter.h"
#include "proxy/http/headers.h"

namespace remora::http {

// A parsed format string: literal text and operators.
class LogFormat {
 public:
  static absl::StatusOr<LogFormat> parse(std::string_view format);
  std::string render(const RequestHeaders& request, const StreamInfo& info) const;
  // For JSON values: numbers stay numbers when the whole value is one numeric operator.
  bool numeric() const { return numeric_; }

 private:
  struct Piece {
    enum class Kind { Literal, Operator };
    Kind kind;
    std::string text;  // the literal, or the operator name
    std::string arg;   // REQ(x) / RESP(x) / START_TIME(format) argument
    std::string alt;   // REQ(x?y): the alternative header
    size_t max_len = 0;
  };
  std::vector<Piece> pieces_;
  bool numeric_ = false;
};

class AccessLog {
 public:
  static absl::StatusOr<std::shared_ptr<AccessLog>> create(const config::AccessLogConfig& config);
  void log(const RequestHeaders& request, const StreamInfo& info);
  // The line that would be written (tests).
  std::string format(const RequestHeaders& request, const StreamInfo& info) const;

 private:
  AccessLog() = default;
  int fd_ = -1;
  bool own_fd_ = false;
  LogFormat text_;
  std::vector<std::pair<std::string, LogFormat>> json_;
  bool json_mode_ = false;

 public:
  ~AccessLog();
};

// Envoy's default text format.
extern const char kDefaultAccessLogFormat[];

}  // namespace remora::http
