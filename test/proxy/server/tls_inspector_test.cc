// ClientHello parsing for the tls_inspector: real first flights from OpenSSL clients (TLS 1.3
// and TLS 1.2 only, with and without SNI and ALPN), delivered in every possible piece and
// re-framed over several records; hand-built hellos for the shapes OpenSSL does not send; and
// what must never be taken for TLS.
#include "proxy/server/tls_inspector.h"

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

namespace remora::server {
namespace {

using R = ClientHelloResult;

// --- Building ClientHellos ---

struct HelloOptions {
  std::string sni;
  std::vector<std::string> alpn;
  int max_version = TLS1_3_VERSION;
};

// The first flight of an OpenSSL client (memory BIOs, no peer): its ClientHello records.
std::string opensslClientHello(const HelloOptions& o) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  REQUIRE(ctx != nullptr);
  REQUIRE(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1);
  REQUIRE(SSL_CTX_set_max_proto_version(ctx, o.max_version) == 1);
  SSL* ssl = SSL_new(ctx);
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rbio, wbio);
  if (!o.sni.empty()) REQUIRE(SSL_set_tlsext_host_name(ssl, o.sni.c_str()) == 1);
  if (!o.alpn.empty()) {
    std::string wire;
    for (const auto& a : o.alpn) wire += static_cast<char>(a.size()) + a;
    // 0 is success here (unlike the rest of OpenSSL's API).
    REQUIRE(SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()),
                                static_cast<unsigned>(wire.size())) == 0);
  }
  SSL_set_connect_state(ssl);
  int r = SSL_do_handshake(ssl);
  REQUIRE(SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ);
  char* data = nullptr;
  long n = BIO_get_mem_data(wbio, &data);
  std::string out(data, static_cast<size_t>(n));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return out;
}

std::string u8(size_t n) { return std::string(1, static_cast<char>(n & 0xff)); }
std::string u16(size_t n) { return u8(n >> 8) + u8(n); }
std::string u24(size_t n) { return u8(n >> 16) + u16(n & 0xffff); }
std::string vec8(const std::string& s) { return u8(s.size()) + s; }
std::string vec16(const std::string& s) { return u16(s.size()) + s; }

std::string extension(uint16_t type, const std::string& data) { return u16(type) + vec16(data); }
std::string sniExtension(const std::string& host) {
  return extension(0, vec16(u8(0) + vec16(host)));
}
std::string alpnExtension(const std::vector<std::string>& protos) {
  std::string list;
  for (const auto& p : protos) list += vec8(p);
  return extension(16, vec16(list));
}

// A ClientHello body (after the 4-byte handshake header). `extensions` is the whole
// extensions block including its length, or empty for a hello without one.
std::string helloBody(const std::string& extensions) {
  return "\x03\x03" + std::string(32, 'r') + vec8(std::string(32, 's')) +
         vec16(std::string("\x13\x01\xc0\x2f", 4)) + vec8(std::string(1, '\0')) + extensions;
}
std::string handshake(uint8_t type, const std::string& body) {
  return u8(type) + u24(body.size()) + body;
}
// A handshake message framed into records of at most `max_record` bytes each.
std::string records(const std::string& msg, size_t max_record = 16384) {
  std::string out;
  for (size_t pos = 0; pos < msg.size(); pos += max_record) {
    std::string part = msg.substr(pos, max_record);
    out += "\x16\x03\x01" + u16(part.size()) + part;
  }
  return out;
}
// Records of exactly the given fragment sizes (the last takes the rest).
std::string recordsOfSizes(const std::string& msg, const std::vector<size_t>& sizes) {
  std::string out;
  size_t pos = 0;
  for (size_t i = 0; i <= sizes.size() && pos < msg.size(); ++i) {
    size_t n = i < sizes.size() ? sizes[i] : msg.size() - pos;
    out += "\x16\x03\x01" + u16(n) + msg.substr(pos, n);
    pos += n;
  }
  return out;
}
// The handshake message of a first flight that is one record.
std::string messageOf(const std::string& flight) {
  REQUIRE(flight.size() > 5);
  size_t len =
      (static_cast<size_t>(static_cast<uint8_t>(flight[3])) << 8) | static_cast<uint8_t>(flight[4]);
  REQUIRE(flight.size() == 5 + len);  // OpenSSL sends its hello as one record
  return flight.substr(5);
}

R parse(const std::string& data, ClientHelloInfo* info = nullptr) {
  ClientHelloInfo ignored;
  return parseClientHello(data, info != nullptr ? info : &ignored);
}

// Every proper prefix of `data` needs more; all of it is a ClientHello with these fields.
void checkParsesOnlyWhenComplete(const std::string& data, const std::string& sni,
                                 const std::vector<std::string>& alpn) {
  for (size_t k = 0; k < data.size(); ++k) {
    INFO("prefix of " << k << " of " << data.size() << " bytes");
    REQUIRE(parse(data.substr(0, k)) == R::NeedMore);
  }
  ClientHelloInfo info;
  REQUIRE(parse(data, &info) == R::ClientHello);
  CHECK(info.server_name == sni);
  CHECK(info.alpn == alpn);
  // The listener's parser, fed as the bytes arrive one by one, agrees at every step.
  ClientHelloParser incremental;
  for (size_t k = 1; k < data.size(); ++k) {
    INFO("incremental, " << k << " of " << data.size() << " bytes");
    REQUIRE(incremental.parse(std::string_view(data).substr(0, k), &info) == R::NeedMore);
  }
  ClientHelloInfo inc;
  REQUIRE(incremental.parse(data, &inc) == R::ClientHello);
  CHECK(inc.server_name == sni);
  CHECK(inc.alpn == alpn);
}

// --- Real ClientHellos ---

TEST_CASE("tls_inspector: OpenSSL's TLS 1.3 ClientHello gives its SNI and ALPN",
          "[tls_inspector]") {
  std::string hello = opensslClientHello({"api.example.com", {"h2", "http/1.1"}});
  ClientHelloInfo info;
  REQUIRE(parse(hello, &info) == R::ClientHello);
  CHECK(info.server_name == "api.example.com");
  CHECK(info.alpn == std::vector<std::string>{"h2", "http/1.1"});
  // The parser only looks: what the client sends after its hello changes nothing.
  ClientHelloInfo more;
  REQUIRE(parse(hello + std::string("\x14\x03\x03\x00\x01\x01", 6), &more) == R::ClientHello);
  CHECK(more.server_name == "api.example.com");
}

TEST_CASE("tls_inspector: a TLS 1.2-only ClientHello gives its SNI and ALPN", "[tls_inspector]") {
  std::string hello = opensslClientHello(
      {"reviews.default.svc.cluster.local", {"istio-peer-exchange", "istio"}, TLS1_2_VERSION});
  ClientHelloInfo info;
  REQUIRE(parse(hello, &info) == R::ClientHello);
  CHECK(info.server_name == "reviews.default.svc.cluster.local");
  CHECK(info.alpn == std::vector<std::string>{"istio-peer-exchange", "istio"});
}

TEST_CASE("tls_inspector: without SNI or ALPN the fields stay empty", "[tls_inspector]") {
  ClientHelloInfo info;
  REQUIRE(parse(opensslClientHello({"", {"h2"}}), &info) == R::ClientHello);
  CHECK(info.server_name.empty());
  CHECK(info.alpn == std::vector<std::string>{"h2"});
  REQUIRE(parse(opensslClientHello({"only.sni.example", {}}), &info) == R::ClientHello);
  CHECK(info.server_name == "only.sni.example");
  CHECK(info.alpn.empty());
  REQUIRE(parse(opensslClientHello({"", {}, TLS1_2_VERSION}), &info) == R::ClientHello);
  CHECK(info.server_name.empty());
  CHECK(info.alpn.empty());
}

TEST_CASE("tls_inspector: a real hello cut at every byte offset needs more until it is whole",
          "[tls_inspector]") {
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    INFO("max version " << std::hex << version);
    std::string hello = opensslClientHello({"split.example", {"h2", "http/1.1"}, version});
    checkParsesOnlyWhenComplete(hello, "split.example", {"h2", "http/1.1"});
  }
}

TEST_CASE("tls_inspector: a hello spanning two records, split at every point of the message",
          "[tls_inspector]") {
  std::string msg = messageOf(opensslClientHello({"two.records.example", {"h2"}}));
  // Including splits inside the 4-byte handshake header and right after it.
  for (size_t split = 1; split < msg.size(); ++split) {
    INFO("first record carries " << split << " of " << msg.size() << " bytes");
    std::string data = recordsOfSizes(msg, {split});
    ClientHelloInfo info;
    REQUIRE(parse(data, &info) == R::ClientHello);
    CHECK(info.server_name == "two.records.example");
    CHECK(info.alpn == std::vector<std::string>{"h2"});
    // Everything short of the second record's last byte needs more.
    CHECK(parse(data.substr(0, data.size() - 1)) == R::NeedMore);
    CHECK(parse(data.substr(0, 5 + split)) == R::NeedMore);
    CHECK(parse(data.substr(0, 5 + split + 5)) == R::NeedMore);
  }
  // Every prefix of one two-record hello, and of a hello in one-byte records.
  checkParsesOnlyWhenComplete(recordsOfSizes(msg, {msg.size() / 2}), "two.records.example", {"h2"});
  checkParsesOnlyWhenComplete(records(msg, 1), "two.records.example", {"h2"});
}

TEST_CASE("tls_inspector: a hello whose last record also carries more bytes", "[tls_inspector]") {
  // The message ends inside a record that holds bytes after it (a coalescing client): the
  // hello is parsed; the rest is the TLS stack's business.
  std::string msg = handshake(1, helloBody(vec16(sniExtension("a.example"))));
  std::string data = "\x16\x03\x01" + u16(msg.size() + 3) + msg + "xyz";
  ClientHelloInfo info;
  REQUIRE(parse(data, &info) == R::ClientHello);
  CHECK(info.server_name == "a.example");
}

// --- Hand-built hellos ---

TEST_CASE("tls_inspector: a hello without an extensions block (TLS 1.2 and older)",
          "[tls_inspector]") {
  std::string data = records(handshake(1, helloBody("")));
  checkParsesOnlyWhenComplete(data, "", {});
  // An empty extensions block is a hello too.
  checkParsesOnlyWhenComplete(records(handshake(1, helloBody(vec16("")))), "", {});
}

TEST_CASE("tls_inspector: unknown extensions are skipped, SNI and ALPN found anywhere",
          "[tls_inspector]") {
  std::string exts = extension(0xff01, std::string(1, '\0')) + extension(23, "") +
                     alpnExtension({"http/1.1"}) + extension(0xfe0d, std::string(200, 'e')) +
                     sniExtension("x.example") + extension(21, std::string(50, '\0'));
  ClientHelloInfo info;
  REQUIRE(parse(records(handshake(1, helloBody(vec16(exts)))), &info) == R::ClientHello);
  CHECK(info.server_name == "x.example");
  CHECK(info.alpn == std::vector<std::string>{"http/1.1"});
}

TEST_CASE("tls_inspector: malformed lengths are Invalid", "[tls_inspector]") {
  auto hello = [](const std::string& exts) {
    return records(handshake(1, helloBody(vec16(exts))));
  };
  std::string good_exts = sniExtension("a.example") + alpnExtension({"h2"});
  REQUIRE(parse(hello(good_exts)) == R::ClientHello);

  SECTION("record layer") {
    // An empty handshake record, and one longer than TLS allows.
    CHECK(parse(std::string("\x16\x03\x01\x00\x00", 5)) == R::Invalid);
    CHECK(parse(std::string("\x16\x03\x01\x48\x01", 5)) == R::Invalid);  // 18433
    // A second record of another content type before the hello is complete.
    std::string msg = handshake(1, helloBody(vec16(good_exts)));
    std::string first = "\x16\x03\x01" + u16(10) + msg.substr(0, 10);
    CHECK(parse(first + "\x17\x03\x03" + u16(msg.size() - 10) + msg.substr(10)) == R::Invalid);
    CHECK(parse(first + "\x15\x03\x03" + u16(2) + "\x02\x28") == R::Invalid);
    CHECK(parse(first + std::string("\x16\x02\x00", 3) + u16(msg.size() - 10) + msg.substr(10)) ==
          R::Invalid);
  }
  SECTION("handshake layer") {
    // Not a ClientHello (a ServerHello, a Finished).
    CHECK(parse(records(handshake(2, helloBody(vec16(good_exts))))) == R::Invalid);
    CHECK(parse(records(handshake(20, std::string(32, 'f')))) == R::Invalid);
    // The message length says less than the body holds: the extensions overrun it.
    std::string body = helloBody(vec16(good_exts));
    CHECK(parse(records(u8(1) + u24(body.size() - 3) + body)) == R::Invalid);
    // A body that ends inside the fixed fields.
    CHECK(parse(records(handshake(1, body.substr(0, 20)))) == R::Invalid);
    CHECK(parse(records(handshake(1, body.substr(0, 2 + 32 + 1 + 32 + 1)))) == R::Invalid);
    // cipher_suites longer than the body.
    std::string bad_ciphers = "\x03\x03" + std::string(32, 'r') + vec8("") + u16(0xffff) + "\x13";
    CHECK(parse(records(handshake(1, bad_ciphers))) == R::Invalid);
    // Bytes after the extensions block.
    CHECK(parse(records(handshake(1, body + "!"))) == R::Invalid);
  }
  SECTION("extensions block") {
    std::string body = helloBody("");
    // Its length one more, and one less, than what follows.
    CHECK(parse(records(handshake(1, body + u16(good_exts.size() + 1) + good_exts))) == R::Invalid);
    CHECK(parse(records(handshake(1, body + u16(good_exts.size() - 1) + good_exts))) == R::Invalid);
    // An extension whose data runs past the block, and half an extension header.
    CHECK(parse(hello(u16(0xff01) + u16(10) + "abc")) == R::Invalid);
    CHECK(parse(hello(good_exts + u8(0))) == R::Invalid);
  }
  SECTION("server_name") {
    std::string entry = u8(0) + vec16("a.example");
    CHECK(parse(hello(extension(0, u16(entry.size() + 1) + entry))) == R::Invalid);
    CHECK(parse(hello(extension(0, u16(entry.size() - 1) + entry))) == R::Invalid);
    CHECK(parse(hello(extension(0, vec16(std::string("\x00\x00\x20", 3) + "a.example")))) ==
          R::Invalid);  // the name is shorter than its length
    CHECK(parse(hello(extension(0, vec16(entry) + "x"))) == R::Invalid);  // after the list
    CHECK(parse(hello(extension(0, u8(0)))) == R::Invalid);
  }
  SECTION("application_layer_protocol_negotiation") {
    CHECK(parse(hello(extension(16, vec16(vec8("h2") + u8(0))))) == R::Invalid);  // empty name
    CHECK(parse(hello(extension(16, vec16(u8(9) + "h2")))) == R::Invalid);        // name overruns
    CHECK(parse(hello(extension(16, u16(5) + vec8("h2")))) == R::Invalid);
    CHECK(parse(hello(extension(16, vec16(vec8("h2")) + "x"))) == R::Invalid);
  }
}

TEST_CASE("tls_inspector: a server name that no TLS stack accepts is Invalid", "[tls_inspector]") {
  // OpenSSL and BoringSSL refuse an empty host_name and one with a NUL byte (decode_error /
  // unrecognized_name); a name with a NUL must not reach filter chain matching, where
  // "evil\0.example" would end with ".example".
  auto hello = [](const std::string& name) {
    return records(handshake(1, helloBody(vec16(sniExtension(name)))));
  };
  CHECK(parse(hello("")) == R::Invalid);
  CHECK(parse(hello(std::string("evil\0.example", 13))) == R::Invalid);
  ClientHelloInfo info;
  REQUIRE(parse(hello("good.example"), &info) == R::ClientHello);
  CHECK(info.server_name == "good.example");
}

TEST_CASE("tls_inspector: an extension sent twice is Invalid", "[tls_inspector]") {
  // RFC 8446 section 4.2: at most one extension of a type per block (OpenSSL and BoringSSL
  // refuse the hello). Two ALPN lists must not become one longer list, nor a second server
  // name be ignored.
  auto hello = [](const std::string& exts) {
    return records(handshake(1, helloBody(vec16(exts))));
  };
  CHECK(parse(hello(sniExtension("a.example") + sniExtension("b.example"))) == R::Invalid);
  CHECK(parse(hello(alpnExtension({"h2"}) + sniExtension("a.example") +
                    alpnExtension({"http/1.1"}))) == R::Invalid);
  // Other extensions twice are the TLS stack's business.
  ClientHelloInfo info;
  REQUIRE(parse(hello(extension(0xff01, "") + extension(0xff01, "") + sniExtension("a.example")),
                &info) == R::ClientHello);
  CHECK(info.server_name == "a.example");
}

TEST_CASE("tls_inspector: a ClientHello larger than 64 KiB is Invalid, before all of it arrives",
          "[tls_inspector]") {
  // A real hello grown with a padding extension (21) past the limit, in full-size records.
  auto padded = [](size_t message_size) {
    std::string exts = sniExtension("big.example") + alpnExtension({"h2"});
    size_t fixed = 4 + helloBody(vec16(exts)).size() + 4;
    REQUIRE(message_size > fixed);
    exts += extension(21, std::string(message_size - fixed, '\0'));
    std::string msg = handshake(1, helloBody(vec16(exts)));
    REQUIRE(msg.size() == message_size);
    return msg;
  };
  SECTION("the handshake header announces more than 64 KiB") {
    std::string data = records(u8(1) + u24(69996) + std::string(69996, 'p'));
    CHECK(parse(data) == R::Invalid);
    // Known as soon as the first record (which holds the header) is complete.
    CHECK(parse(data.substr(0, 5 + 16384)) == R::Invalid);
    CHECK(parse(data.substr(0, 5 + 16383)) == R::NeedMore);
    // A header alone that says 16 MiB.
    CHECK(parse("\x16\x03\x01" + u16(4) + "\x01\xff\xff\xff") == R::Invalid);
  }
  SECTION("the records of a hello must end within the first 64 KiB of the connection") {
    // Envoy's max_client_hello_size bounds the bytes read, record headers included: a message
    // of 64 KiB minus its record headers fits exactly; one byte more does not. The verdict must
    // not depend on how the bytes arrive.
    std::string fits = records(padded(kMaxClientHelloSize - 4 * 5));
    REQUIRE(fits.size() == kMaxClientHelloSize);
    ClientHelloInfo info;
    CHECK(parse(fits, &info) == R::ClientHello);
    CHECK(info.server_name == "big.example");
    CHECK(parse(fits.substr(0, fits.size() - 1)) == R::NeedMore);

    std::string over = records(padded(kMaxClientHelloSize - 4 * 5 + 1));
    REQUIRE(over.size() == kMaxClientHelloSize + 1);
    CHECK(parse(over.substr(0, over.size() - 1)) == R::Invalid);
    CHECK(parse(over) == R::Invalid);
    // A message of exactly 64 KiB (its header's limit) in four records is past it, too.
    CHECK(parse(records(padded(kMaxClientHelloSize))) == R::Invalid);
  }
  SECTION("many small records") {
    // 64 KiB of record headers around one-byte fragments is not a way around the limit.
    std::string data = records(padded(20000), 1);
    CHECK(parse(data) == R::Invalid);
    CHECK(parse(data.substr(0, kMaxClientHelloSize)) == R::NeedMore);
    CHECK(parse(data.substr(0, kMaxClientHelloSize + 1)) == R::Invalid);
  }
}

// --- Not TLS ---

TEST_CASE("tls_inspector: HTTP, other protocols and random bytes are NotTls", "[tls_inspector]") {
  CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == R::NotTls);
  CHECK(parse("G") == R::NotTls);
  CHECK(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == R::NotTls);
  CHECK(parse("SSH-2.0-OpenSSH_9.2\r\n") == R::NotTls);
  CHECK(parse(std::string("\0\0\0\0", 4)) == R::NotTls);
  // A handshake content type, but no TLS version major: not TLS (DTLS is 0xfe, SSLv2 has none).
  CHECK(parse(std::string("\x16\xfe\xfd\x00\x10", 5)) == R::NotTls);
  CHECK(parse(std::string("\x16\x00", 2)) == R::NotTls);
  // Other TLS record types first: an alert, application data, ChangeCipherSpec.
  CHECK(parse(std::string("\x15\x03\x03\x00\x02\x02\x28", 7)) == R::NotTls);
  CHECK(parse(std::string("\x17\x03\x03\x00\x01x", 6)) == R::NotTls);
  CHECK(parse(std::string("\x14\x03\x03\x00\x01\x01", 6)) == R::NotTls);
  // Too little to tell yet.
  CHECK(parse("") == R::NeedMore);
  CHECK(parse("\x16") == R::NeedMore);
  CHECK(parse("\x16\x03") == R::NeedMore);
  CHECK(parse("\x16\x03\x01\x01") == R::NeedMore);

  std::mt19937 rng(20240613);
  for (int i = 0; i < 2000; ++i) {
    std::string data(1 + rng() % 600, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    if (static_cast<uint8_t>(data[0]) == 0x16) data[0] = 'x';
    INFO("input " << i);
    CHECK(parse(data) == R::NotTls);
  }
}

TEST_CASE("tls_inspector: an SSLv2-compatible ClientHello is NotTls", "[tls_inspector]") {
  // SSLv2 record: 2-byte length with the high bit set, msg_type 1, version 3.1, then cipher
  // specs (3 bytes each), session id and challenge lengths.
  std::string specs = std::string("\x00\x00\x2f\x00\x00\x35\x00\x00\xff", 9);
  std::string body = std::string("\x01\x03\x01", 3) + u16(specs.size()) + u16(0) + u16(16) + specs +
                     std::string(16, 'c');
  std::string v2 = u16(0x8000 | body.size()) + body;
  CHECK(parse(v2) == R::NotTls);
  CHECK(parse(v2.substr(0, 1)) == R::NotTls);
}

}  // namespace
}  // namespace remora::server
