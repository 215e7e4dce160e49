// CreateCertificate calls (see csr_client.h).
#include "certs/csr_client.h"

#include <algorithm>

#include "absl/status/status.h"
#include "proxy/common/strings.h"

namespace remora::certs {
namespace {

constexpr std::chrono::milliseconds kDiagnosticTimeout{2000};

}  // namespace

CsrClient::CsrClient(const std::string& address, ChannelTls tls) : tls_(std::move(tls)) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 4 << 20);
  // Reconnect promptly when the control plane comes back: a proxy without a certificate
  // cannot serve mTLS.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  auto creds = channelCredentials(tls_, &args);
  if (!creds.ok()) {
    setup_ = absl::FailedPreconditionError(
        cat("TLS to the CA at ", address, ": ", creds.status().message()));
    return;
  }
  channel_ = grpc::CreateCustomChannel(address, *creds, args);
  stub_ = istio::v1::auth::IstioCertificateService::NewStub(channel_);
}

CsrClient::~CsrClient() = default;

absl::StatusOr<std::vector<std::string>> CsrClient::createCertificate(
    const std::string& csr_pem, const std::string& token, std::chrono::seconds validity,
    std::chrono::milliseconds timeout) {
  if (!setup_.ok()) return setup_;
  // gRPC aborts the process on metadata it considers illegal: check the token first.
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return absl::UnauthenticatedError(
          "the token has characters that cannot be sent in a header (not a JWT?)");
    }
  }
  istio::v1::auth::IstioCertificateRequest req;
  req.set_csr(csr_pem);
  req.set_validity_duration(validity.count());
  istio::v1::auth::IstioCertificateResponse resp;
  // Wait for a connection within the deadline rather than failing at once while the channel
  // reconnects.
  grpc::Status status = call(req, &resp, token, timeout, true);
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
      channel_->GetState(false) != GRPC_CHANNEL_READY) {
    // Waiting hides why the channel cannot connect ("Deadline Exceeded"); a call that fails
    // fast says it (refused, TLS handshake failed: certificate verify failed, ...).
    status = call(req, &resp, token, std::min(timeout, kDiagnosticTimeout), false);
  }
  if (!status.ok()) {
    bool no_connection = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        cat("CreateCertificate: ", status.error_message(),
                            no_connection ? connectHint(tls_, "--ca-root-cert") : ""));
  }
  if (resp.cert_chain_size() == 0) {
    return absl::InternalError("CreateCertificate: the response has no certificates");
  }
  return std::vector<std::string>(resp.cert_chain().begin(), resp.cert_chain().end());
}

grpc::Status CsrClient::call(const istio::v1::auth::IstioCertificateRequest& req,
                             istio::v1::auth::IstioCertificateResponse* resp,
                             const std::string& token, std::chrono::milliseconds timeout,
                             bool wait_for_ready) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  ctx.set_wait_for_ready(wait_for_ready);
  ctx.AddMetadata("authorization", cat("Bearer ", token));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_) return grpc::Status(grpc::StatusCode::CANCELLED, "the CSR client is stopping");
    in_flight_ = &ctx;
  }
  grpc::Status status = stub_->CreateCertificate(&ctx, req, resp);
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_ = nullptr;
  return status;
}

void CsrClient::cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  if (in_flight_ != nullptr) in_flight_->TryCancel();
}

}  // namespace remora::certs
