// String helpers that take std::string_view. Debian's abseil is built with its own
// absl::string_view (not an alias of std::string_view), so absl::StrCat and friends do not
// accept std::string_view; these small equivalents do.
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/strings/string_view.h"

namespace remora {
namespace strings_internal {

inline void appendOne(std::string& out, std::string_view s) { out.append(s); }
inline void appendOne(std::string& out, absl::string_view s) { out.append(s.data(), s.size()); }
inline void appendOne(std::string& out, const std::string& s) { out.append(s); }
inline void appendOne(std::string& out, const char* s) { out.append(s); }
inline void appendOne(std::string& out, char c) { out.push_back(c); }
inline void appendOne(std::string& out, bool b) { out.append(b ? "true" : "false"); }
template <typename T>
requires(std::integral<T> && !std::same_as<T, char> &&
         !std::same_as<T, bool>) void appendOne(std::string& out, T v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}
inline void appendOne(std::string& out, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}

}  // namespace strings_internal

// Concatenates strings, string views, characters, booleans and numbers.
template <typename... Args>
std::string cat(const Args&... args) {
  std::string out;
  (strings_internal::appendOne(out, args), ...);
  return out;
}

template <typename... Args>
void append(std::string* out, const Args&... args) {
  (strings_internal::appendOne(*out, args), ...);
}

// A string kept inside the object up to N bytes (an x-request-id UUID is 36), on the heap
// only past that: for per-request fields that would otherwise allocate every time.
template <size_t N>
class InlineString {
 public:
  InlineString() = default;
  InlineString(const InlineString& other) { assign(other.view()); }
  InlineString& operator=(const InlineString& other) {
    assign(other.view());
    return *this;
  }
  InlineString& operator=(std::string_view s) {
    assign(s);
    return *this;
  }
  void assign(std::string_view s) {
    if (s.size() <= N) {
      std::char_traits<char>::move(buf_, s.data(), s.size());  // s may be our own view
      len_ = static_cast<uint32_t>(s.size());
      on_heap_ = false;
      heap_.clear();
    } else {
      heap_.assign(s);
      on_heap_ = true;
    }
  }
  std::string_view view() const {
    return on_heap_ ? std::string_view(heap_) : std::string_view(buf_, len_);
  }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
  bool empty() const { return view().empty(); }
  size_t size() const { return view().size(); }
  bool operator==(std::string_view other) const { return view() == other; }

 private:
  char buf_[N];
  uint32_t len_ = 0;
  bool on_heap_ = false;
  std::string heap_;
};

inline std::string_view sv(absl::string_view s) { return {s.data(), s.size()}; }

// Splits on a single character; the views point into `text`.
inline std::vector<std::string_view> split(std::string_view text, char sep,
                                           bool skip_empty = false) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t pos = text.find(sep, start);
    std::string_view part =
        text.substr(start, pos == std::string_view::npos ? text.npos : pos - start);
    if (!part.empty() || !skip_empty) out.push_back(part);
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

// Whole-string numeric parses: no sign for unsigned, no leading/trailing junk, no overflow.
template <typename T>
requires std::integral<T>
bool parseInt(std::string_view text, T* out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}
inline bool parseDouble(std::string_view text, double* out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace remora
