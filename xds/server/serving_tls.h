// remora-control's TLS on its gRPC port (CreateCertificate and ADS share it): an operator's
// certificate and key files, or a certificate remora-control's own CA issues to itself (its
// SPIFFE ID, DNS names and IP addresses as SANs). A self-issued certificate is renewed at half
// its life and re-issued as soon as a new root signs (a root rotation's activation), so that
// it never outlives the root proxies trust. gRPC re-reads the files every second, so a renewed
// certificate, or an operator's replaced files, serve new connections without a restart;
// connections already open keep theirs. Clients are not asked for a certificate: the CA's
// callers prove themselves with a bearer token.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "certs/ca.h"

namespace remora::xds {

struct ServingTlsOptions {
  // An operator's certificate (leaf first, then intermediates) and its key; both or neither.
  std::string cert_file;
  std::string key_file;
  // Self-issued (no files): the names and identity it carries, and its lifetime (0: the CA's
  // default).
  certs::ServerNames names;
  certs::SpiffeId identity;
  std::chrono::seconds ttl{0};
};

class ServingTls {
 public:
  using CaFn = std::function<std::shared_ptr<const certs::CertificateAuthority>()>;

  // Checks an operator's files (readable, PEM, the key matches the certificate), or issues the
  // first certificate into a private directory (`ca` is required then).
  static absl::StatusOr<std::unique_ptr<ServingTls>> create(ServingTlsOptions options, CaFn ca);
  ~ServingTls();  // removes the private directory; close() first once start() was called

  std::shared_ptr<grpc::ServerCredentials> credentials() const;
  // Self-issued: checks every second, on `loop`, whether to renew. Nothing for an operator's
  // files.
  void start(uv_loop_t* loop);
  void close();
  // For the start-up log line: where the certificate comes from, its names and notAfter.
  const std::string& describe() const { return summary_; }
  // The PEM file of the certificate in force (self-issued: certificate chain, then the key).
  const std::string& certFile() const { return cert_path_; }

 private:
  ServingTls() = default;
  absl::Status issue(const certs::CertificateAuthority& ca, certs::SystemTime now);
  void tick();

  ServingTlsOptions options_;
  CaFn ca_;
  std::string dir_;        // self-issued: the private directory
  std::string key_path_;   // what gRPC watches
  std::string cert_path_;  // (one file when self-issued)
  std::string summary_;
  std::string signer_pem_;  // self-issued: the CA certificate that signed it
  certs::SystemTime renew_at_;
  uv_timer_t* timer_ = nullptr;
};

}  // namespace remora::xds
