// gRPC channel credentials (see grpc_tls.h).
#include "certs/grpc_tls.h"

#include <openssl/err.h>

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "certs/x509.h"
#include "proxy/common/strings.h"

namespace remora::certs {
namespace {

// How often gRPC re-reads root and certificate files.
constexpr unsigned kRefreshSeconds = 5;

// The PEM of a file or inline value, checked as certificates; `what` names it in errors.
absl::StatusOr<std::string> loadCerts(const std::string& file, const std::string& pem,
                                      std::string_view what) {
  std::string text = pem;
  std::string source = cat("the inline ", what);
  if (!file.empty()) {
    auto read = readFile(file);
    if (!read.ok()) return absl::InvalidArgumentError(cat(what, ": ", read.status().message()));
    text = std::move(*read);
    source = cat(what, " '", file, "'");
  }
  auto certs = parseCertsPem(text);
  if (!certs.ok()) return absl::InvalidArgumentError(cat(source, ": ", certs.status().message()));
  return text;
}

struct Loaded {
  std::string roots;
  std::string chain;
  std::string key;
};

absl::StatusOr<Loaded> load(const ChannelTls& tls) {
  Loaded out;
  if (!tls.enabled()) {
    return absl::InvalidArgumentError("TLS needs root certificates to verify the server with");
  }
  if (!tls.root_certs_file.empty() && !tls.root_certs_pem.empty()) {
    return absl::InvalidArgumentError("root certificates: a file or inline PEM, not both");
  }
  auto roots = loadCerts(tls.root_certs_file, tls.root_certs_pem, "root certificates");
  if (!roots.ok()) return roots.status();
  out.roots = std::move(*roots);
  bool has_key = !tls.private_key_file.empty() || !tls.private_key_pem.empty();
  if (tls.hasClientCertificate() != has_key) {
    return absl::InvalidArgumentError(
        "a client certificate needs its private key, and a private key its certificate");
  }
  if (!has_key) return out;
  auto chain = loadCerts(tls.cert_chain_file, tls.cert_chain_pem, "client certificate");
  if (!chain.ok()) return chain.status();
  out.chain = std::move(*chain);
  std::string key_source = "the inline private key";
  out.key = tls.private_key_pem;
  if (!tls.private_key_file.empty()) {
    auto read = readFile(tls.private_key_file);
    if (!read.ok())
      return absl::InvalidArgumentError(cat("private key: ", read.status().message()));
    out.key = std::move(*read);
    key_source = cat("private key '", tls.private_key_file, "'");
  }
  auto key = parsePrivateKeyPem(out.key);
  if (!key.ok()) return absl::InvalidArgumentError(cat(key_source, ": ", key.status().message()));
  auto leaf = parseCertsPem(out.chain);
  if (X509_check_private_key(leaf->front().get(), key->get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(cat(key_source, " does not match the client certificate"));
  }
  return out;
}

}  // namespace

std::string ChannelTls::describe() const {
  if (!enabled()) return "plaintext";
  std::string out = root_certs_file.empty() ? "TLS (inline roots"
                                            : cat("TLS (roots from '", root_certs_file, "'");
  if (!server_name.empty()) append(&out, ", server name '", server_name, "'");
  if (hasClientCertificate()) {
    append(&out, ", client certificate",
           cert_chain_file.empty() ? std::string() : cat(" '", cert_chain_file, "'"));
  }
  return out + ")";
}

absl::Status checkChannelTls(const ChannelTls& tls) { return load(tls).status(); }

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> channelCredentials(
    const ChannelTls& tls, grpc::ChannelArguments* args) {
  if (!tls.enabled()) return grpc::InsecureChannelCredentials();
  auto loaded = load(tls);
  if (!loaded.ok()) return loaded.status();
  // Files are watched (a rotated bundle or certificate serves the next connection); inline PEM,
  // or a mix of files and PEM, is fixed.
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider;
  bool files = !tls.root_certs_file.empty() &&
               (!tls.hasClientCertificate() ||
                (!tls.cert_chain_file.empty() && !tls.private_key_file.empty()));
  if (files) {
    provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        tls.private_key_file, tls.cert_chain_file, tls.root_certs_file, kRefreshSeconds);
  } else if (tls.hasClientCertificate()) {
    provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
        loaded->roots,
        std::vector<grpc::experimental::IdentityKeyCertPair>{{loaded->key, loaded->chain}});
  } else {
    provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(loaded->roots);
  }
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  if (tls.hasClientCertificate()) options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  // The server's certificate must name the target (or the override): explicit, not left to
  // the version's default.
  options.set_certificate_verifier(
      std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  if (!tls.server_name.empty()) args->SetSslTargetNameOverride(tls.server_name);
  auto creds = grpc::experimental::TlsCredentials(options);
  if (creds == nullptr) {
    return absl::InternalError(cat("gRPC refused the TLS settings: ", tls.describe()));
  }
  return creds;
}

std::string connectHint(const ChannelTls& tls, std::string_view flag) {
  if (!tls.enabled()) {
    return cat(" [plaintext: if the server speaks TLS, give its root certificate (", flag, ")]");
  }
  return cat(
      " [", tls.describe(),
      ": the server must speak TLS with a certificate that chains to these roots and names ",
      tls.server_name.empty() ? std::string("the target's host") : cat("'", tls.server_name, "'"),
      "]");
}

}  // namespace remora::certs
