// tls_inspector: reads a TLS ClientHello from a connection's first bytes, without consuming
// them, for the server name (SNI) and the offered application protocols (ALPN) that filter
// chain matching uses.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace remora::server {

enum class ClientHelloResult {
  NeedMore,     // a TLS record has started; more bytes are needed
  NotTls,       // not a TLS handshake: the connection is "raw_buffer"
  ClientHello,  // parsed
  Invalid,      // a TLS handshake, but malformed or larger than the limit: close
};

struct ClientHelloInfo {
  std::string server_name;
  std::vector<std::string> alpn;
};

// Envoy's default bound on a ClientHello (max_client_hello_size).
constexpr size_t kMaxClientHelloSize = 64 * 1024;

// Looks at the first bytes of a connection. The ClientHello may span several records.
ClientHelloResult parseClientHello(std::string_view data, ClientHelloInfo* out);

// The same, fed as bytes arrive: `data` is every byte seen so far (each call's a prefix of the
// next). Complete records are consumed once, so a hello dripped in one-byte records costs
// linear time, not quadratic.
class ClientHelloParser {
 public:
  ClientHelloResult parse(std::string_view data, ClientHelloInfo* out);

 private:
  size_t pos_ = 0;         // bytes of `data` consumed (whole records)
  std::string handshake_;  // the handshake message gathered from them
};

}  // namespace remora::server
