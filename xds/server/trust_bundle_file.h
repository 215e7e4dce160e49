// remora-control's trust bundle as a file (--trust-bundle-out) for operators to hand to proxies
// as the root certificates of the control plane (as istiod publishes its root-cert.pem): every
// root of the CA's bundle, including a staged root (from the moment it is staged, so proxies
// trust it before it signs anything, remora-control's own certificate included) and retired
// roots still in their overlap. Checked every second; rewritten atomically when it changes.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "certs/ca.h"

namespace remora::xds {

class TrustBundleFile {
 public:
  using CaFn = std::function<std::shared_ptr<const certs::CertificateAuthority>()>;

  TrustBundleFile(std::string path, CaFn ca) : path_(std::move(path)), ca_(std::move(ca)) {}
  ~TrustBundleFile() = default;  // close() first once start() was called

  // Writes the file if its content differs from the bundle now (at start-up: the error stops
  // remora-control).
  absl::Status update();
  // Checks every second on `loop`; a failed write is logged once per bundle.
  void start(uv_loop_t* loop);
  void close();

 private:
  std::string path_;
  CaFn ca_;
  std::string written_;  // the content last written
  std::string failed_;   // the content whose write failed last (logged once)
  uv_timer_t* timer_ = nullptr;
};

}  // namespace remora::xds
