// ClientHello parsing (RFC 8446 section 4.1.2; server_name RFC 6066 section 3; ALPN RFC 7301).
#include "proxy/server/tls_inspector.h"

#include <cstdint>
#include <utility>

namespace remora::server {
namespace {

constexpr uint8_t kHandshakeRecord = 22;
constexpr uint8_t kClientHello = 1;
constexpr uint16_t kServerNameExtension = 0;
constexpr uint16_t kAlpnExtension = 16;
constexpr size_t kRecordHeader = 5;
constexpr size_t kMaxRecord = 16384 + 2048;

// A bounds-checked reader: every read fails once the input is short.
class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  bool u8(uint8_t* v) {
    if (d_.size() < 1) return false;
    *v = static_cast<uint8_t>(d_[0]);
    d_.remove_prefix(1);
    return true;
  }
  bool u16(uint16_t* v) {
    if (d_.size() < 2) return false;
    *v = static_cast<uint16_t>((static_cast<uint8_t>(d_[0]) << 8) | static_cast<uint8_t>(d_[1]));
    d_.remove_prefix(2);
    return true;
  }
  bool u24(uint32_t* v) {
    if (d_.size() < 3) return false;
    *v = (static_cast<uint32_t>(static_cast<uint8_t>(d_[0])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(d_[1])) << 8) | static_cast<uint8_t>(d_[2]);
    d_.remove_prefix(3);
    return true;
  }
  bool bytes(size_t n, std::string_view* out) {
    if (d_.size() < n) return false;
    *out = d_.substr(0, n);
    d_.remove_prefix(n);
    return true;
  }
  bool skip(size_t n) {
    std::string_view ignored;
    return bytes(n, &ignored);
  }
  // A vector with a 1- or 2-byte length prefix.
  bool vec8(std::string_view* out) {
    uint8_t n;
    return u8(&n) && bytes(n, out);
  }
  bool vec16(std::string_view* out) {
    uint16_t n;
    return u16(&n) && bytes(n, out);
  }
  bool empty() const { return d_.empty(); }

 private:
  std::string_view d_;
};

bool parseServerName(std::string_view ext, std::string* out) {
  Reader r(ext);
  std::string_view list;
  if (!r.vec16(&list) || !r.empty()) return false;
  Reader l(list);
  while (!l.empty()) {
    uint8_t type;
    std::string_view name;
    if (!l.u8(&type) || !l.vec16(&name)) return false;
    if (type != 0) continue;
    // host_name: one, not empty, no NUL (OpenSSL and BoringSSL refuse the hello otherwise;
    // "evil\0.example" must not reach a server_names suffix match).
    if (!out->empty() || name.empty() || name.find('\0') != std::string_view::npos) return false;
    out->assign(name);
  }
  return true;
}

bool parseAlpn(std::string_view ext, std::vector<std::string>* out) {
  Reader r(ext);
  std::string_view list;
  if (!r.vec16(&list) || !r.empty()) return false;
  Reader l(list);
  while (!l.empty()) {
    std::string_view proto;
    if (!l.vec8(&proto) || proto.empty()) return false;
    out->emplace_back(proto);
  }
  return true;
}

bool parseBody(std::string_view body, ClientHelloInfo* out) {
  Reader r(body);
  std::string_view ignored;
  if (!r.skip(2 + 32)) return false;     // legacy_version, random
  if (!r.vec8(&ignored)) return false;   // legacy_session_id
  if (!r.vec16(&ignored)) return false;  // cipher_suites
  if (!r.vec8(&ignored)) return false;   // legacy_compression_methods
  if (r.empty()) return true;            // no extensions (TLS 1.2 and older may omit them)
  std::string_view exts;
  if (!r.vec16(&exts) || !r.empty()) return false;
  Reader e(exts);
  bool sni = false, alpn = false;
  while (!e.empty()) {
    uint16_t type;
    std::string_view data;
    if (!e.u16(&type) || !e.vec16(&data)) return false;
    // An extension type appears at most once (RFC 8446 section 4.2): a second ALPN list must
    // not lengthen the first.
    if (type == kServerNameExtension &&
        (std::exchange(sni, true) || !parseServerName(data, &out->server_name))) {
      return false;
    }
    if (type == kAlpnExtension && (std::exchange(alpn, true) || !parseAlpn(data, &out->alpn))) {
      return false;
    }
  }
  return true;
}

}  // namespace

ClientHelloResult parseClientHello(std::string_view data, ClientHelloInfo* out) {
  ClientHelloParser parser;
  return parser.parse(data, out);
}

ClientHelloResult ClientHelloParser::parse(std::string_view data, ClientHelloInfo* out) {
  if (data.empty()) return ClientHelloResult::NeedMore;
  if (static_cast<uint8_t>(data[0]) != kHandshakeRecord) return ClientHelloResult::NotTls;
  if (data.size() >= 2 && static_cast<uint8_t>(data[1]) != 3) return ClientHelloResult::NotTls;
  // Gather the handshake message from as many records as it spans.
  for (;;) {
    size_t pos = pos_;
    if (data.size() - pos < kRecordHeader) return ClientHelloResult::NeedMore;
    auto b = [&](size_t i) { return static_cast<uint8_t>(data[pos + i]); };
    if (b(0) != kHandshakeRecord || b(1) != 3) {
      return pos == 0 ? ClientHelloResult::NotTls : ClientHelloResult::Invalid;
    }
    size_t len = (static_cast<size_t>(b(3)) << 8) | b(4);
    if (len == 0 || len > kMaxRecord) return ClientHelloResult::Invalid;
    if (data.size() - pos - kRecordHeader < len) {
      if (pos + kRecordHeader + len > kMaxClientHelloSize) return ClientHelloResult::Invalid;
      return ClientHelloResult::NeedMore;
    }
    handshake_.append(data.substr(pos + kRecordHeader, len));
    pos_ = pos + kRecordHeader + len;
    // The limit is on the bytes read, record headers included (Envoy's max_client_hello_size):
    // a hello whose records end past it is refused however its bytes arrive.
    if (pos_ > kMaxClientHelloSize) return ClientHelloResult::Invalid;
    if (handshake_.size() >= 4) {
      if (static_cast<uint8_t>(handshake_[0]) != kClientHello) return ClientHelloResult::Invalid;
      size_t msg_len = (static_cast<size_t>(static_cast<uint8_t>(handshake_[1])) << 16) |
                       (static_cast<size_t>(static_cast<uint8_t>(handshake_[2])) << 8) |
                       static_cast<uint8_t>(handshake_[3]);
      if (msg_len + 4 > kMaxClientHelloSize) return ClientHelloResult::Invalid;
      if (handshake_.size() >= msg_len + 4) {
        ClientHelloInfo info;
        if (!parseBody(std::string_view(handshake_).substr(4, msg_len), &info)) {
          return ClientHelloResult::Invalid;
        }
        *out = std::move(info);
        return ClientHelloResult::ClientHello;
      }
    }
  }
}

}  // namespace remora::server
