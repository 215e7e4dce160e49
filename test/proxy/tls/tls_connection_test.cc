// TLS on net::Connection over loopback: mutual authentication with SPIFFE IDs, SAN matching,
// refusals (no certificate, another CA, expired, wrong identity), resumption, and reading
// paused and resumed with plaintext held back.
#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <string>

#include "proxy/common/strings.h"
#include "proxy/event/event_loop.h"
#include "proxy/net/connection.h"
#include "proxy/tls/context.h"
#include "test/common/test_certs.h"
#include "test/common/test_util.h"

namespace remora::tls {
namespace {

using net::Connection;
using testing::TestCert;

constexpr const char* kClientId = "spiffe://td.test/ns/a/sa/client";
constexpr const char* kServerId = "spiffe://td.test/ns/b/sa/server";

config::StringMatch exact(std::string v) {
  config::StringMatch m;
  m.value = std::move(v);
  return m;
}

std::shared_ptr<TlsContext> serverContext(
    const TestCert& ca, const TestCert& leaf, bool require_client = true,
    std::vector<config::SanMatch> sans = {},
    const std::function<void(config::DownstreamTlsConfig&)>& change = nullptr) {
  config::DownstreamTlsConfig c;
  c.common.certificate = config::TlsCertificate{leaf.cert_pem, leaf.key_pem};
  c.common.validation = config::ValidationContext{ca.cert_pem, std::move(sans)};
  c.common.alpn = {"h2", "http/1.1"};
  c.require_client_certificate = require_client;
  if (change) change(c);
  auto ctx = TlsContext::createServer(c);
  REQUIRE(ctx.ok());
  return *ctx;
}

std::shared_ptr<TlsContext> clientContext(const TestCert& ca, const TestCert* leaf,
                                          std::string expect_san,
                                          config::TlsVersion max = config::TlsVersion::V1_3) {
  config::UpstreamTlsConfig c;
  c.common.max_version = max;
  if (leaf != nullptr) c.common.certificate = config::TlsCertificate{leaf->cert_pem, leaf->key_pem};
  config::ValidationContext v;
  v.trusted_ca_pem = ca.cert_pem;
  if (!expect_san.empty()) {
    v.match_sans.push_back({config::SanMatch::Type::Uri, exact(std::move(expect_san))});
  }
  c.common.validation = v;
  c.common.alpn = {"http/1.1"};
  c.sni = "server.b.svc";
  auto ctx = TlsContext::createClient(c);
  REQUIRE(ctx.ok());
  return *ctx;
}

// One loop on the test thread: a TLS echo server (optionally pausing its reads) and clients.
struct Harness {
  event::EventLoop loop{"tls-test"};
  uv_tcp_t listener;
  uint16_t port = 0;
  std::shared_ptr<const TlsContext> server_ctx;
  bool pause_reads = false;

  // Server side observations.
  int server_handshakes = 0;
  int server_errors = 0;
  int server_closed = 0;
  std::string server_received;
  std::string last_error;
  net::TlsInfoSharedPtr server_info;

  struct ServerConn : Connection::Callbacks {
    Harness* h;
    uv_timer_t resume;
    Connection* conn = nullptr;
    bool paused_once = false;
    void onHandshakeDone(Connection& c) override {
      ++h->server_handshakes;
      h->server_info = c.tlsInfo();
    }
    void onData(Connection& c, event::Block* b) override {
      h->server_received.append(b->begin(), b->len);
      c.write(b);  // echo
      if (h->pause_reads && !paused_once) {
        paused_once = true;
        c.readEnable(false);
        conn = &c;
        uv_timer_start(
            &resume,
            [](uv_timer_t* t) { static_cast<ServerConn*>(t->data)->conn->readEnable(true); }, 50,
            0);
      }
    }
    void onEof(Connection& c) override { c.close(Connection::CloseMode::Flush); }
    void onError(Connection& c, int err) override {
      h->last_error = c.tlsError().empty() ? uv_err_name(err) : c.tlsError();
      ++h->server_errors;
      c.close(Connection::CloseMode::Flush);
    }
    void onClosed(Connection&) override {
      ++h->server_closed;
      uv_timer_stop(&resume);
      uv_close(reinterpret_cast<uv_handle_t*>(&resume),
               [](uv_handle_t* t) { delete static_cast<ServerConn*>(t->data); });
    }
  };

  Harness() {
    uv_tcp_init(loop.uv(), &listener);
    listener.data = this;
    int fd = testing::listenTcp("127.0.0.1");
    port = testing::boundPort(fd);
    uv_tcp_open(&listener, fd);
    uv_listen(reinterpret_cast<uv_stream_t*>(&listener), 64, [](uv_stream_t* s, int) {
      auto* self = static_cast<Harness*>(s->data);
      auto c = Connection::accept(self->loop, s, 1024 * 1024);
      REQUIRE(c.ok());
      auto* sc = new ServerConn;
      sc->h = self;
      uv_timer_init(self->loop.uv(), &sc->resume);
      sc->resume.data = sc;
      (*c)->setCallbacks(sc);
      (*c)->startTls(self->server_ctx);
      (*c)->readEnable(true);
    });
  }

  // Runs the loop until `done` or 10 s.
  void runUntil(const std::function<bool()>& done) {
    uint64_t deadline = loop.now() + 10000;
    uv_timer_t tick;
    uv_timer_init(loop.uv(), &tick);
    uv_timer_start(
        &tick, [](uv_timer_t*) {}, 10, 10);
    while (!done() && loop.now() < deadline) uv_run(loop.uv(), UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    uv_run(loop.uv(), UV_RUN_NOWAIT);
  }

  ~Harness() {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener), nullptr);
    loop.shutdown();
    loop.run();
    CHECK(loop.close());
  }
};

// A client that sends `payload`, half-closes, and collects the echo.
struct Client : Connection::Callbacks {
  int connect_status = 1;  // 1: not yet
  std::string received;
  bool ended = false;  // EOF, error or close
  bool closed = false;
  std::string payload;
  net::TlsInfoSharedPtr info;

  void onConnect(Connection& c, int status) override {
    connect_status = status;
    if (status != 0) return;
    info = c.tlsInfo();
    c.readEnable(true);
    c.writeCopy(payload);
    c.shutdownWrite();
  }
  void onData(Connection& c, event::Block* b) override {
    received.append(b->begin(), b->len);
    c.loop().blocks().release(b);
  }
  void onEof(Connection& c) override {
    ended = true;
    c.close(Connection::CloseMode::Flush);
  }
  void onError(Connection&, int) override { ended = true; }
  void onClosed(Connection&) override {
    ended = true;
    closed = true;
  }
};

void connectClient(Harness& h, Client& client, std::shared_ptr<const TlsContext> ctx) {
  Connection* c = Connection::create(h.loop, 1024 * 1024);
  c->setCallbacks(&client);
  c->startTls(std::move(ctx));
  auto to = net::Address::parseIp("127.0.0.1", h.port);
  REQUIRE(to.ok());
  REQUIRE(c->connect(*to, nullptr).ok());
}

struct Pki {
  TestCert ca = testing::makeRootCa("remora test root");
  TestCert server = testing::issueLeaf(ca, kServerId);
  TestCert client = testing::issueLeaf(ca, kClientId);
};

TEST_CASE("mutual TLS carries bytes intact both ways and each side sees the other's SPIFFE ID",
          "[tls]") {
  Pki pki;
  Harness h;
  h.server_ctx = serverContext(pki.ca, pki.server);
  Client client;
  client.payload = testing::randomBytes(3 * 1024 * 1024 + 17);
  connectClient(h, client, clientContext(pki.ca, &pki.client, kServerId));
  h.runUntil([&] { return client.closed; });
  CHECK(client.connect_status == 0);
  REQUIRE(client.received.size() == client.payload.size());
  CHECK(testing::sha256Hex(client.received) == testing::sha256Hex(client.payload));
  REQUIRE(h.server_info != nullptr);
  CHECK(h.server_info->peer_uri_sans == std::vector<std::string>{kClientId});
  CHECK(h.server_info->peer_certificate_validated);
  CHECK(h.server_info->sni == "server.b.svc");
  CHECK(h.server_info->alpn == "http/1.1");
  CHECK(h.server_info->version == "TLSv1.3");
  REQUIRE(client.info != nullptr);
  CHECK(client.info->peer_uri_sans == std::vector<std::string>{kServerId});
  CHECK(client.info->local_uri_sans == std::vector<std::string>{kClientId});
}

TEST_CASE("a reader that pauses gets the held-back plaintext once it reads again", "[tls]") {
  Pki pki;
  Harness h;
  h.pause_reads = true;
  h.server_ctx = serverContext(pki.ca, pki.server);
  Client client;
  client.payload = testing::randomBytes(2 * 1024 * 1024);
  connectClient(h, client, clientContext(pki.ca, &pki.client, kServerId));
  h.runUntil([&] { return client.closed; });
  INFO(h.last_error);
  CHECK(h.server_errors == 0);
  CHECK(h.server_received.size() == client.payload.size());
  CHECK(testing::sha256Hex(client.received) == testing::sha256Hex(client.payload));
}

TEST_CASE("a client expecting another SPIFFE ID refuses the server", "[tls]") {
  Pki pki;
  Harness h;
  h.server_ctx = serverContext(pki.ca, pki.server);
  Client client;
  client.payload = "secret";
  auto ctx = clientContext(pki.ca, &pki.client, "spiffe://td.test/ns/b/sa/someone-else");
  connectClient(h, client, ctx);
  h.runUntil([&] { return client.closed && h.server_errors > 0; });
  CHECK(client.connect_status == UV_EPROTO);
  CHECK(ctx->stats().fail_verify_san.load() == 1);
  CHECK(h.server_received.empty());
}

TEST_CASE("a server requiring client certificates refuses none, another CA's and an expired one",
          "[tls]") {
  Pki pki;
  Harness h;
  h.server_ctx = serverContext(pki.ca, pki.server);
  TestCert other_ca = testing::makeRootCa("someone else's root");
  TestCert foreign = testing::issueLeaf(other_ca, kClientId);
  TestCert expired = testing::issueLeaf(pki.ca, kClientId, "", -7200, -3600);
  struct Case {
    const char* what;
    const TestCert* leaf;
  } cases[] = {{"no certificate", nullptr}, {"another CA", &foreign}, {"expired", &expired}};
  int expected_errors = 0;
  for (const auto& c : cases) {
    SECTION(c.what) {
      Client client;
      client.payload = "must not arrive";
      connectClient(h, client, clientContext(pki.ca, c.leaf, kServerId));
      h.runUntil([&] { return client.closed && h.server_errors > expected_errors; });
      CHECK(h.server_errors == 1);
      CHECK(h.server_handshakes == 0);
      CHECK(h.server_received.empty());
      CHECK(client.received.empty());
    }
  }
  CHECK(h.server_ctx->stats().handshake.load() == 0);
}

TEST_CASE("a second connection resumes the first one's session", "[tls]") {
  Pki pki;
  Harness h;
  h.server_ctx = serverContext(pki.ca, pki.server);
  auto ctx = clientContext(pki.ca, &pki.client, kServerId);
  Client first;
  first.payload = "one";
  connectClient(h, first, ctx);
  h.runUntil([&] { return first.closed; });
  REQUIRE(first.info != nullptr);
  CHECK_FALSE(first.info->session_reused);
  Client second;
  second.payload = "two";
  connectClient(h, second, ctx);
  h.runUntil([&] { return second.closed; });
  REQUIRE(second.info != nullptr);
  CHECK(second.info->session_reused);
  CHECK(second.received == "two");
  CHECK(h.server_info->peer_uri_sans == std::vector<std::string>{kClientId});
}

TEST_CASE(
    "resumption: stateful by default (a bounded server cache, no ticket encoding), stateless "
    "tickets with the cache disabled, none with both disabled - over TLS 1.3 and 1.2",
    "[tls]") {
  bool no_stateless = GENERATE(false, true);
  bool no_stateful = GENERATE(false, true);
  auto version = GENERATE(config::TlsVersion::V1_3, config::TlsVersion::V1_2);
  INFO("disable_stateless " << no_stateless << " disable_stateful " << no_stateful << " TLS1."
                            << (version == config::TlsVersion::V1_3 ? 3 : 2));
  Pki pki;
  Harness h;
  auto server = serverContext(pki.ca, pki.server, true, {}, [&](config::DownstreamTlsConfig& c) {
    c.disable_stateless_session_resumption = no_stateless;
    c.disable_stateful_session_resumption = no_stateful;
  });
  h.server_ctx = server;
  auto ctx = clientContext(pki.ca, &pki.client, kServerId, version);
  for (int i = 0; i < 3; ++i) {
    Client c;
    c.payload = cat("payload ", i);
    connectClient(h, c, ctx);
    h.runUntil([&] { return c.closed; });
    REQUIRE(c.info != nullptr);
    CHECK(c.received == c.payload);
    bool want = i > 0 && !(no_stateless && no_stateful);
    CHECK(c.info->session_reused == want);
    // The resumed session still names the client.
    CHECK(h.server_info->peer_uri_sans == std::vector<std::string>{kClientId});
  }
  if (!no_stateful) {
    CHECK(server->cachedSessions() >= 1);
    CHECK(server->cachedSessions() <= 3);
  } else {
    CHECK(server->cachedSessions() == 0);
  }
}

}  // namespace
}  // namespace remora::tls
