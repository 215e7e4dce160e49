// Splits a command line into flags, for the binaries' own parsers: "--name=value",
// "--name value", and value-less switches ("--help", "-h" counts as "--help").
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/common/strings.h"

namespace remora {

struct Flag {
  std::string_view name;   // without the leading "--"
  std::string_view value;  // empty for a switch
};

// `switches` are the flags that take no value. Errors name the argument.
inline absl::StatusOr<std::vector<Flag>> splitFlags(
    int argc, const char* const* argv, std::initializer_list<std::string_view> switches) {
  std::vector<Flag> out;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h") arg = "--help";
    if (!arg.starts_with("--")) {
      return absl::InvalidArgumentError(cat("unexpected argument '", arg, "'"));
    }
    std::string_view name = arg.substr(2);
    if (size_t eq = name.find('='); eq != std::string_view::npos) {
      out.push_back({name.substr(0, eq), name.substr(eq + 1)});
      continue;
    }
    bool is_switch = false;
    for (std::string_view s : switches) is_switch = is_switch || s == name;
    if (is_switch) {
      out.push_back({name, {}});
      continue;
    }
    if (i + 1 >= argc) return absl::InvalidArgumentError(cat("--", name, " needs a value"));
    out.push_back({name, argv[++i]});
  }
  return out;
}

}  // namespace remora
