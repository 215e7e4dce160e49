// A client of Istio's certificate service (istio.v1.auth.IstioCertificateService), as remora
// and remora-control speak it: one blocking CreateCertificate call at a time, cancellable from
// another thread. Never call it on an event loop's thread (IdentityProvider runs it on its own).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "certs/grpc_tls.h"
#include "certs/proto/ca.grpc.pb.h"

namespace remora::certs {

class CsrClient {
 public:
  // `address` is a gRPC target ("127.0.0.1:15012", "dns:///istiod:15012"); plaintext unless
  // `tls` has roots. Credentials that cannot be made (an unreadable root file) fail every call
  // with the reason; check them first with checkChannelTls() to fail at start-up.
  explicit CsrClient(const std::string& address, ChannelTls tls = {});
  ~CsrClient();

  // Sends the CSR with "authorization: Bearer <token>" and returns the response's cert_chain.
  // `validity` 0 leaves the lifetime to the CA. A gRPC error becomes the absl status of the same
  // code, with the server's message.
  absl::StatusOr<std::vector<std::string>> createCertificate(const std::string& csr_pem,
                                                             const std::string& token,
                                                             std::chrono::seconds validity,
                                                             std::chrono::milliseconds timeout);

  // Cancels the call in flight, if any, and makes later calls fail at once (Cancelled).
  void cancel();

 private:
  grpc::Status call(const istio::v1::auth::IstioCertificateRequest& req,
                    istio::v1::auth::IstioCertificateResponse* resp, const std::string& token,
                    std::chrono::milliseconds timeout, bool wait_for_ready);

  ChannelTls tls_;
  absl::Status setup_;  // why there is no channel
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<istio::v1::auth::IstioCertificateService::Stub> stub_;
  std::mutex mu_;
  grpc::ClientContext* in_flight_ = nullptr;  // guarded by mu_
  bool cancelled_ = false;                    // guarded by mu_
};

}  // namespace remora::certs
