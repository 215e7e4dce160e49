// TLS for remora's gRPC clients (the CA's CreateCertificate and the ADS stream): channel
// credentials that verify the server against given roots and its name, optionally with a
// client certificate, and errors that name the file at fault and the likely cause when a
// connection fails (a TLS server met in plaintext, a certificate that does not verify).
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"

namespace remora::certs {

struct ChannelTls {
  // The roots the server's certificate must chain to: a PEM file (re-read every few seconds,
  // so a rotated trust bundle is picked up without a restart) or the PEM itself.
  std::string root_certs_file;
  std::string root_certs_pem;
  // A client certificate (mTLS), optional: files (re-read like the roots) or PEM.
  std::string cert_chain_file;
  std::string private_key_file;
  std::string cert_chain_pem;
  std::string private_key_pem;
  // The name the server's certificate must carry, also sent as SNI; empty: the target's host.
  std::string server_name;

  // TLS is on when there are roots: remora never falls back to the system's roots.
  bool enabled() const { return !root_certs_file.empty() || !root_certs_pem.empty(); }
  bool hasClientCertificate() const { return !cert_chain_file.empty() || !cert_chain_pem.empty(); }
  // "plaintext", or "TLS (roots from '<file>', server name 'x', client certificate ...)" for
  // logs and errors.
  std::string describe() const;
  bool operator==(const ChannelTls&) const = default;
};

// Reads and checks what `tls` names: readable files, PEM roots, a key that matches its
// certificate. InvalidArgument naming the file (or "inline") at fault.
absl::Status checkChannelTls(const ChannelTls& tls);

// Plaintext credentials when `tls` is not enabled; otherwise checkChannelTls() and TLS
// credentials that verify the server's chain and name (the server-name override goes into
// `args`).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> channelCredentials(
    const ChannelTls& tls, grpc::ChannelArguments* args);

// What to append to the message of a failed call (UNAVAILABLE or DEADLINE_EXCEEDED): the
// connection's security and the usual causes of failure with it. `flag` names the setting that
// turns TLS on, for the plaintext case ("--ca-root-cert").
std::string connectHint(const ChannelTls& tls, std::string_view flag);

}  // namespace remora::certs
