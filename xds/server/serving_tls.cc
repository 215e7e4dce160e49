// remora-control's serving certificate (see serving_tls.h).
#include "xds/server/serving_tls.h"

#include <openssl/err.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "certs/x509.h"
#include "proxy/common/log.h"
#include "proxy/common/strings.h"

namespace remora::xds {
namespace {

using std::chrono::duration_cast;
using std::chrono::seconds;

constexpr unsigned kRefreshSeconds = 1;  // how often gRPC re-reads the files
constexpr uint64_t kTickMs = 1000;       // how often a self-issued certificate is checked
constexpr seconds kRetry{10};            // after a failed renewal

std::string names(const X509* cert) {
  std::string out = certs::subjectString(cert);
  for (const auto& uri : certs::uriSans(cert)) append(&out, out.empty() ? "" : ", ", uri);
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServingTls>> ServingTls::create(ServingTlsOptions options, CaFn ca) {
  std::unique_ptr<ServingTls> t(new ServingTls());
  t->options_ = std::move(options);
  t->ca_ = std::move(ca);
  const auto& o = t->options_;
  if (o.cert_file.empty() != o.key_file.empty()) {
    return absl::InvalidArgumentError("--serving-cert and --serving-key go together");
  }
  if (!o.cert_file.empty()) {
    auto pem = certs::readFile(o.cert_file);
    if (!pem.ok())
      return absl::InvalidArgumentError(cat("--serving-cert: ", pem.status().message()));
    auto chain = certs::parseCertsPem(*pem);
    if (!chain.ok()) {
      return absl::InvalidArgumentError(
          cat("--serving-cert '", o.cert_file, "': ", chain.status().message()));
    }
    auto key_pem = certs::readFile(o.key_file);
    if (!key_pem.ok()) {
      return absl::InvalidArgumentError(cat("--serving-key: ", key_pem.status().message()));
    }
    auto key = certs::parsePrivateKeyPem(*key_pem);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          cat("--serving-key '", o.key_file, "': ", key.status().message()));
    }
    const X509* leaf = chain->front().get();
    if (X509_check_private_key(leaf, key->get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(cat(
          "the key in '", o.key_file, "' does not match the certificate in '", o.cert_file, "'"));
    }
    auto now = std::chrono::system_clock::now();
    if (certs::notAfter(leaf) <= now) {
      return absl::InvalidArgumentError(cat("the certificate in '", o.cert_file, "' has expired"));
    }
    t->cert_path_ = o.cert_file;
    t->key_path_ = o.key_file;
    t->summary_ = cat("from '", o.cert_file, "' (", names(leaf), "; ",
                      duration_cast<seconds>(certs::notAfter(leaf) - now).count(), "s left)");
    return t;
  }
  if (!t->ca_) {
    return absl::InvalidArgumentError(
        "--tls needs a CA (--ca-dir or --ca-cert) to issue remora-control its certificate, or "
        "give --serving-cert and --serving-key");
  }
  char tmpl[] = "/tmp/remora-control-tls-XXXXXX";  // mkdtemp makes it 0700
  if (mkdtemp(tmpl) == nullptr) {
    return absl::InternalError(
        cat("cannot create a directory for the serving certificate: ", strerror(errno)));
  }
  t->dir_ = tmpl;
  t->cert_path_ = t->key_path_ = t->dir_ + "/serving.pem";
  if (auto s = t->issue(*t->ca_(), std::chrono::system_clock::now()); !s.ok()) {
    return absl::InvalidArgumentError(cat("issuing the serving certificate: ", s.message()));
  }
  return t;
}

ServingTls::~ServingTls() {
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

absl::Status ServingTls::issue(const certs::CertificateAuthority& ca, certs::SystemTime now) {
  auto key = certs::generateKey(certs::KeyType::EcdsaP256);
  if (!key.ok()) return key.status();
  auto issued = ca.issue(key->get(), options_.identity, options_.names, options_.ttl, now);
  if (!issued.ok()) return issued.status();
  // One file, the chain (no roots: clients have them) and then the key, replaced at once, so
  // that gRPC never pairs a key with another certificate.
  std::string pem;
  for (const auto& c : issued->cert_chain) {
    auto parsed = certs::parseCertsPem(c);
    if (parsed.ok() && !certs::isSelfSigned(parsed->front().get())) pem += c;
  }
  pem += certs::privateKeyPem(key->get());
  if (auto s = certs::writeFileAtomic(cert_path_, pem, 0600); !s.ok()) return s;
  signer_pem_ = certs::certPem(ca.signer());
  // Renew at half the lifetime, counted from now (notBefore is backdated for clock skew).
  renew_at_ = now + (issued->not_after - now) / 2;
  summary_ = cat("self-issued by '", certs::subjectString(ca.signer()), "', serial ",
                 issued->serial_hex, " (", options_.identity.uri());
  for (const auto& d : options_.names.dns) append(&summary_, ", DNS:", d);
  for (const auto& ip : options_.names.ips) append(&summary_, ", IP:", ip);
  append(&summary_, "; ", duration_cast<seconds>(issued->not_after - now).count(), "s left)");
  REMORA_LOG(Info, "tls: serving certificate %s", summary_);
  return absl::OkStatus();
}

std::shared_ptr<grpc::ServerCredentials> ServingTls::credentials() const {
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      key_path_, cert_path_, kRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions o(provider);
  o.watch_identity_key_cert_pairs();
  o.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  return grpc::experimental::TlsServerCredentials(o);
}

void ServingTls::start(uv_loop_t* loop) {
  if (dir_.empty() || timer_ != nullptr) return;  // an operator's files: gRPC watches them
  timer_ = new uv_timer_t;
  uv_timer_init(loop, timer_);
  timer_->data = this;
  uv_timer_start(
      timer_, [](uv_timer_t* h) { static_cast<ServingTls*>(h->data)->tick(); }, kTickMs, kTickMs);
}

void ServingTls::tick() {
  auto now = std::chrono::system_clock::now();
  auto ca = ca_();
  // A new signing root (a rotation's activation): re-issue at once, so the certificate is never
  // signed by a root on its way out of the bundle.
  bool new_signer = certs::certPem(ca->signer()) != signer_pem_;
  if (!new_signer && now < renew_at_) return;
  if (new_signer) {
    REMORA_LOG(Info, "tls: '%s' signs now; re-issuing the serving certificate",
               certs::subjectString(ca->signer()));
  }
  if (auto s = issue(*ca, now); !s.ok()) {
    REMORA_LOG(Error, "tls: renewing the serving certificate failed: %s; retrying in %ds",
               s.message(), kRetry.count());
    renew_at_ = now + kRetry;
    if (new_signer) signer_pem_ = certs::certPem(ca->signer());  // retried by renew_at_
  }
}

void ServingTls::close() {
  if (timer_ == nullptr) return;
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  timer_ = nullptr;
}

}  // namespace remora::xds
