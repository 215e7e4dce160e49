// Log line formatting and output.
#include "proxy/common/log.h"

#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace remora::log {
namespace {

thread_local char t_name[24] = "main";

constexpr std::string_view kNames[] = {"trace", "debug", "info", "warning", "error", "off"};

}  // namespace

void setLevel(Level level) { g_level.store(level, std::memory_order_relaxed); }

bool parseLevel(std::string_view name, Level* out) {
  for (int i = 0; i < 6; ++i) {
    if (name == kNames[i]) {
      *out = static_cast<Level>(i);
      return true;
    }
  }
  if (name == "warn") {
    *out = Level::Warn;
    return true;
  }
  return false;
}

void setThreadName(std::string_view name) {
  size_t n = std::min(name.size(), sizeof(t_name) - 1);
  std::memcpy(t_name, name.data(), n);
  t_name[n] = '\0';
}

void write(Level level, std::string_view message) {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char stamp[40];
  size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(stamp + n, sizeof(stamp) - n, ".%03ldZ", static_cast<long>(tv.tv_usec / 1000));
  std::string line =
      absl::StrFormat("[%s][%s][%s] %s\n", stamp, kNames[static_cast<int>(level)], t_name, message);
  size_t off = 0;
  while (off < line.size()) {
    ssize_t w = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (w <= 0) break;
    off += static_cast<size_t>(w);
  }
}

}  // namespace remora::log
