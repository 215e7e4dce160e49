// What a TLS handshake established about a connection: the names asked for and agreed on, and
// the peer's verified certificate identity. Immutable once the handshake is done; shared by the
// connection's sessions, streams, filters (RBAC principals) and access logs.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace remora::net {

struct TlsInfo {
  std::string sni;      // the server name the client asked for (empty: none)
  std::string alpn;     // the negotiated application protocol (empty: none)
  std::string version;  // "TLSv1.3", "TLSv1.2"
  std::string cipher;   // OpenSSL's name of the negotiated cipher suite
  bool session_reused = false;
  // The peer presented a certificate and it verified against the trust bundle (and the SAN
  // matchers, when configured). Unverified certificates never get this far: the handshake
  // fails instead.
  bool peer_certificate_validated = false;
  std::vector<std::string> peer_uri_sans;  // e.g. spiffe://cluster.local/ns/default/sa/web
  std::vector<std::string> peer_dns_sans;
  std::string peer_subject;  // RFC 2253 form
  std::vector<std::string> local_uri_sans;
  std::string local_subject;
};
using TlsInfoSharedPtr = std::shared_ptr<const TlsInfo>;

}  // namespace remora::net
