// Leveled, line-at-a-time logging to stderr, safe from any thread.
#pragma once

#include <atomic>
#include <string_view>

#include "absl/strings/str_format.h"

namespace remora::log {

enum class Level { Trace = 0, Debug, Info, Warn, Error, Off };

inline std::atomic<Level> g_level{Level::Info};

inline bool enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }
void setLevel(Level level);
// Parses "trace", "debug", "info", "warn"/"warning", "error", "off".
bool parseLevel(std::string_view name, Level* out);
// Names the calling thread in log lines ("main", "worker_0", ...).
void setThreadName(std::string_view name);
// Writes one line with a timestamp, level and thread name, in a single write(2).
void write(Level level, std::string_view message);

}  // namespace remora::log

#define REMORA_LOG(level, ...)                                                         \
  do {                                                                                 \
    if (::remora::log::enabled(::remora::log::Level::level)) {                         \
      ::remora::log::write(::remora::log::Level::level, absl::StrFormat(__VA_ARGS__)); \
    }                                                                                  \
  } while (0)
