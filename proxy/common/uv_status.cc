// libuv error code translation.
#include "proxy/common/uv_status.h"

#include <uv.h>
#include "proxy/common/strings.h"

namespace remora {

absl::Status uvStatus(int rc, std::string_view what) {
  if (rc >= 0) return absl::OkStatus();
  std::string msg = cat(what, ": ", uv_err_name(rc), " (", uv_strerror(rc), ")");
  switch (rc) {
    case UV_EADDRINUSE:
    case UV_EEXIST:
      return absl::AlreadyExistsError(msg);
    case UV_EACCES:
    case UV_EPERM:
      return absl::PermissionDeniedError(msg);
    case UV_EINVAL:
      return absl::InvalidArgumentError(msg);
    case UV_ENOENT:
      return absl::NotFoundError(msg);
    case UV_ETIMEDOUT:
      return absl::DeadlineExceededError(msg);
    case UV_EMFILE:
    case UV_ENFILE:
    case UV_ENOMEM:
    case UV_ENOBUFS:
      return absl::ResourceExhaustedError(msg);
    default:
      return absl::UnavailableError(msg);
  }
}

}  // namespace remora
