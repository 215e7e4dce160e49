// Envoy's string and header matchers as plain values (envoy.type.matcher.v3.StringMatcher,
// envoy.config.route.v3.HeaderMatcher), shared by routes and RBAC. Regular expressions are kept
// as their source text and compiled where they are used (proxy/http/route_table.h).
#pragma once

#include <cstdint>
#include <string>

namespace remora::config {

// envoy.type.matcher.v3.StringMatcher.
struct StringMatch {
  enum class Kind { Exact, Prefix, Suffix, Contains, Regex };
  Kind kind = Kind::Exact;
  std::string value;  // the regex source for Regex (RE2 syntax; see route_table.h)
  bool ignore_case = false;
  bool operator==(const StringMatch&) const = default;
};

// envoy.config.route.v3.HeaderMatcher.
struct HeaderMatch {
  std::string name;  // lower case
  enum class Kind { Present, String, Range };
  Kind kind = Kind::Present;
  bool present = true;  // Present: the header must (true) or must not (false) be there
  StringMatch string_match;
  int64_t range_start = 0, range_end = 0;  // Range: [start, end) on the value as an integer
  bool invert = false;
  bool treat_missing_as_empty = false;
  bool operator==(const HeaderMatch&) const = default;
};

}  // namespace remora::config
