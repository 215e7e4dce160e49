// CreateCertificate (see ca_service.h).
#include "xds/server/ca_service.h"

#include "absl/strings/match.h"
#include "proxy/common/log.h"
#include "proxy/common/strings.h"

namespace remora::xds {
namespace {

constexpr std::string_view kBearer = "Bearer ";

grpc::Status toGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace

CaService::CaService(CaFn ca, certs::TokenVerifier verifier)
    : ca_(std::move(ca)), verifier_(std::move(verifier)) {}

grpc::Status CaService::CreateCertificate(grpc::ServerContext* context,
                                          const istio::v1::auth::IstioCertificateRequest* request,
                                          istio::v1::auth::IstioCertificateResponse* response) {
  stats_.csr_requests++;
  std::string peer = context->peer();
  auto deny = [&](const absl::Status& s) {
    REMORA_LOG(Warn, "ca: CreateCertificate from %s refused: %s", peer, s.ToString());
    return toGrpc(s);
  };

  const auto& md = context->client_metadata();
  auto it = md.find("authorization");
  std::string_view auth =
      it == md.end() ? std::string_view() : std::string_view(it->second.data(), it->second.size());
  // The scheme is case-insensitive (RFC 7235).
  if (auth.size() <= kBearer.size() ||
      !absl::EqualsIgnoreCase(absl::string_view(auth.data(), kBearer.size()),
                              absl::string_view(kBearer.data(), kBearer.size()))) {
    stats_.denied_unauthenticated++;
    return deny(absl::UnauthenticatedError(
        it == md.end() ? "no authorization metadata (want \"Bearer <token>\")"
                       : "authorization metadata is not \"Bearer <token>\""));
  }
  auto identity = verifier_.verify(auth.substr(kBearer.size()), std::chrono::system_clock::now());
  if (!identity.ok()) {
    stats_.denied_unauthenticated++;
    return deny(identity.status());
  }

  std::shared_ptr<const certs::CertificateAuthority> ca = ca_();
  certs::SpiffeId id{ca->options().trust_domain, identity->ns, identity->service_account};
  auto issued = ca->sign(request->csr(), id, std::chrono::seconds(request->validity_duration()),
                         std::chrono::system_clock::now());
  if (!issued.ok()) {
    switch (issued.status().code()) {
      case absl::StatusCode::kPermissionDenied:
        stats_.denied_identity++;
        break;
      case absl::StatusCode::kInvalidArgument:
        stats_.denied_invalid_csr++;
        break;
      default:
        stats_.errors++;
        break;
    }
    return deny(issued.status());
  }
  for (auto& pem : issued->cert_chain) response->add_cert_chain(std::move(pem));
  stats_.issued++;
  REMORA_LOG(
      Info, "ca: issued %s serial %s to %s (token issuer '%s'), %ds", id.uri(), issued->serial_hex,
      peer, identity->issuer,
      std::chrono::duration_cast<std::chrono::seconds>(issued->not_after - issued->not_before)
          .count());
  return grpc::Status::OK;
}

}  // namespace remora::xds
