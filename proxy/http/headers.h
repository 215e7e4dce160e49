// HTTP header blocks, the same for HTTP/1.1 and HTTP/2. Names are stored in lower case (as
// HTTP/2 requires and RFC 9110 allows); order and repeats are kept. The request line / pseudo
// headers (:method, :scheme, :authority, :path, :status) are fields of their own, not entries:
// the HTTP/1 codec maps Host to `authority` and back.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/common/thread_cache.h"

namespace remora::http {

// A header block's bytes live in one contiguous buffer (the arena) and its entries are views
// into it: adding a header is one append and one small record, and a whole block sits in a few
// cache lines instead of a string object (and often a heap block) per name and per value.
// Removed entries leave their bytes behind until the map is cleared, or until the arena would
// have to grow and at least half of it is dead, when it is compacted.
//
// Storage is recycled: a map's arena and entry array go back to a per-thread pool when the map
// dies, to be taken by the next map that needs one. A request and its response then cost no
// allocation once a worker is warm, and no idle connection holds header storage.
// Sanitizer builds pool nothing (kThreadCacheEnabled), so ASan sees every use after free.
class HeaderMap {
 public:
  struct Entry {
    std::string_view name;  // lower case
    std::string_view value;
  };

  HeaderMap() = default;
  HeaderMap(const HeaderMap& other);
  HeaderMap& operator=(const HeaderMap& other);
  HeaderMap(HeaderMap&& other) noexcept
      : entries_(std::move(other.entries_)),
        arena_(std::move(other.arena_)),
        bytes_(other.bytes_),
        dead_(other.dead_) {
    other.entries_.clear();
    other.arena_.clear();
    other.bytes_ = 0;
    other.dead_ = 0;
  }
  HeaderMap& operator=(HeaderMap&& other) noexcept {
    if (this != &other) {
      // Swapped: our old storage stays with `other` (emptied), to be reused or pooled there.
      entries_.swap(other.entries_);
      arena_.swap(other.arena_);
      bytes_ = other.bytes_;
      dead_ = other.dead_;
      other.clear();
    }
    return *this;
  }
  ~HeaderMap() { release(); }

  // The first value of `name` (lower case), or nullptr. The view stays valid until the map
  // is next changed.
  const std::string_view* get(std::string_view name) const;
  // All values of `name`, joined with ", " (RFC 9110 5.3); empty if absent.
  std::string getJoined(std::string_view name) const;
  bool has(std::string_view name) const { return get(name) != nullptr; }
  size_t count(std::string_view name) const;

  // Adds an entry (name must be lower case). The views may point into this map.
  void add(std::string_view name, std::string_view value);
  // Replaces every entry of `name` with one, at the end. The views may point into this map.
  void set(std::string_view name, std::string_view value);
  // Removes every entry of `name` (a view into this map is fine); returns how many went.
  size_t remove(std::string_view name);
  template <typename Pred>
  size_t removeIf(Pred pred) {
    size_t kept = 0;
    for (size_t i = 0; i < entries_.size(); ++i) {
      const Entry& e = entries_[i];
      if (pred(e)) {
        bytes_ -= e.name.size() + e.value.size();
        dead_ += e.name.size() + e.value.size();
        continue;
      }
      if (kept != i) entries_[kept] = e;
      ++kept;
    }
    size_t removed = entries_.size() - kept;
    entries_.resize(kept);
    return removed;
  }
  void clear() {
    entries_.clear();
    arena_.clear();
    bytes_ = 0;
    dead_ = 0;
  }

  std::span<const Entry> entries() const { return {entries_.data(), entries_.size()}; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Sum of name and value lengths (for the header size limit).
  size_t byteSize() const { return bytes_; }

  // Hands the storage to this thread's pool now (the map is left empty).
  void release();

 private:
  bool inArena(std::string_view v) const {
    return !v.empty() && v.data() >= arena_.data() && v.data() < arena_.data() + arena_.size();
  }
  // Room for `more` bytes at the arena's end; entries follow the arena if it moves.
  void reserveArena(size_t more);

  std::vector<Entry> entries_;
  std::string arena_;  // every entry's name and value, and dead bytes of removed ones
  size_t bytes_ = 0;   // live bytes
  size_t dead_ = 0;    // bytes of removed entries still in the arena
};

struct RequestHeaders {
  std::string method;     // GET
  std::string scheme;     // http / https (HTTP/2 :scheme; HTTP/1: from the connection)
  std::string authority;  // :authority or Host
  std::string path;       // origin-form target, query included ("/a?b=c")
  std::string protocol;   // HTTP/2 extended CONNECT :protocol (RFC 8441), else empty
  HeaderMap headers;      // everything else
  // HTTP/1 minor version of the request line (0 or 1); 1 for HTTP/2.
  int http_minor = 1;

  // Empties every field, keeping the strings' storage.
  void clear();
  std::string_view pathOnly() const;  // path without the query
  std::string_view query() const;     // after '?', or empty
};

struct ResponseHeaders {
  uint32_t status = 200;
  HeaderMap headers;

  void clear() {
    status = 200;
    headers.clear();
  }
};

namespace headers_internal {
// Bit 0: an RFC 9110 5.6.2 token character. The table's second half is the ASCII lower case.
struct CharTables {
  uint8_t token[256];
  char lower[256];
  constexpr CharTables() : token(), lower() {
    for (int c = 0; c < 256; ++c) {
      bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      bool sym = c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' ||
                 c == '*' || c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' ||
                 c == '|' || c == '~';
      token[c] = alnum || sym ? 1 : 0;
      lower[c] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
  }
};
inline constexpr CharTables kCharTables;
}  // namespace headers_internal

// RFC 9110 5.6.2 token characters (method names, header names).
inline bool isTokenChar(unsigned char c) { return headers_internal::kCharTables.token[c] != 0; }
inline char lowerAscii(unsigned char c) { return headers_internal::kCharTables.lower[c]; }
// Lower-cases ASCII in place.
void toLower(std::string& s);
bool equalsIgnoreCase(std::string_view a, std::string_view b);

// The reason phrase for a status code ("OK"), or "Unknown".
std::string_view reasonPhrase(uint32_t status);

}  // namespace remora::http
