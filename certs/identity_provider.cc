// Workload certificates from the control plane, renewed at half their life (see the header).
#include "certs/identity_provider.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>

#include "certs/csr_client.h"
#include "certs/x509.h"
#include "proxy/common/assert.h"
#include "proxy/common/log.h"
#include "proxy/common/strings.h"

namespace remora::certs {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr milliseconds kMinDelay{100};
constexpr milliseconds kMaxExpiryMargin{5000};

std::string rfc3339(SystemTime t) {
  time_t tt = std::chrono::system_clock::to_time_t(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string trim(std::string s) {
  auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!s.empty() && space(s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && space(s[i])) ++i;
  return s.substr(i);
}

absl::Status rejected(absl::string_view why) {
  return absl::InternalError(cat("the CA's answer is rejected: ", why));
}

}  // namespace

IdentityProvider::IdentityProvider(event::EventLoop& loop, IdentityOptions options,
                                   SecretCallback on_secret, ErrorCallback on_error)
    : loop_(loop),
      options_(std::move(options)),
      on_secret_(std::move(on_secret)),
      on_error_(std::move(on_error)),
      client_(std::make_unique<CsrClient>(options_.ca_address, options_.ca_tls)),
      alive_(std::make_shared<bool>(true)) {}

IdentityProvider::~IdentityProvider() {
  RELEASE_ASSERT(!started_ || closed_, "IdentityProvider deleted before close() completed");
}

absl::StatusOr<WorkloadSecret> IdentityProvider::fetch(CsrClient& client,
                                                       const IdentityOptions& options) {
  auto token = readFile(options.token_file);
  if (!token.ok()) return absl::UnauthenticatedError(cat("token: ", token.status().message()));
  std::string bearer = trim(std::move(*token));
  if (bearer.empty()) {
    return absl::UnauthenticatedError(cat("token file '", options.token_file, "' is empty"));
  }
  auto key = generateKey(KeyType::EcdsaP256);
  if (!key.ok()) return key.status();
  const std::string uri = options.id.uri();
  auto csr = makeCsrPem(key->get(), uri);
  if (!csr.ok()) return csr.status();
  auto chain =
      client.createCertificate(*csr, bearer, options.requested_ttl, options.request_timeout);
  if (!chain.ok()) return chain.status();

  std::vector<X509Ptr> certs;
  for (const std::string& pem : *chain) {
    auto parsed = parseCertsPem(pem);
    if (!parsed.ok()) return rejected(parsed.status().message());
    for (auto& c : *parsed) certs.push_back(std::move(c));
  }
  const X509* leaf = certs.front().get();
  if (X509_check_private_key(leaf, key->get()) != 1) {
    ERR_clear_error();
    return rejected("the leaf certificate is not for our key");
  }
  std::vector<std::string> uris = uriSans(leaf);
  if (uris.size() != 1 || uris[0] != uri) {
    return rejected(cat("the leaf's URI SANs are [", uris.empty() ? "" : uris[0],
                        uris.size() > 1 ? ", ..." : "", "], not [", uri, "]"));
  }
  std::vector<const X509*> intermediates, roots;
  for (size_t i = 1; i < certs.size(); ++i) {
    (isSelfSigned(certs[i].get()) ? roots : intermediates).push_back(certs[i].get());
  }
  if (roots.empty()) return rejected("no root certificate in the chain");
  if (auto s = verifyChain(leaf, intermediates, roots, std::chrono::system_clock::now()); !s.ok()) {
    return rejected(s.message());
  }

  WorkloadSecret secret;
  secret.cert_chain_pem = certPem(leaf);
  for (const X509* c : intermediates) secret.cert_chain_pem += certPem(c);
  secret.private_key_pem = privateKeyPem(key->get());
  for (const X509* r : roots) secret.trust_bundle_pem += certPem(r);
  secret.spiffe_id = uri;
  secret.not_before = notBefore(leaf);
  secret.not_after = notAfter(leaf);
  return secret;
}

void IdentityProvider::start() {
  RELEASE_ASSERT(!started_ && !closing_, "IdentityProvider started twice or after close()");
  started_ = true;
  uv_timer_init(loop_.uv(), &timer_);
  timer_.data = this;
  worker_ = std::thread([this] { workerMain(); });
  requestFetch();
}

void IdentityProvider::workerMain() {
  log::setThreadName("identity");
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return fetch_wanted_ || stopping_; });
      if (stopping_) return;
      fetch_wanted_ = false;
    }
    Result result{absl::UnknownError(""), std::chrono::system_clock::now()};
    result.secret = fetch(*client_, options_);
    loop_.post([this, alive = alive_, result = std::move(result)] {
      if (*alive) onResult(result);
    });
  }
}

void IdentityProvider::requestFetch() {
  std::lock_guard<std::mutex> lock(mu_);
  fetch_wanted_ = true;
  cv_.notify_one();
}

void IdentityProvider::onResult(Result result) {
  if (closing_) return;
  auto now = std::chrono::system_clock::now();
  const std::string id = options_.id.uri();
  if (result.secret.ok()) {
    ++issued_;
    backoff_attempt_ = 0;
    current_ = std::move(*result.secret);
    // notBefore is backdated for clock skew: count the lifetime from when we asked.
    auto start = std::max(current_->not_before, result.requested_at);
    auto lifetime = current_->not_after - start;
    double fraction = std::uniform_real_distribution<double>(0.45, 0.55)(rng_);
    auto renew_at = start + duration_cast<std::chrono::system_clock::duration>(lifetime * fraction);
    milliseconds delay = std::max(milliseconds(0), duration_cast<milliseconds>(renew_at - now));
    REMORA_LOG(Info, "identity: certificate for %s valid until %s; renewing in %dms", id,
               rfc3339(current_->not_after), delay.count());
    schedule(delay);
    on_secret_(*current_);
    return;
  }

  ++failures_;
  milliseconds cap =
      std::min(options_.max_backoff,
               options_.initial_backoff * (int64_t{1} << std::min(backoff_attempt_, 20u)));
  ++backoff_attempt_;
  milliseconds delay(std::uniform_int_distribution<int64_t>(cap.count() / 2, cap.count())(rng_));
  if (current_) {
    // Never wait past (nearly) the expiry of the certificate we still have.
    auto lifetime = duration_cast<milliseconds>(current_->not_after - current_->not_before);
    milliseconds margin = std::min(kMaxExpiryMargin, lifetime / 10);
    auto left = duration_cast<milliseconds>(current_->not_after - now) - margin;
    if (left > milliseconds(0)) delay = std::min(delay, left);
  }
  delay = std::max(delay, kMinDelay);
  REMORA_LOG(Warn, "identity: certificate for %s from %s failed: %s; retrying in %dms", id,
             options_.ca_address, result.secret.status().ToString(), delay.count());
  schedule(delay);
  if (on_error_) on_error_(result.secret.status());
}

void IdentityProvider::schedule(milliseconds delay) {
  uv_timer_start(&timer_, &IdentityProvider::onTimer, static_cast<uint64_t>(delay.count()), 0);
}

void IdentityProvider::onTimer(uv_timer_t* timer) {
  static_cast<IdentityProvider*>(timer->data)->requestFetch();
}

void IdentityProvider::close(std::function<void()> done) {
  if (closing_) return;
  closing_ = true;
  *alive_ = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  client_->cancel();
  if (worker_.joinable()) worker_.join();
  if (!started_) {
    closed_ = true;
    done();
    return;
  }
  on_closed_ = std::move(done);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
    auto* self = static_cast<IdentityProvider*>(h->data);
    self->closed_ = true;
    auto cb = std::move(self->on_closed_);
    cb();  // may delete the provider
  });
}

}  // namespace remora::certs
