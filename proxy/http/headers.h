// HTTP header blocks, the same for HTTP/1.1 and HTTP/2. Names are stored in lower case (as
// HTTP/2 requires and RFC 9110 allows); order and repeats are kept. The request line / pseudo
// headers (:method, :scheme, :authority, :path, :status) are fields of their own, not entries:
// the HTTP/1 codec maps Host to `authority` and back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace remora::http {

class HeaderMap {
 public:
  struct Entry {
    std::string name;  // lower case
    std::string value;
  };

  // The first value of `name` (lower case), or nullptr.
  const std::string* get(std::string_view name) const;
  // All values of `name`, joined with ", " (RFC 9110 5.3); empty if absent.
  std::string getJoined(std::string_view name) const;
  bool has(std::string_view name) const { return get(name) != nullptr; }
  size_t count(std::string_view name) const;

  // Adds an entry (name must be lower case).
  void add(std::string name, std::string value);
  // Replaces every entry of `name` with one.
  void set(std::string_view name, std::string value);
  // Removes every entry of `name`; returns how many went.
  size_t remove(std::string_view name);
  template <typename Pred>
  size_t removeIf(Pred pred) {
    size_t before = entries_.size();
    std::erase_if(entries_, [&](const Entry& e) {
      if (!pred(e)) return false;
      bytes_ -= e.name.size() + e.value.size();
      return true;
    });
    return before - entries_.size();
  }
  void clear() {
    entries_.clear();
    bytes_ = 0;
  }

  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Sum of name and value lengths (for the header size limit).
  size_t byteSize() const { return bytes_; }

 private:
  std::vector<Entry> entries_;
  size_t bytes_ = 0;
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

  std::string_view pathOnly() const;  // path without the query
  std::string_view query() const;     // after '?', or empty
};

struct ResponseHeaders {
  uint32_t status = 200;
  HeaderMap headers;
};

// RFC 9110 5.6.2 token characters (method names, header names).
bool isTokenChar(unsigned char c);
// Lower-cases ASCII in place.
void toLower(std::string& s);
bool equalsIgnoreCase(std::string_view a, std::string_view b);

// The reason phrase for a status code ("OK"), or "Unknown".
std::string_view reasonPhrase(uint32_t status);

}  // namespace remora::http
