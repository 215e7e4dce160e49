// The proxy's ADS client: one gRPC stream (state of the world or incremental, as the
// bootstrap says) on which it subscribes CDS, then EDS for the clusters' endpoints, then LDS,
// then RDS for the route configurations the listeners' HTTP managers name; translates each
// response, has the server apply it, and ACKs or NACKs (naming the resource and field). A rejected
// response leaves the last good configuration in force. When the stream breaks the proxy keeps
// serving and reconnects with jittered exponential backoff, resuming Delta with
// initial_resource_versions.
//
// Threads: the state machine and its timers run on the client's own event loop; gRPC's
// callbacks post to it; configurations are applied on the server's main loop, which posts
// the result back.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "proxy/event/event_loop.h"
#include "proxy/stats/stats.h"
#include "xds/client/config_state.h"
#include "xds/translate/bootstrap.h"

namespace remora::xds {

class CqThread;

struct XdsTypeStats {
  std::atomic<uint64_t> update_attempt{0};
  std::atomic<uint64_t> update_success{0};
  std::atomic<uint64_t> update_rejected{0};
  std::atomic<uint64_t> update_time_ms{0};  // wall clock of the last accepted update
};

class XdsClient {
 public:
  using ApplyFn = std::function<absl::Status(const config::ProxyConfig&)>;

  // `apply` runs on `main_loop`.
  XdsClient(AdsConfig ads, envoy::config::core::v3::Node node, config::ProxyConfig static_config,
            event::EventLoop& main_loop, ApplyFn apply, stats::Store& store);
  ~XdsClient();

  void start();
  // Cancels the stream and ends the client's thread.
  void stop();
  // Secrets from the local identity provider (a new certificate, a new trust bundle): applied
  // like an update (any thread).
  void setLocalSecrets(std::vector<config::SecretConfig> secrets);

  // A consistent copy of what is in force, for /config_dump (any thread).
  struct Dump {
    std::map<ResourceType, ResourceMap> resources;
    std::map<ResourceType, std::string> versions;  // SotW version_info (or Delta system version)
    std::vector<std::string> warming_clusters;
    std::vector<std::string> warming_listeners;
    // For each LDS listener, the version in force (differs from `resources` while it warms).
    std::map<std::string, std::shared_ptr<const ResourceEntry>> active_listeners;
    std::map<ResourceType, std::string> last_error;  // the last NACK's message per type
  };
  Dump dump() const;
  bool connected() const { return connected_.load(); }
  // Whether the initial fetch is over (all subscribed types answered or timed out, clusters
  // and listeners warm, the listeners' route configurations arrived or timed out).
  bool initialized() const { return initialized_.load(); }

 private:
  class Stream;
  struct Pending;

  // All on the client's loop.
  bool makeChannel();  // false (logged) when the TLS credentials cannot be made
  void connect();
  void scheduleReconnect();
  void onStreamReady(uint64_t gen);
  void onResponse(uint64_t gen, std::shared_ptr<Pending> p);
  void processNext();
  void onApplied(std::shared_ptr<Pending> p, ConfigState next, config::ProxyConfig cfg,
                 absl::Status status);
  void sendRequest(ResourceType type, const std::string& nonce, const absl::Status& error);
  void subscribe(ResourceType type, std::set<std::string> names);
  void updateEdsSubscription();
  void updateRdsSubscription();
  void updateSdsSubscription();
  void armFetchTimer();
  static void onFetchTimer(uv_timer_t* t);
  void maybeStartLds();
  void publishDump();
  uint64_t wallMs() const;

  AdsConfig ads_;
  envoy::config::core::v3::Node node_;
  event::EventLoop& main_loop_;
  ApplyFn apply_;
  event::EventLoop loop_;
  std::thread thread_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<envoy::service::discovery::v3::AggregatedDiscoveryService::Stub> stub_;
  std::unique_ptr<CqThread> cq_;  // runs the stream's gRPC completions
  std::shared_ptr<Stream> stream_;
  uint64_t generation_ = 0;
  bool node_sent_ = false;
  uint32_t backoff_attempt_ = 0;
  uv_timer_t reconnect_timer_;
  uv_timer_t fetch_timer_;
  bool stopping_ = false;

  ConfigState state_;
  std::map<ResourceType, std::set<std::string>> subscriptions_;  // non-wildcard types
  std::set<ResourceType> requested_;                             // types requested on this stream
  std::map<ResourceType, std::string> accepted_version_;         // SotW version_info
  std::map<ResourceType, std::string> last_nonce_;
  std::map<std::string, uint64_t> eds_deadlines_;  // name -> loop time by which it must arrive
  std::map<std::string, uint64_t> rds_deadlines_;  // the same for route configurations
  std::map<std::string, uint64_t> sds_deadlines_;  // and for secrets over ADS
  uint64_t cds_deadline_ = UINT64_MAX;             // none: initial_fetch_timeout 0
  bool cds_done_ = false;
  bool lds_started_ = false;
  uint64_t lds_deadline_ = UINT64_MAX;  // set when LDS is first asked for
  bool lds_done_ = false;               // the first listeners arrived, or were given up on
  std::deque<std::shared_ptr<Pending>> queue_;
  bool busy_ = false;

  mutable std::mutex dump_mu_;
  Dump dump_;

  std::atomic<bool> connected_{false};
  std::atomic<bool> initialized_{false};
  std::map<ResourceType, XdsTypeStats> type_stats_;
  std::atomic<uint64_t> streams_total_{0};
  std::atomic<uint64_t> ignored_fields_{0};
  std::vector<std::shared_ptr<stats::Scope>> scopes_;
};

}  // namespace remora::xds
