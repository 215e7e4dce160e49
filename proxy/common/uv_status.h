// Converts libuv's negative return codes to absl::Status, once, at the wrapper.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace remora {

// "what: EADDRINUSE (address already in use)"; OK when rc >= 0.
absl::Status uvStatus(int rc, std::string_view what);

}  // namespace remora
