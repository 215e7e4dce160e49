// IdentityProvider against the real remora-control binary: certificates issued with minted
// bootstrap tokens and Kubernetes tokens, refusals, renewal at half-life with fresh keys and
// serials, retries until the CA comes up, an operator intermediate, and a root rotation seen
// by a running proxy. Each test ends with uv_loop_close() == 0.
#include "certs/identity_provider.h"

#include <openssl/err.h>

#include <catch2/catch.hpp>
#include <set>

#include "certs/ca.h"
#include "certs/x509.h"
#include "test/certs/certs_testing.h"

namespace remora::certs {
namespace {

using std::chrono::milliseconds;
using testing::ControlPlane;
using testing::TempDir;

// One IdentityProvider on a fresh loop. Callbacks record what arrives and call `check`, which
// returns true to stop. A deadline stops it too (and fails the run).
class ProviderRun {
 public:
  struct Event {
    std::optional<WorkloadSecret> secret;
    absl::Status error;
    std::chrono::steady_clock::time_point at;
    std::chrono::system_clock::time_point wall = std::chrono::system_clock::now();
  };

  explicit ProviderRun(IdentityOptions options) : options_(std::move(options)) {}

  // Runs until `done(events)` holds or `timeout` passes; true when done.
  bool run(std::function<bool(const std::vector<Event>&)> done,
           milliseconds timeout = milliseconds(20000)) {
    done_ = std::move(done);
    provider_ = std::make_unique<IdentityProvider>(
        loop_, options_,
        [this](const WorkloadSecret& s) {
          record({s, absl::OkStatus(), now()});
        },
        [this](const absl::Status& e) {
          record({std::nullopt, e, now()});
        });
    guard_ = new uv_timer_t;
    uv_timer_init(loop_.uv(), guard_);
    guard_->data = this;
    uv_timer_start(
        guard_, [](uv_timer_t* t) { static_cast<ProviderRun*>(t->data)->stop(); },
        static_cast<uint64_t>(timeout.count()), 0);
    provider_->start();
    loop_.run();
    closed_cleanly_ = loop_.close();
    return finished_;
  }

  const std::vector<Event>& events() const { return events_; }
  std::vector<WorkloadSecret> secrets() const {
    std::vector<WorkloadSecret> out;
    for (const auto& e : events_) {
      if (e.secret) out.push_back(*e.secret);
    }
    return out;
  }
  std::vector<absl::Status> errors() const {
    std::vector<absl::Status> out;
    for (const auto& e : events_) {
      if (!e.secret) out.push_back(e.error);
    }
    return out;
  }
  bool closedCleanly() const { return closed_cleanly_; }
  IdentityProvider& provider() { return *provider_; }
  event::EventLoop& loop() { return loop_; }

 private:
  static std::chrono::steady_clock::time_point now() { return std::chrono::steady_clock::now(); }

  void record(Event e) {
    events_.push_back(std::move(e));
    if (!stopping_ && done_(events_)) {
      finished_ = true;
      stop();
    }
  }

  void stop() {
    if (stopping_) return;
    stopping_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(guard_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    provider_->close([this] { loop_.shutdown(); });
  }

  IdentityOptions options_;
  event::EventLoop loop_{"main"};
  std::unique_ptr<IdentityProvider> provider_;
  uv_timer_t* guard_ = nullptr;
  std::function<bool(const std::vector<Event>&)> done_;
  std::vector<Event> events_;
  bool stopping_ = false;
  bool finished_ = false;
  bool closed_cleanly_ = false;
};

IdentityOptions optionsFor(const ControlPlane& cp, const std::string& token_file,
                           const std::string& ns, const std::string& sa,
                           const std::string& td = "cluster.local") {
  IdentityOptions o;
  o.ca_address = cp.address();
  o.token_file = token_file;
  o.id = SpiffeId{td, ns, sa};
  o.request_timeout = milliseconds(5000);
  o.initial_backoff = milliseconds(200);
  o.max_backoff = milliseconds(1000);
  return o;
}

auto secretsAtLeast(size_t n) {
  return [n](const std::vector<ProviderRun::Event>& ev) {
    return static_cast<size_t>(std::count_if(
               ev.begin(), ev.end(), [](const auto& e) { return e.secret.has_value(); })) >= n;
  };
}
auto errorsAtLeast(size_t n) {
  return [n](const std::vector<ProviderRun::Event>& ev) {
    return static_cast<size_t>(std::count_if(
               ev.begin(), ev.end(), [](const auto& e) { return !e.secret.has_value(); })) >= n;
  };
}

X509Ptr leafOf(const WorkloadSecret& s) {
  auto certs = parseCertsPem(s.cert_chain_pem);
  REQUIRE(certs.ok());
  return std::move(certs->front());
}

TEST_CASE("IdentityProvider gets a certificate from remora-control with a minted token",
          "[identity][e2e]") {
  TempDir tmp;
  ControlPlane cp(tmp, {"--ca-dir", tmp.file("ca")});
  std::string token = testing::issueToken(tmp.file("ca"), "default", "reviews");
  std::string token_file = tmp.write("token", token + "\n");
  ProviderRun r(optionsFor(cp, token_file, "default", "reviews"));
  INFO(cp.log());
  REQUIRE(r.run(secretsAtLeast(1)));
  CHECK(r.closedCleanly());
  REQUIRE(r.errors().empty());
  const WorkloadSecret s = r.secrets().front();

  CHECK(s.spiffe_id == "spiffe://cluster.local/ns/default/sa/reviews");
  X509Ptr leaf = leafOf(s);
  CHECK(uriSans(leaf.get()) == std::vector<std::string>{s.spiffe_id});
  auto key = parsePrivateKeyPem(s.private_key_pem);
  REQUIRE(key.ok());
  CHECK(describeKey(key->get()) == "EC prime256v1");
  CHECK(X509_check_private_key(leaf.get(), key->get()) == 1);
  // The bundle is the CA directory's root; the chain is the leaf alone (the root signs).
  CHECK(s.trust_bundle_pem == testing::slurp(tmp.file("ca/root-cert.pem")));
  CHECK(parseCertsPem(s.cert_chain_pem)->size() == 1);
  CHECK(s.not_after == notAfter(leaf.get()));
  CHECK(std::chrono::duration_cast<std::chrono::seconds>(s.not_after - s.not_before).count() ==
        24 * 3600 + 60);
  tmp.write("leaf.pem", s.cert_chain_pem);
  tmp.write("bundle.pem", s.trust_bundle_pem);
  std::string out;
  CHECK(testing::run({"openssl", "verify", "-purpose", "sslclient", "-CAfile",
                      tmp.file("bundle.pem"), tmp.file("leaf.pem")},
                     &out) == 0);

  auto stats = cp.stats();
  CHECK(stats["control_plane.ca.csr_requests"] == 1);
  CHECK(stats["control_plane.ca.certs_issued"] == 1);
  CHECK(stats["control_plane.ca.denied_unauthenticated"] == 0);
  // Neither the token nor a key is ever logged.
  std::string log = cp.log();
  CHECK_THAT(log, Catch::Contains("issued spiffe://cluster.local/ns/default/sa/reviews"));
  CHECK(log.find(token.substr(token.rfind('.') + 1)) == std::string::npos);
  CHECK(log.find("PRIVATE KEY") == std::string::npos);
}

TEST_CASE(
    "a bad token is UNAUTHENTICATED and another identity's token PERMISSION_DENIED, "
    "with retries",
    "[identity][e2e]") {
  TempDir tmp;
  ControlPlane cp(tmp, {"--ca-dir", tmp.file("ca")});

  // A well-formed token from another remora-control (another key).
  std::string forged = testing::issueToken(tmp.file("other-ca"), "default", "reviews");
  std::string forged_file = tmp.write("forged", forged);
  ProviderRun bad(optionsFor(cp, forged_file, "default", "reviews"));
  REQUIRE(bad.run(errorsAtLeast(2)));
  CHECK(bad.closedCleanly());
  CHECK(bad.secrets().empty());
  for (const auto& e : bad.errors()) {
    CHECK(e.code() == absl::StatusCode::kUnauthenticated);
    CHECK_THAT(std::string(e.message()), Catch::Contains("does not verify"));
  }
  // The second attempt came after a backoff (initial 200 ms, jittered to at least half).
  auto gap = bad.events()[1].at - bad.events()[0].at;
  CHECK(gap >= milliseconds(100));

  std::string ratings = testing::issueToken(tmp.file("ca"), "default", "ratings");
  ProviderRun other(optionsFor(cp, tmp.write("ratings", ratings), "default", "reviews"));
  REQUIRE(other.run(errorsAtLeast(1)));
  CHECK(other.closedCleanly());
  REQUIRE(other.secrets().empty());
  CHECK(other.errors()[0].code() == absl::StatusCode::kPermissionDenied);
  CHECK_THAT(std::string(other.errors()[0].message()),
             Catch::Contains("spiffe://cluster.local/ns/default/sa/ratings"));

  ProviderRun missing(optionsFor(cp, tmp.file("no-such-token"), "default", "reviews"));
  REQUIRE(missing.run(errorsAtLeast(1)));
  CHECK(missing.errors()[0].code() == absl::StatusCode::kUnauthenticated);

  auto stats = cp.stats();
  CHECK(stats["control_plane.ca.certs_issued"] == 0);
  CHECK(stats["control_plane.ca.denied_unauthenticated"] >= 2);
  CHECK(stats["control_plane.ca.denied_identity"] == 1);
  CHECK(stats["control_plane.ca.csr_requests"] ==
        stats["control_plane.ca.denied_unauthenticated"] + 1);
}

TEST_CASE("short-lived certificates are renewed at about half their life, new key each time",
          "[identity][e2e]") {
  TempDir tmp;
  ControlPlane cp(tmp, {"--ca-dir", tmp.file("ca")});
  std::string token_file = tmp.write("token", testing::issueToken(tmp.file("ca"), "shop", "cart"));
  IdentityOptions o = optionsFor(cp, token_file, "shop", "cart");
  o.requested_ttl = std::chrono::seconds(3);
  ProviderRun r(o);
  REQUIRE(r.run(secretsAtLeast(4)));
  CHECK(r.closedCleanly());
  CHECK(r.errors().empty());
  auto secrets = r.secrets();
  std::set<std::string> serials, keys;
  for (const auto& s : secrets) {
    X509Ptr leaf = leafOf(s);
    serials.insert(serialHex(leaf.get()));
    keys.insert(s.private_key_pem);
    CHECK(std::chrono::duration_cast<std::chrono::seconds>(s.not_after - s.not_before).count() ==
          63);
  }
  CHECK(serials.size() == secrets.size());
  CHECK(keys.size() == secrets.size());
  for (size_t i = 1; i < r.events().size(); ++i) {
    // Due at 45-55% of what was left of the previous certificate when it was requested (just
    // before it arrived; X.509 times are whole seconds, so that is 2-3 s): neither at once (the
    // backdated notBefore must not make it look half-spent) nor at expiry.
    const auto& prev = r.events()[i - 1];
    auto left = prev.secret->not_after - prev.wall;
    auto gap = r.events()[i].at - prev.at;
    INFO("renewal " << i << " after " << std::chrono::duration_cast<milliseconds>(gap).count()
                    << "ms of " << std::chrono::duration_cast<milliseconds>(left).count()
                    << "ms left");
    CHECK(gap >= 0.45 * left - milliseconds(100));
    CHECK(gap <= 0.55 * (left + milliseconds(200)) + milliseconds(500));
    CHECK(left > std::chrono::seconds(1));
  }
  CHECK(cp.stats()["control_plane.ca.certs_issued"] == 4);
}

TEST_CASE("a provider started before the CA retries with backoff until it is up",
          "[identity][e2e]") {
  TempDir tmp;
  // A port nothing listens on (yet).
  int fd = remora::testing::listenTcp("127.0.0.1", 0);
  uint16_t port = remora::testing::boundPort(fd);
  close(fd);
  std::string ca_dir = tmp.file("ca");
  std::string token_file = tmp.write("token", testing::issueToken(ca_dir, "default", "web"));
  IdentityOptions o;
  o.ca_address = "127.0.0.1:" + std::to_string(port);
  o.token_file = token_file;
  o.id = SpiffeId{"cluster.local", "default", "web"};
  o.request_timeout = milliseconds(300);
  o.initial_backoff = milliseconds(100);
  o.max_backoff = milliseconds(400);
  std::unique_ptr<integration::Process> control;
  ProviderRun r(o);
  bool got = r.run([&](const std::vector<ProviderRun::Event>& ev) {
    if (ev.back().secret) return true;
    if (ev.size() == 3 && !control) {
      // Three failures seen: now bring the CA up on that port.
      std::filesystem::create_directories(tmp.file("resources"));
      control = std::make_unique<integration::Process>(
          std::vector<std::string>{ControlPlane::binary(), "--config-dir", tmp.file("resources"),
                                   "--listen", o.ca_address, "--admin-address", "", "--ca-dir",
                                   ca_dir},
          tmp.file("control.log"));
    }
    return false;
  });
  INFO((control ? control->log() : "no control plane"));
  REQUIRE(got);
  CHECK(r.closedCleanly());
  CHECK(r.errors().size() >= 3);
  for (const auto& e : r.errors()) {
    CHECK((e.code() == absl::StatusCode::kDeadlineExceeded ||
           e.code() == absl::StatusCode::kUnavailable));
  }
  CHECK(r.secrets().size() == 1);
  CHECK(r.provider().issued() == 1);
  CHECK(r.provider().failures() == r.errors().size());
  control->signal(SIGTERM);
  CHECK(control->wait(5000) == 0);
}

TEST_CASE("Kubernetes service-account tokens and the trust-domain flag, end to end",
          "[identity][e2e]") {
  TempDir tmp;
  auto sa_key = generateKey(KeyType::Rsa2048);
  REQUIRE(sa_key.ok());
  const std::string issuer = "https://kubernetes.default.svc.cluster.local";
  ControlPlane cp(tmp, {"--ca-dir", tmp.file("ca"), "--trust-domain", "mesh.example",
                        "--k8s-token-keys", tmp.write("sa.pub", publicKeyPem(sa_key->get())),
                        "--k8s-token-issuer", issuer, "--k8s-token-audience", "remora"});
  int64_t now = testing::unixNow();
  std::string claims = R"({"aud":["remora"],"exp":)" + std::to_string(now + 600) + R"(,"iat":)" +
                       std::to_string(now) + R"(,"iss":")" + issuer +
                       R"(","kubernetes.io":{"namespace":"shop","serviceaccount":{"name":"cart",)"
                       R"("uid":"1"}},"nbf":)" +
                       std::to_string(now) + R"(,"sub":"system:serviceaccount:shop:cart"})";
  std::string token =
      testing::makeJwt(R"({"alg":"RS256","kid":"k"})", claims, sa_key->get(), "RS256");
  ProviderRun r(optionsFor(cp, tmp.write("token", token), "shop", "cart", "mesh.example"));
  INFO(cp.log());
  REQUIRE(r.run(secretsAtLeast(1)));
  CHECK(r.closedCleanly());
  CHECK(r.secrets()[0].spiffe_id == "spiffe://mesh.example/ns/shop/sa/cart");
  CHECK(uriSans(leafOf(r.secrets()[0]).get()) ==
        std::vector<std::string>{"spiffe://mesh.example/ns/shop/sa/cart"});

  // The same token for the default audience is refused.
  std::string istio_aud = claims;
  istio_aud.replace(istio_aud.find("remora"), 6, "istio-ca");
  ProviderRun wrong(optionsFor(cp,
                               tmp.write("token2", testing::makeJwt(R"({"alg":"RS256"})", istio_aud,
                                                                    sa_key->get(), "RS256")),
                               "shop", "cart", "mesh.example"));
  REQUIRE(wrong.run(errorsAtLeast(1)));
  CHECK(wrong.errors()[0].code() == absl::StatusCode::kUnauthenticated);
  CHECK_THAT(std::string(wrong.errors()[0].message()), Catch::Contains("audience"));
}

TEST_CASE("an operator intermediate through remora-control: chain and bundle split right",
          "[identity][e2e]") {
  TempDir tmp;
  testing::OperatorCa op(tmp);
  ControlPlane cp(tmp, {"--ca-dir", tmp.file("ca"), "--ca-cert", tmp.file("inter.pem"), "--ca-key",
                        tmp.file("inter.key"), "--ca-chain", tmp.file("root.pem")});
  std::string token_file =
      tmp.write("token", testing::issueToken(tmp.file("ca"), "default", "api"));
  ProviderRun r(optionsFor(cp, token_file, "default", "api"));
  INFO(cp.log());
  REQUIRE(r.run(secretsAtLeast(1)));
  CHECK(r.closedCleanly());
  const WorkloadSecret s = r.secrets()[0];
  auto chain = parseCertsPem(s.cert_chain_pem);
  REQUIRE(chain.ok());
  REQUIRE(chain->size() == 2);  // leaf + intermediate; the root goes to the bundle
  CHECK(certPem((*chain)[1].get()) == testing::slurp(tmp.file("inter.pem")));
  CHECK(s.trust_bundle_pem == testing::slurp(tmp.file("root.pem")));
  // The directory's own root was not used.
  CHECK(s.trust_bundle_pem != testing::slurp(tmp.file("ca/root-cert.pem")));
}

// Whether `leaf` was signed by the root `root_pem`.
bool signedBy(const X509* leaf, const std::string& root_pem) {
  auto root = parseCertsPem(root_pem);
  REQUIRE(root.ok());
  return verifyChain(leaf, {}, {root->front().get()}, std::chrono::system_clock::now()).ok();
}

TEST_CASE(
    "a two-step root rotation reaches a running proxy: the staged root joins its bundle first, "
    "the proxy that renewed then trusts new-root peers before renewing again",
    "[identity][e2e][rotation]") {
  TempDir tmp;
  std::string ca_dir = tmp.file("ca");
  ControlPlane cp(tmp, {"--ca-dir", ca_dir});
  std::string token_file = tmp.write("token", testing::issueToken(ca_dir, "default", "reviews"));
  IdentityOptions o = optionsFor(cp, token_file, "default", "reviews");
  o.requested_ttl = std::chrono::seconds(2);
  const std::string old_root = testing::slurp(ca_dir + "/root-cert.pem");
  std::string stage_output, activate_output, status_output;
  int stage_rc = -1, activate_rc = -1;
  ProviderRun r(o);
  REQUIRE(r.run([&](const std::vector<ProviderRun::Event>& ev) {
    if (!ev.back().secret) return false;
    const WorkloadSecret& s = *ev.back().secret;
    size_t roots = parseCertsPem(s.trust_bundle_pem)->size();
    if (stage_rc == -1) {
      // Step one, with a propagation period far longer than the test: only the explicit
      // activate-root below makes the new root sign.
      stage_rc = testing::run({ControlPlane::binary(), "ca", "rotate-root", "--ca-dir", ca_dir,
                               "--propagation", "1h", "--overlap", "1h"},
                              &stage_output);
      return false;
    }
    if (activate_rc == -1 && roots == 2) {
      // A renewal after staging: the old root still signs (checked below). Step two.
      testing::run({ControlPlane::binary(), "ca", "status", "--ca-dir", ca_dir}, &status_output);
      activate_rc = testing::run(
          {ControlPlane::binary(), "ca", "activate-root", "--ca-dir", ca_dir}, &activate_output);
      return false;
    }
    return activate_rc != -1 && !signedBy(leafOf(s).get(), old_root);
  }));
  INFO(stage_output << activate_output << cp.log());
  CHECK(stage_rc == 0);
  CHECK(activate_rc == 0);
  CHECK(r.closedCleanly());
  CHECK_THAT(stage_output, Catch::Contains("is in the trust bundle now"));
  CHECK_THAT(status_output, Catch::Contains("staged:"));

  const std::string new_root = testing::slurp(ca_dir + "/root-cert.pem");
  REQUIRE(new_root != old_root);
  auto secrets = r.secrets();
  const WorkloadSecret& before = secrets.front();
  CHECK(before.trust_bundle_pem == old_root);
  // The last renewal before the activation: staged bundle, old-root leaf.
  const WorkloadSecret* staged = nullptr;
  for (const auto& s : secrets) {
    if (parseCertsPem(s.trust_bundle_pem)->size() == 2 && signedBy(leafOf(s).get(), old_root)) {
      staged = &s;
    }
  }
  REQUIRE(staged != nullptr);
  CHECK(staged->trust_bundle_pem == new_root + old_root);  // the signing root last
  const WorkloadSecret& after = secrets.back();
  X509Ptr staged_leaf = leafOf(*staged), new_leaf = leafOf(after);
  CHECK(signedBy(new_leaf.get(), new_root));
  CHECK(after.trust_bundle_pem == old_root + new_root);
  // The point of the two steps: the bundle from before the activation verifies a peer's
  // new-root leaf, and the new bundle still verifies the old-root leaf.
  auto now = std::chrono::system_clock::now();
  auto roots = [](const WorkloadSecret& s) {
    auto certs = parseCertsPem(s.trust_bundle_pem);
    REQUIRE(certs.ok());
    return std::move(*certs);
  };
  auto staged_bundle = roots(*staged), new_bundle = roots(after), old_bundle = roots(before);
  auto ptrs = [](const std::vector<X509Ptr>& v) {
    std::vector<const X509*> out;
    for (const auto& c : v) out.push_back(c.get());
    return out;
  };
  CHECK(verifyChain(new_leaf.get(), {}, ptrs(staged_bundle), now).ok());
  CHECK(verifyChain(staged_leaf.get(), {}, ptrs(new_bundle), now).ok());
  // A proxy still on the bundle from before the staging would refuse the new leaf.
  CHECK_FALSE(verifyChain(new_leaf.get(), {}, ptrs(old_bundle), now).ok());
  CHECK_THAT(cp.log(), Catch::Contains("reloaded"));
}

TEST_CASE("ca rotate-root --propagation 0 is the one-step rotation: new leaves at once",
          "[identity][e2e][rotation]") {
  TempDir tmp;
  std::string ca_dir = tmp.file("ca");
  ControlPlane cp(tmp, {"--ca-dir", ca_dir});
  std::string token_file = tmp.write("token", testing::issueToken(ca_dir, "default", "reviews"));
  IdentityOptions o = optionsFor(cp, token_file, "default", "reviews");
  o.requested_ttl = std::chrono::seconds(2);
  const std::string old_root = testing::slurp(ca_dir + "/root-cert.pem");
  std::string rotate_output;
  int rotate_rc = -1;
  ProviderRun r(o);
  REQUIRE(r.run([&](const std::vector<ProviderRun::Event>& ev) {
    if (!ev.back().secret) return false;
    if (rotate_rc == -1) {
      rotate_rc = testing::run({ControlPlane::binary(), "ca", "rotate-root", "--ca-dir", ca_dir,
                                "--propagation", "0", "--overlap", "1h"},
                               &rotate_output);
      return false;
    }
    return parseCertsPem(ev.back().secret->trust_bundle_pem)->size() == 2;
  }));
  INFO(rotate_output);
  CHECK(rotate_rc == 0);
  CHECK(r.closedCleanly());
  const std::string new_root = testing::slurp(ca_dir + "/root-cert.pem");
  REQUIRE(new_root != old_root);
  const WorkloadSecret after = r.secrets().back();
  CHECK(after.trust_bundle_pem == old_root + new_root);
  CHECK(signedBy(leafOf(after).get(), new_root));
}

TEST_CASE("ca subcommands refuse bad input clearly", "[identity][rotation]") {
  TempDir tmp;
  std::string ca_dir = tmp.file("ca");
  std::string out;
  CHECK(testing::run({ControlPlane::binary(), "ca", "activate-root", "--ca-dir", ca_dir}, &out) ==
        1);
  CHECK_THAT(out, Catch::Contains("cannot open"));
  REQUIRE(initCaDir(ca_dir, KeyType::EcdsaP256, "cluster.local", std::chrono::system_clock::now())
              .ok());
  CHECK(testing::run({ControlPlane::binary(), "ca", "activate-root", "--ca-dir", ca_dir}, &out) ==
        1);
  CHECK_THAT(out, Catch::Contains("no root is staged"));
  CHECK(testing::run({ControlPlane::binary(), "ca", "rotate-root", "--ca-dir", ca_dir}, &out) == 0);
  CHECK(testing::run({ControlPlane::binary(), "ca", "rotate-root", "--ca-dir", ca_dir}, &out) == 1);
  CHECK_THAT(out, Catch::Contains("already staged"));
  CHECK(testing::run(
            {ControlPlane::binary(), "ca", "status", "--ca-dir", ca_dir, "--propagation", "1h"},
            &out) == 2);
  CHECK_THAT(out, Catch::Contains("--propagation is a flag of rotate-root"));
  CHECK(testing::run({ControlPlane::binary(), "ca", "rotate-root", "--ca-dir", ca_dir,
                      "--propagation", "soon"},
                     &out) == 2);
  CHECK(testing::run({ControlPlane::binary(), "ca", "retire-root", "--ca-dir", ca_dir}, &out) == 2);
  CHECK(testing::run({ControlPlane::binary(), "ca", "status", "--ca-dir", ca_dir}, &out) == 0);
  CHECK_THAT(out, Catch::Contains("signing: "));
  CHECK_THAT(out, Catch::Contains("staged:  "));
}

}  // namespace
}  // namespace remora::certs
