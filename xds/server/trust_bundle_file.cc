// The trust bundle file (see trust_bundle_file.h).
#include "xds/server/trust_bundle_file.h"

#include "certs/x509.h"
#include "proxy/common/log.h"
#include "proxy/common/strings.h"

namespace remora::xds {
namespace {

constexpr uint64_t kTickMs = 1000;

}  // namespace

absl::Status TrustBundleFile::update() {
  auto ca = ca_();
  std::string pem = ca->trustBundlePem();
  if (pem == written_) return absl::OkStatus();
  // Public certificates: readable by whoever mounts them.
  if (auto s = certs::writeFileAtomic(path_, pem, 0644); !s.ok()) {
    auto err = absl::Status(s.code(), cat("--trust-bundle-out: ", s.message()));
    if (pem != failed_) REMORA_LOG(Error, "ca: %s", err.message());
    failed_ = pem;
    return err;
  }
  written_ = std::move(pem);
  failed_.clear();
  std::string subjects;
  for (const X509* r : ca->roots()) {
    append(&subjects, subjects.empty() ? "'" : ", '", certs::subjectString(r), "'");
  }
  REMORA_LOG(Info, "ca: trust bundle written to %s (%d roots: %s)", path_, ca->roots().size(),
             subjects);
  return absl::OkStatus();
}

void TrustBundleFile::start(uv_loop_t* loop) {
  if (timer_ != nullptr) return;
  timer_ = new uv_timer_t;
  uv_timer_init(loop, timer_);
  timer_->data = this;
  uv_timer_start(
      timer_, [](uv_timer_t* h) { (void)static_cast<TrustBundleFile*>(h->data)->update(); },
      kTickMs, kTickMs);
}

void TrustBundleFile::close() {
  if (timer_ == nullptr) return;
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  timer_ = nullptr;
}

}  // namespace remora::xds
