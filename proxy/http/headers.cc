// Header blocks.
#include "proxy/http/headers.h"

#include <algorithm>
#include <cstring>

namespace remora::http {

namespace {

// Spare header storage, per thread, bounded by the bytes it holds (1 MiB per worker): enough
// for the storage of hundreds of typical header blocks, so an HTTP/2 connection with hundreds
// of streams in flight recycles as well as 50 HTTP/1.1 connections do. It holds at most what
// the worker once had in use at the same time, like any allocator's cache.
constexpr size_t kPoolMaxBytes = kThreadCacheEnabled ? 1 << 20 : 0;
constexpr size_t kPoolMaxSlots = 64;       // entries a kept storage may have room for
constexpr size_t kPoolMaxArena = 8 << 10;  // a bigger arena is freed, not kept
constexpr size_t kInitialSlots = 16;       // typical blocks never grow past these
constexpr size_t kInitialArena = 1 << 10;
constexpr size_t kInlineArena = std::string().capacity();  // no heap buffer yet

struct Storage {
  std::vector<HeaderMap::Entry> entries;
  std::string arena;
  size_t footprint() const {
    return entries.capacity() * sizeof(HeaderMap::Entry) + arena.capacity();
  }
};

struct SlotPool {
  std::vector<Storage> free;
  size_t bytes = 0;
  SlotPool() { free.reserve(256); }
};
// This thread's pool; null after the thread's exit (a map that outlives it frees its own
// storage).
SlotPool* pool() { return PerThread<SlotPool>::get(); }

}  // namespace

void HeaderMap::release() {
  entries_.clear();
  arena_.clear();
  bytes_ = 0;
  dead_ = 0;
  if (entries_.capacity() == 0 && arena_.capacity() <= kInlineArena) return;
  SlotPool* p = pool();
  if (p != nullptr && entries_.capacity() <= kPoolMaxSlots && arena_.capacity() <= kPoolMaxArena) {
    Storage st{std::move(entries_), std::move(arena_)};
    size_t n = st.footprint();
    if (p->bytes + n <= kPoolMaxBytes && st.arena.capacity() > kInlineArena) {
      p->free.push_back(std::move(st));
      p->bytes += n;
    }
  }
  std::vector<Entry>().swap(entries_);
  std::string().swap(arena_);
}

void HeaderMap::reserveArena(size_t more) {
  size_t need = arena_.size() + more;
  if (need <= arena_.capacity() && arena_.capacity() > kInlineArena) return;
  if (arena_.capacity() <= kInlineArena) {
    // No storage yet (entries_ is empty too): this thread's pool has some, or a new one.
    SlotPool* p = pool();
    if (p != nullptr && !p->free.empty()) {
      Storage& st = p->free.back();
      p->bytes -= st.footprint();
      entries_ = std::move(st.entries);
      arena_ = std::move(st.arena);
      p->free.pop_back();
    } else {
      entries_.reserve(kInitialSlots);
      arena_.reserve(kInitialArena);
    }
    if (need <= arena_.capacity()) return;
  }
  if (dead_ * 2 >= arena_.size() && need - dead_ <= arena_.capacity()) {
    // Half of it is removed entries: the live ones move down (they are in arena order).
    char* base = arena_.data();
    size_t at = 0;
    for (Entry& e : entries_) {
      size_t n = e.name.size() + e.value.size();
      size_t from = static_cast<size_t>(e.name.data() - base);
      if (from != at) std::memmove(base + at, base + from, n);
      e = {std::string_view(base + at, e.name.size()),
           std::string_view(base + at + e.name.size(), e.value.size())};
      at += n;
    }
    arena_.resize(at);
    dead_ = 0;
    return;
  }
  size_t capacity = std::max(need - dead_, arena_.capacity() * 2);
  if (dead_ > 0) {
    // Growing anyway: only the live bytes come along.
    std::string fresh;
    fresh.reserve(capacity);
    for (Entry& e : entries_) {
      size_t at = fresh.size();
      fresh.append(e.name.data(), e.name.size() + e.value.size());
      e = {std::string_view(fresh.data() + at, e.name.size()),
           std::string_view(fresh.data() + at + e.name.size(), e.value.size())};
    }
    arena_.swap(fresh);
    dead_ = 0;
    return;
  }
  const char* old = arena_.data();
  arena_.reserve(capacity);
  if (arena_.data() == old) return;
  ptrdiff_t delta = arena_.data() - old;
  for (Entry& e : entries_) {
    e = {std::string_view(e.name.data() + delta, e.name.size()),
         std::string_view(e.value.data() + delta, e.value.size())};
  }
}

HeaderMap::HeaderMap(const HeaderMap& other) {
  if (other.empty()) return;
  reserveArena(other.bytes_);
  for (const Entry& e : other.entries()) add(e.name, e.value);
}

HeaderMap& HeaderMap::operator=(const HeaderMap& other) {
  if (this != &other) {
    clear();
    if (!other.empty()) reserveArena(other.bytes_);
    for (const Entry& e : other.entries()) add(e.name, e.value);
  }
  return *this;
}

const std::string_view* HeaderMap::get(std::string_view name) const {
  for (const auto& e : entries_) {
    if (e.name == name) return &e.value;
  }
  return nullptr;
}

std::string HeaderMap::getJoined(std::string_view name) const {
  std::string out;
  for (const auto& e : entries()) {
    if (e.name != name) continue;
    if (!out.empty()) out += ", ";
    out += e.value;
  }
  return out;
}

size_t HeaderMap::count(std::string_view name) const {
  auto all = entries();
  return static_cast<size_t>(
      std::count_if(all.begin(), all.end(), [&](const Entry& e) { return e.name == name; }));
}

void HeaderMap::add(std::string_view name, std::string_view value) {
  size_t n = name.size() + value.size();
  if (arena_.size() + n > arena_.capacity() || arena_.capacity() <= kInlineArena) {
    if (inArena(name) || inArena(value)) {
      // The arena is about to move or be compacted under the views: copied first (rare).
      std::string copy;
      copy.reserve(n);
      copy.append(name).append(value);
      reserveArena(n);
      add(std::string_view(copy.data(), name.size()),
          std::string_view(copy.data() + name.size(), value.size()));
      return;
    }
    reserveArena(n);
  }
  size_t at = arena_.size();
  arena_.append(name).append(value);
  const char* base = arena_.data() + at;
  entries_.push_back(
      {std::string_view(base, name.size()), std::string_view(base + name.size(), value.size())});
  bytes_ += n;
}

void HeaderMap::set(std::string_view name, std::string_view value) {
  // Removed entries keep their bytes in the arena, so views into them stay good for add().
  remove(name);
  add(name, value);
}

size_t HeaderMap::remove(std::string_view name) {
  if (!has(name)) return 0;  // the usual case: nothing moves
  return removeIf([&](const Entry& e) { return e.name == name; });
}

void RequestHeaders::clear() {
  method.clear();
  scheme.clear();
  authority.clear();
  path.clear();
  protocol.clear();
  headers.clear();
  http_minor = 1;
}

std::string_view RequestHeaders::pathOnly() const {
  std::string_view p = path;
  size_t q = p.find('?');
  return q == std::string_view::npos ? p : p.substr(0, q);
}

std::string_view RequestHeaders::query() const {
  std::string_view p = path;
  size_t q = p.find('?');
  return q == std::string_view::npos ? std::string_view() : p.substr(q + 1);
}

void toLower(std::string& s) {
  for (char& c : s) c = lowerAscii(static_cast<unsigned char>(c));
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

std::string_view reasonPhrase(uint32_t status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace remora::http
