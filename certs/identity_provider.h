// The proxy's workload identity: keeps a certificate for the workload's SPIFFE ID from the
// control plane's CA (Istio's CreateCertificate) and renews it before it expires.
//
// Each fetch makes a new ECDSA P-256 key in memory (it never leaves the process), a CSR with
// the SPIFFE ID as its only URI SAN, reads the bearer token from `token_file` afresh (Kubernetes
// rotates projected tokens), and calls the CA. The answer is checked before it is used: the
// leaf holds our key, its only URI SAN is our ID, and the chain verifies to a root of the
// returned bundle. A good secret goes to `on_secret` on the loop's thread; the next fetch is
// due at a uniformly random 45-55% of the certificate's lifetime (counted from when it was
// requested, as notBefore is backdated for clock skew). A failure is logged (one line) and
// retried after 1 s, doubling to 60 s with jitter, and never later than shortly before the
// current certificate expires.
//
// Threads: the object lives on `loop`'s thread; fetches (blocking gRPC, key generation) run on
// a thread of its own and post their results back. Use with the proxy's main loop:
//
//   auto identity = std::make_unique<certs::IdentityProvider>(main_loop, options,
//       [&](const certs::WorkloadSecret& s) { /* new "default" and "ROOTCA" secrets */ });
//   identity->start();
//   ...
//   identity->close([] { /* every handle is closed: the provider may be deleted */ });
#pragma once

#include <uv.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "certs/grpc_tls.h"
#include "certs/spiffe.h"
#include "proxy/event/event_loop.h"

namespace remora::certs {

class CsrClient;

// What the TLS layer needs: Envoy's tls_certificate ("default") is cert_chain_pem +
// private_key_pem, its validation_context ("ROOTCA") is trust_bundle_pem.
struct WorkloadSecret {
  std::string cert_chain_pem;    // the leaf, then intermediates (no root)
  std::string private_key_pem;   // PKCS#8
  std::string trust_bundle_pem;  // every root the CA returned (more than one during a rotation)
  std::string spiffe_id;
  std::chrono::system_clock::time_point not_before, not_after;
};

struct IdentityOptions {
  std::string ca_address;  // remora-control's gRPC address, e.g. "remora-control:15010"
  std::string token_file;  // a bearer JWT, read for each request
  ChannelTls ca_tls;       // TLS to the CA (plaintext unless it has roots)
  SpiffeId id;             // what to ask for
  std::chrono::seconds requested_ttl{0};  // 0: the CA's default (24 h)
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{60000};
};

class IdentityProvider {
 public:
  using SecretCallback = std::function<void(const WorkloadSecret&)>;
  using ErrorCallback = std::function<void(const absl::Status&)>;

  // From the loop's thread. `on_error` (optional) sees each failed fetch.
  IdentityProvider(event::EventLoop& loop, IdentityOptions options, SecretCallback on_secret,
                   ErrorCallback on_error = nullptr);
  // After close() has called back (or when start() was never called).
  ~IdentityProvider();
  IdentityProvider(const IdentityProvider&) = delete;
  IdentityProvider& operator=(const IdentityProvider&) = delete;

  // Starts the first fetch at once.
  void start();
  // Cancels a fetch in flight, stops the fetch thread and closes the timer; `done` runs on the
  // loop once nothing refers to the provider any more. May be called from the callbacks.
  void close(std::function<void()> done);

  // The secret in force, if any (loop thread).
  const WorkloadSecret* current() const { return current_ ? &*current_ : nullptr; }
  // Counters (loop thread): certificates received, fetches failed.
  uint64_t issued() const { return issued_; }
  uint64_t failures() const { return failures_; }

  // One fetch, blocking: key, CSR, call, checks. Public for tests and tools.
  static absl::StatusOr<WorkloadSecret> fetch(CsrClient& client, const IdentityOptions& options);

 private:
  struct Result {
    absl::StatusOr<WorkloadSecret> secret;
    std::chrono::system_clock::time_point requested_at;
  };

  void workerMain();
  void requestFetch();  // loop thread: wakes the worker
  void onResult(Result result);
  void schedule(std::chrono::milliseconds delay);
  static void onTimer(uv_timer_t* timer);

  event::EventLoop& loop_;
  IdentityOptions options_;
  SecretCallback on_secret_;
  ErrorCallback on_error_;
  std::unique_ptr<CsrClient> client_;
  std::shared_ptr<bool> alive_;  // false once closed; posted results check it (loop thread)

  uv_timer_t timer_;
  bool started_ = false;
  bool closing_ = false;
  bool closed_ = false;
  std::function<void()> on_closed_;

  std::optional<WorkloadSecret> current_;
  uint32_t backoff_attempt_ = 0;
  uint64_t issued_ = 0;
  uint64_t failures_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};

  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool fetch_wanted_ = false;  // guarded by mu_
  bool stopping_ = false;      // guarded by mu_
};

}  // namespace remora::certs
