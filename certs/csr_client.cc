// CreateCertificate calls (see csr_client.h).
#include "certs/csr_client.h"

#include "absl/status/status.h"
#include "proxy/common/strings.h"

namespace remora::certs {

CsrClient::CsrClient(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 4 << 20);
  // Reconnect promptly when the control plane comes back: a proxy without a certificate
  // cannot serve mTLS.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  channel_ = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  stub_ = istio::v1::auth::IstioCertificateService::NewStub(channel_);
}

CsrClient::~CsrClient() = default;

absl::StatusOr<std::vector<std::string>> CsrClient::createCertificate(
    const std::string& csr_pem, const std::string& token, std::chrono::seconds validity,
    std::chrono::milliseconds timeout) {
  // gRPC aborts the process on metadata it considers illegal: check the token first.
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return absl::UnauthenticatedError(
          "the token has characters that cannot be sent in a header (not a JWT?)");
    }
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  // Wait for a connection within the deadline rather than failing at once while the channel
  // reconnects.
  ctx.set_wait_for_ready(true);
  ctx.AddMetadata("authorization", cat("Bearer ", token));
  istio::v1::auth::IstioCertificateRequest req;
  req.set_csr(csr_pem);
  req.set_validity_duration(validity.count());
  istio::v1::auth::IstioCertificateResponse resp;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_) return absl::CancelledError("the CSR client is stopping");
    in_flight_ = &ctx;
  }
  grpc::Status status = stub_->CreateCertificate(&ctx, req, &resp);
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_ = nullptr;
  }
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        cat("CreateCertificate: ", status.error_message()));
  }
  if (resp.cert_chain_size() == 0) {
    return absl::InternalError("CreateCertificate: the response has no certificates");
  }
  return std::vector<std::string>(resp.cert_chain().begin(), resp.cert_chain().end());
}

void CsrClient::cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  if (in_flight_ != nullptr) in_flight_->TryCancel();
}

}  // namespace remora::certs
