// remora-control's certificate service: Istio's istio.v1.auth.IstioCertificateService/
// CreateCertificate. The bearer token in the "authorization" metadata proves a namespace and
// service account; that identity alone decides the certificate's SPIFFE ID. A missing or bad
// token is UNAUTHENTICATED, a CSR asking for another identity PERMISSION_DENIED, a malformed
// CSR INVALID_ARGUMENT. Runs on gRPC's synchronous-server threads (signing takes about a
// millisecond; there is no stream to keep).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "certs/ca.h"
#include "certs/proto/ca.grpc.pb.h"
#include "certs/token.h"

namespace remora::xds {

struct CaServiceStats {
  std::atomic<uint64_t> csr_requests{0};
  std::atomic<uint64_t> issued{0};
  std::atomic<uint64_t> denied_unauthenticated{0};  // no, malformed or unverifiable token
  std::atomic<uint64_t> denied_identity{0};         // the CSR asks for another identity
  std::atomic<uint64_t> denied_invalid_csr{0};      // malformed CSR, bad signature, weak key
  std::atomic<uint64_t> errors{0};                  // the CA could not sign
};

class CaService final : public istio::v1::auth::IstioCertificateService::Service {
 public:
  // `ca` returns the CA in force (a CaDirectory reloads after a root rotation).
  using CaFn = std::function<std::shared_ptr<const certs::CertificateAuthority>()>;

  CaService(CaFn ca, certs::TokenVerifier verifier);

  grpc::Status CreateCertificate(grpc::ServerContext* context,
                                 const istio::v1::auth::IstioCertificateRequest* request,
                                 istio::v1::auth::IstioCertificateResponse* response) override;

  const CaServiceStats& stats() const { return stats_; }

 private:
  CaFn ca_;
  certs::TokenVerifier verifier_;
  CaServiceStats stats_;
};

}  // namespace remora::xds
