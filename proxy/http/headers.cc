// Header blocks.
#include "proxy/http/headers.h"

#include <algorithm>

namespace remora::http {

namespace {

// Spare header storage, per thread, bounded by the bytes it holds (1 MiB per worker): enough
// for the storage of about 700 typical header blocks, so an HTTP/2 connection with hundreds of
// streams in flight recycles as well as 50 HTTP/1.1 connections do. It holds at most what the
// worker once had in use at the same time, like any allocator's cache.
constexpr size_t kPoolMaxBytes = kThreadCacheEnabled ? 1 << 20 : 0;
constexpr size_t kPoolMaxSlots = 32;    // entries a kept storage may have room for
constexpr size_t kPoolMaxString = 256;  // a longer string is freed, not kept
constexpr size_t kInitialSlots = 16;    // typical blocks never grow past it

// The heap bytes a storage holds: its slots and its strings' out-of-line buffers.
size_t footprint(const std::vector<HeaderMap::Entry>& v) {
  constexpr size_t kInline = std::string().capacity();  // the short-string buffer
  size_t n = v.capacity() * sizeof(HeaderMap::Entry);
  for (const HeaderMap::Entry& e : v) {
    if (e.name.capacity() > kInline) n += e.name.capacity() + 1;
    if (e.value.capacity() > kInline) n += e.value.capacity() + 1;
  }
  return n;
}

struct SlotPool {
  std::vector<std::vector<HeaderMap::Entry>> free;
  std::vector<size_t> sizes;  // footprint of each storage in `free`
  size_t bytes = 0;
  SlotPool() {
    free.reserve(256);
    sizes.reserve(256);
  }
};
// This thread's pool; null after the thread's exit (a map that outlives it frees its own
// storage).
SlotPool* pool() { return PerThread<SlotPool>::get(); }

std::vector<HeaderMap::Entry> takeStorage() {
  SlotPool* p = pool();
  if (p != nullptr && !p->free.empty()) {
    std::vector<HeaderMap::Entry> v = std::move(p->free.back());
    p->free.pop_back();
    p->bytes -= p->sizes.back();
    p->sizes.pop_back();
    return v;
  }
  std::vector<HeaderMap::Entry> v;
  v.reserve(kInitialSlots);
  return v;
}

}  // namespace

void HeaderMap::release() {
  size_ = 0;
  bytes_ = 0;
  if (slots_.capacity() == 0) return;
  SlotPool* p = pool();
  if (p != nullptr && slots_.capacity() <= kPoolMaxSlots) {
    for (Entry& e : slots_) {
      if (e.name.capacity() > kPoolMaxString) std::string().swap(e.name);
      if (e.value.capacity() > kPoolMaxString) std::string().swap(e.value);
    }
    size_t n = footprint(slots_);
    if (p->bytes + n <= kPoolMaxBytes) {
      p->free.push_back(std::move(slots_));
      p->sizes.push_back(n);
      p->bytes += n;
    }
  }
  std::vector<Entry>().swap(slots_);
}

HeaderMap::HeaderMap(const HeaderMap& other) {
  for (const Entry& e : other.entries()) add(e.name, e.value);
}

HeaderMap& HeaderMap::operator=(const HeaderMap& other) {
  if (this != &other) {
    clear();
    for (const Entry& e : other.entries()) add(e.name, e.value);
  }
  return *this;
}

const std::string* HeaderMap::get(std::string_view name) const {
  for (const auto& e : entries()) {
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
  // An empty map without storage: the views cannot point into it.
  if (slots_.capacity() == 0) slots_ = takeStorage();
  if (size_ < slots_.size()) {
    // A spare slot: no entry refers to it, and a view into it would be a stale one.
    Entry& e = slots_[size_];
    e.name.assign(name);
    e.value.assign(value);
  } else {
    // Built before the vector may move, so views into this map stay valid meanwhile.
    Entry e{std::string(name), std::string(value)};
    slots_.push_back(std::move(e));
  }
  bytes_ += name.size() + value.size();
  ++size_;
}

void HeaderMap::set(std::string_view name, std::string_view value) {
  if (remove(name) == 0) {
    add(name, value);
    return;
  }
  // The removed entries sit past size_; the views may point into them, and add() reuses the
  // first: so the value is kept whole before the slot is rewritten.
  std::string copy(value);
  add(name, copy);
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
