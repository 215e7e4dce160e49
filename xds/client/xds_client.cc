// ADS client state machine.
#include "xds/client/xds_client.h"

#include <grpcpp/grpcpp.h>
#include <sys/time.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <random>

#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "xds/common/grpc_cq.h"

namespace remora::xds {
namespace {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

constexpr uint64_t kBackoffBaseMs = 500;
constexpr uint64_t kBackoffMaxMs = 30'000;

// The order in which types are subscribed and, within one response batch, applied.
constexpr ResourceType kOrder[] = {ResourceType::Cluster, ResourceType::ClusterLoadAssignment,
                                   ResourceType::Listener, ResourceType::RouteConfiguration,
                                   ResourceType::Secret};

}  // namespace

// One response (or a local change) waiting to be applied.
struct XdsClient::Pending {
  uint64_t generation = 0;
  ResourceType type = ResourceType::Cluster;
  bool local = false;  // a local change (endpoints or routes timed out): no ACK
  DiscoveryResponse sotw;
  DeltaDiscoveryResponse delta;
  bool is_delta = false;
  std::vector<std::string> absent;  // local: endpoint, route or secret names that timed out
  std::vector<config::SecretConfig> secrets;  // local: from the identity provider
};

// --- Stream: one gRPC call, SotW or Delta ---
//
// Driven from the client's completion queue (see xds/common/grpc_cq.h): the queue's thread runs
// the completions, which hand responses to the client's loop. Reads form one chain (start,
// initial metadata, then one read after another); any failure in it ends the call with
// Finish(). Requests are queued and written one at a time. The call is done when Finish() has
// completed and no operation is outstanding; then nothing refers to the stream any more.

class XdsClient::Stream {
 public:
  Stream(XdsClient& client, uint64_t gen, bool delta)
      : client_(client),
        gen_(gen),
        delta_(delta),
        start_tag_([this](bool ok) { onStarted(ok); }),
        meta_tag_([this](bool ok) { onMetadata(ok); }),
        read_tag_([this](bool ok) { onRead(ok); }),
        write_tag_([this](bool ok) { onWritten(ok); }),
        finish_tag_([this](bool ok) { onFinished(ok); }) {}

  void start(envoy::service::discovery::v3::AggregatedDiscoveryService::Stub* stub,
             grpc::CompletionQueue* cq, std::shared_ptr<Stream> self) {
    std::lock_guard<std::mutex> lock(mu_);
    self_ = std::move(self);
    context_.set_wait_for_ready(false);
    if (delta_) {
      delta_rw_ = stub->PrepareAsyncDeltaAggregatedResources(&context_, cq);
      delta_rw_->StartCall(&start_tag_);
    } else {
      sotw_rw_ = stub->PrepareAsyncStreamAggregatedResources(&context_, cq);
      sotw_rw_->StartCall(&start_tag_);
    }
    ++outstanding_;
  }

  // From the client's loop. Requests are queued and written one at a time.
  void write(DiscoveryRequest req) {
    std::lock_guard<std::mutex> lock(mu_);
    if (finishing_) return;
    sotw_queue_.push_back(std::move(req));
    writeNextLocked();
  }
  void write(DeltaDiscoveryRequest req) {
    std::lock_guard<std::mutex> lock(mu_);
    if (finishing_) return;
    delta_queue_.push_back(std::move(req));
    writeNextLocked();
  }
  void cancel() { context_.TryCancel(); }
  // After cancel(): waits until gRPC is done with this call (so that nothing calls back into
  // a client that is going away).
  bool waitDone(int timeout_ms) {
    std::unique_lock<std::mutex> lock(mu_);
    return done_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return done_; });
  }

 private:
  void writeNextLocked() {
    if (!started_ || writing_ || finishing_) return;
    if (delta_ && !delta_queue_.empty()) {
      delta_rw_->Write(delta_queue_.front(), &write_tag_);
    } else if (!delta_ && !sotw_queue_.empty()) {
      sotw_rw_->Write(sotw_queue_.front(), &write_tag_);
    } else {
      return;
    }
    writing_ = true;
    ++outstanding_;
  }

  void readLocked() {
    if (delta_) {
      delta_rw_->Read(&delta_resp_, &read_tag_);
    } else {
      sotw_rw_->Read(&sotw_resp_, &read_tag_);
    }
    ++outstanding_;
  }

  // The read chain failed: collect the call's status.
  void finishLocked() {
    if (finishing_) return;
    finishing_ = true;
    if (delta_) {
      delta_rw_->Finish(&status_, &finish_tag_);
    } else {
      sotw_rw_->Finish(&status_, &finish_tag_);
    }
    ++outstanding_;
  }

  void onStarted(bool ok) {
    std::unique_lock<std::mutex> lock(mu_);
    --outstanding_;
    if (!ok) {
      finishLocked();
      return;
    }
    started_ = true;
    if (delta_) {
      delta_rw_->ReadInitialMetadata(&meta_tag_);
    } else {
      sotw_rw_->ReadInitialMetadata(&meta_tag_);
    }
    ++outstanding_;
    writeNextLocked();
  }

  void onMetadata(bool ok) {
    std::unique_lock<std::mutex> lock(mu_);
    --outstanding_;
    if (!ok) {
      finishLocked();
      return;
    }
    uint64_t gen = gen_;
    XdsClient* c = &client_;
    client_.loop_.post([c, gen] { c->onStreamReady(gen); });
    readLocked();
  }

  void onRead(bool ok) {
    std::unique_lock<std::mutex> lock(mu_);
    --outstanding_;
    if (!ok) {
      finishLocked();
      return;
    }
    auto p = std::make_shared<Pending>();
    p->generation = gen_;
    if (delta_) {
      p->is_delta = true;
      p->delta = std::move(delta_resp_);
      delta_resp_.Clear();
    } else {
      p->sotw = std::move(sotw_resp_);
      sotw_resp_.Clear();
    }
    XdsClient* c = &client_;
    uint64_t gen = gen_;
    client_.loop_.post([c, gen, p] { c->onResponse(gen, p); });
    readLocked();
  }

  void onWritten(bool ok) {
    std::unique_lock<std::mutex> lock(mu_);
    --outstanding_;
    writing_ = false;
    if (delta_) {
      delta_queue_.pop_front();
    } else {
      sotw_queue_.pop_front();
    }
    // A failed write means the call is over; the read chain sees it too and finishes.
    if (ok) writeNextLocked();
    maybeDone(lock);
  }

  void onFinished(bool) {
    std::unique_lock<std::mutex> lock(mu_);
    --outstanding_;
    finished_ = true;
    maybeDone(lock);
  }

  void maybeDone(std::unique_lock<std::mutex>& lock) {
    if (!finished_ || outstanding_ != 0 || done_) return;
    done_ = true;
    XdsClient* c = &client_;
    uint64_t gen = gen_;
    std::string msg = status_.error_message();
    int code = status_.error_code();
    client_.loop_.post([c, gen, code, msg] {
      if (gen != c->generation_) return;
      // A stream that never got going: say how it connected and what usually goes wrong.
      std::string hint =
          code == grpc::StatusCode::UNAVAILABLE && !c->connected_
              ? certs::connectHint(c->ads_.tls,
                                   "ssl_credentials, or the xDS cluster's transport_socket")
              : "";
      REMORA_LOG(Warn,
                 "xds stream to %s ended: %s%s (code %d); serving the last good configuration",
                 c->ads_.target, msg.empty() ? std::string("closed") : msg, hint, code);
      c->connected_ = false;
      c->stream_.reset();
      c->scheduleReconnect();
    });
    done_cv_.notify_all();
    std::shared_ptr<Stream> self = std::move(self_);
    lock.unlock();
    self.reset();  // may free this
  }

  XdsClient& client_;
  uint64_t gen_;
  bool delta_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<DiscoveryRequest, DiscoveryResponse>> sotw_rw_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<DeltaDiscoveryRequest, DeltaDiscoveryResponse>>
      delta_rw_;
  CqTag start_tag_, meta_tag_, read_tag_, write_tag_, finish_tag_;
  DiscoveryResponse sotw_resp_;
  DeltaDiscoveryResponse delta_resp_;
  grpc::Status status_;
  std::mutex mu_;
  std::condition_variable done_cv_;
  std::deque<DiscoveryRequest> sotw_queue_;
  std::deque<DeltaDiscoveryRequest> delta_queue_;
  int outstanding_ = 0;  // operations handed to gRPC and not completed
  bool started_ = false;
  bool writing_ = false;
  bool finishing_ = false;
  bool finished_ = false;
  bool done_ = false;
  std::shared_ptr<Stream> self_;
};

// --- XdsClient ---

XdsClient::XdsClient(AdsConfig ads, envoy::config::core::v3::Node node,
                     config::ProxyConfig static_config, event::EventLoop& main_loop, ApplyFn apply,
                     stats::Store& store)
    : ads_(std::move(ads)),
      node_(std::move(node)),
      main_loop_(main_loop),
      apply_(std::move(apply)),
      loop_("xds"),
      state_(std::move(static_config)) {
  uv_timer_init(loop_.uv(), &reconnect_timer_);
  uv_timer_init(loop_.uv(), &fetch_timer_);
  reconnect_timer_.data = fetch_timer_.data = this;
  for (ResourceType t : kOrder) type_stats_[t];
  auto typeScope = [&](ResourceType t, const char* prefix) {
    XdsTypeStats* s = &type_stats_[t];
    auto scope = std::make_shared<stats::CallbackScope>(
        prefix, std::string(prefix).substr(0, std::string(prefix).size() - 1),
        [this, s](const stats::StatVisitor& v) {
          v({"update_attempt", stats::Kind::Counter, "Responses received",
             static_cast<int64_t>(s->update_attempt.load())});
          v({"update_success", stats::Kind::Counter, "Responses accepted (ACKed)",
             static_cast<int64_t>(s->update_success.load())});
          v({"update_rejected", stats::Kind::Counter, "Responses rejected (NACKed)",
             static_cast<int64_t>(s->update_rejected.load())});
          uint64_t t_ms = s->update_time_ms.load();
          v({"update_time", stats::Kind::Gauge,
             "Wall-clock time of the last accepted update (ms since the epoch)",
             static_cast<int64_t>(t_ms)});
          v({"update_age_seconds", stats::Kind::Gauge,
             "Seconds since the last accepted update (-1: none yet)",
             t_ms == 0 ? -1 : static_cast<int64_t>((wallMs() - t_ms) / 1000)});
        });
    // Prometheus family names: dots become underscores ("cluster_manager.cds" -> ...).
    store.add(scope);
    scopes_.push_back(scope);
  };
  typeScope(ResourceType::Cluster, "cluster_manager.cds.");
  typeScope(ResourceType::ClusterLoadAssignment, "cluster_manager.eds.");
  typeScope(ResourceType::Listener, "listener_manager.lds.");
  // Envoy counts RDS per manager and route configuration (http.<prefix>.rds.<name>.); one
  // scope for the type matches the others and is what a dashboard of ACK/NACKs needs.
  typeScope(ResourceType::RouteConfiguration, "rds.");
  typeScope(ResourceType::Secret, "sds.");
  auto cp = std::make_shared<stats::CallbackScope>(
      "control_plane.", "control_plane", [this](const stats::StatVisitor& v) {
        v({"connected_state", stats::Kind::Gauge, "1 while the ADS stream is up",
           connected_.load() ? 1 : 0});
        v({"streams_total", stats::Kind::Counter, "ADS streams started",
           static_cast<int64_t>(streams_total_.load())});
        v({"ignored_fields", stats::Kind::Counter,
           "Observability-only fields in accepted resources that remora ignores",
           static_cast<int64_t>(ignored_fields_.load())});
      });
  store.add(cp);
  scopes_.push_back(cp);
}

XdsClient::~XdsClient() { stop(); }

uint64_t XdsClient::wallMs() const {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<uint64_t>(tv.tv_sec) * 1000 + static_cast<uint64_t>(tv.tv_usec) / 1000;
}

void XdsClient::start() {
  cq_ = std::make_unique<CqThread>(std::make_unique<grpc::CompletionQueue>(), "xds-grpc");
  publishDump();
  thread_ = std::thread([this] {
    log::setThreadName("xds");
    loop_.run();
    loop_.close();
  });
  loop_.post([this] {
    // initial_fetch_timeout 0: wait for ever.
    if (ads_.cds_fetch_timeout.count() > 0)
      cds_deadline_ = loop_.now() + static_cast<uint64_t>(ads_.cds_fetch_timeout.count());
    if (!ads_.cds) cds_done_ = true;
    connect();
    armFetchTimer();
  });
}

void XdsClient::stop() {
  if (!thread_.joinable()) return;
  std::shared_ptr<Stream> last;
  loop_.post([this, &last] {
    stopping_ = true;
    last = stream_;
    if (stream_) stream_->cancel();
    uv_close(reinterpret_cast<uv_handle_t*>(&reconnect_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&fetch_timer_), nullptr);
    loop_.shutdown();
  });
  thread_.join();
  stream_.reset();
  // gRPC finishes the cancelled call on its own threads; its last callback refers to us.
  if (last && !last->waitDone(5000)) REMORA_LOG(Warn, "xds: the stream did not finish in time");
  cq_->shutdown();
}

bool XdsClient::makeChannel() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 64 << 20);
  // Never plaintext when TLS was asked for: without credentials there is no channel, and
  // the next attempt tries again (a root file may reappear).
  auto creds = certs::channelCredentials(ads_.tls, &args);
  if (!creds.ok()) {
    REMORA_LOG(Error, "xds: TLS to %s: %s; not connecting", ads_.target, creds.status().message());
    return false;
  }
  channel_ = grpc::CreateCustomChannel(ads_.target, *creds, args);
  stub_ = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(channel_);
  return true;
}

void XdsClient::connect() {
  if (stopping_) return;
  if (!channel_ && !makeChannel()) {
    scheduleReconnect();
    return;
  }
  ++generation_;
  ++streams_total_;
  node_sent_ = false;
  requested_.clear();
  last_nonce_.clear();
  REMORA_LOG(Info, "xds: connecting to %s (%s, %s)", ads_.target,
             ads_.delta ? "incremental" : "state of the world", ads_.tls.describe());
  stream_ = std::make_shared<Stream>(*this, generation_, ads_.delta);
  stream_->start(stub_.get(), cq_->cq(), stream_);
  // Subscribe in make-before-break order: CDS, then EDS (for known clusters), then LDS, then
  // RDS (for known listeners).
  if (ads_.cds) subscribe(ResourceType::Cluster, {});
  updateEdsSubscription();
  updateSdsSubscription();
  if (cds_done_) maybeStartLds();
  updateRdsSubscription();
}

void XdsClient::onStreamReady(uint64_t gen) {
  if (gen != generation_) return;
  connected_ = true;
}

void XdsClient::scheduleReconnect() {
  if (stopping_) return;
  uint64_t cap =
      std::min<uint64_t>(kBackoffMaxMs, kBackoffBaseMs << std::min<uint32_t>(backoff_attempt_, 10));
  ++backoff_attempt_;
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t delay = std::uniform_int_distribution<uint64_t>(0, cap)(rng);  // full jitter
  REMORA_LOG(Info, "xds: reconnecting in %dms", delay);
  uv_timer_start(
      &reconnect_timer_, [](uv_timer_t* t) { static_cast<XdsClient*>(t->data)->connect(); }, delay,
      0);
}

void XdsClient::subscribe(ResourceType type, std::set<std::string> names) {
  bool changed = subscriptions_[type] != names || requested_.count(type) == 0;
  std::set<std::string> old = std::move(subscriptions_[type]);
  subscriptions_[type] = std::move(names);
  if (!changed || !stream_) return;
  if (ads_.delta && requested_.count(type) != 0) {
    DeltaDiscoveryRequest req;
    req.set_type_url(std::string(typeUrl(type)));
    for (const auto& n : subscriptions_[type]) {
      if (old.count(n) == 0) req.add_resource_names_subscribe(n);
    }
    for (const auto& n : old) {
      if (subscriptions_[type].count(n) == 0) req.add_resource_names_unsubscribe(n);
    }
    if (!ads_.set_node_on_first_message_only) *req.mutable_node() = node_;
    stream_->write(std::move(req));
    return;
  }
  sendRequest(type, last_nonce_[type], absl::OkStatus());
}

void XdsClient::sendRequest(ResourceType type, const std::string& nonce,
                            const absl::Status& error) {
  if (!stream_) return;
  bool first = requested_.insert(type).second;
  bool with_node = !node_sent_ || !ads_.set_node_on_first_message_only;
  node_sent_ = true;
  if (ads_.delta) {
    DeltaDiscoveryRequest req;
    req.set_type_url(std::string(typeUrl(type)));
    if (with_node) *req.mutable_node() = node_;
    if (first) {
      // A new stream: say what we have (resumption) and what we want.
      for (const auto& [name, version] : state_.versions(type))
        (*req.mutable_initial_resource_versions())[name] = version;
      for (const auto& n : subscriptions_[type]) req.add_resource_names_subscribe(n);
    }
    if (!nonce.empty()) req.set_response_nonce(nonce);
    if (!error.ok()) {
      req.mutable_error_detail()->set_code(static_cast<int>(error.code()));
      req.mutable_error_detail()->set_message(std::string(error.message()));
    }
    stream_->write(std::move(req));
    return;
  }
  DiscoveryRequest req;
  req.set_type_url(std::string(typeUrl(type)));
  if (with_node) *req.mutable_node() = node_;
  req.set_version_info(accepted_version_[type]);
  for (const auto& n : subscriptions_[type]) req.add_resource_names(n);
  if (!nonce.empty()) req.set_response_nonce(nonce);
  if (!error.ok()) {
    req.mutable_error_detail()->set_code(static_cast<int>(error.code()));
    req.mutable_error_detail()->set_message(std::string(error.message()));
  }
  stream_->write(std::move(req));
}

void XdsClient::updateEdsSubscription() {
  FetchTimeouts timeouts = state_.edsFetchTimeouts();
  std::set<std::string> names;
  for (const auto& [n, timeout] : timeouts) {
    names.insert(n);
    if (timeout.count() > 0 && subscriptions_[ResourceType::ClusterLoadAssignment].count(n) == 0 &&
        state_.resources(ResourceType::ClusterLoadAssignment).count(n) == 0) {
      eds_deadlines_[n] = loop_.now() + static_cast<uint64_t>(timeout.count());
    }
  }
  for (auto it = eds_deadlines_.begin(); it != eds_deadlines_.end();) {
    it = names.count(it->first) == 0 ? eds_deadlines_.erase(it) : std::next(it);
  }
  if (!names.empty() || subscriptions_.count(ResourceType::ClusterLoadAssignment) != 0) {
    subscribe(ResourceType::ClusterLoadAssignment, names);
  }
  armFetchTimer();
}

void XdsClient::setLocalSecrets(std::vector<config::SecretConfig> secrets) {
  loop_.post([this, secrets = std::move(secrets)]() mutable {
    auto p = std::make_shared<Pending>();
    p->local = true;
    p->type = ResourceType::Secret;
    p->secrets = std::move(secrets);
    queue_.push_back(std::move(p));
    processNext();
  });
}

void XdsClient::updateSdsSubscription() {
  // Secrets named with sds_config.ads, fetched as they are needed (not a wildcard type).
  FetchTimeouts timeouts = state_.sdsFetchTimeouts();
  std::set<std::string> names;
  for (const auto& [n, timeout] : timeouts) names.insert(n);
  // Arrived, given up on or no longer needed: no deadline. Newly needed: its initial fetch
  // starts now.
  std::set<std::string> pending = state_.pendingSecrets();
  for (auto it = sds_deadlines_.begin(); it != sds_deadlines_.end();) {
    it = pending.count(it->first) == 0 ? sds_deadlines_.erase(it) : std::next(it);
  }
  auto subscribed = subscriptions_.find(ResourceType::Secret);
  for (const auto& n : pending) {
    auto timeout = timeouts.at(n);
    if (timeout.count() > 0 &&
        (subscribed == subscriptions_.end() || subscribed->second.count(n) == 0)) {
      sds_deadlines_[n] = loop_.now() + static_cast<uint64_t>(timeout.count());
    }
  }
  if (!names.empty() || subscribed != subscriptions_.end()) {
    subscribe(ResourceType::Secret, names);
  }
  armFetchTimer();
}

void XdsClient::updateRdsSubscription() {
  // Arrived (or said by the server not to exist, or no longer needed): no deadline.
  std::set<std::string> pending = state_.pendingRoutes();
  for (auto it = rds_deadlines_.begin(); it != rds_deadlines_.end();) {
    it = pending.count(it->first) == 0 ? rds_deadlines_.erase(it) : std::next(it);
  }
  // Route configurations come after the listeners that name them: with LDS once it has been
  // asked for on this stream; for static listeners only, once the clusters are warm.
  bool listeners_known = ads_.lds ? requested_.count(ResourceType::Listener) != 0
                                  : cds_done_ && state_.warmingClusters().empty();
  if (!listeners_known) {
    armFetchTimer();
    return;
  }
  FetchTimeouts timeouts = state_.rdsFetchTimeouts();
  std::set<std::string> names;
  for (const auto& [n, timeout] : timeouts) names.insert(n);
  auto subscribed = subscriptions_.find(ResourceType::RouteConfiguration);
  for (const auto& n : pending) {
    // Newly needed: its initial fetch starts now.
    auto timeout = timeouts.at(n);
    if (timeout.count() > 0 &&
        (subscribed == subscriptions_.end() || subscribed->second.count(n) == 0)) {
      rds_deadlines_[n] = loop_.now() + static_cast<uint64_t>(timeout.count());
    }
  }
  if (!names.empty() || subscribed != subscriptions_.end()) {
    subscribe(ResourceType::RouteConfiguration, names);
  }
  armFetchTimer();
}

void XdsClient::maybeStartLds() {
  if (!ads_.lds || !stream_ || requested_.count(ResourceType::Listener) != 0) return;
  // Listeners come after the clusters they use have warmed (or timed out).
  if (!cds_done_ || !state_.warmingClusters().empty()) return;
  lds_started_ = true;
  if (!lds_done_ && lds_deadline_ == UINT64_MAX && ads_.lds_fetch_timeout.count() > 0)
    lds_deadline_ = loop_.now() + static_cast<uint64_t>(ads_.lds_fetch_timeout.count());
  subscribe(ResourceType::Listener, {});
}

void XdsClient::armFetchTimer() {
  uint64_t next = UINT64_MAX;
  if (!cds_done_) next = cds_deadline_;
  if (!lds_done_) next = std::min(next, lds_deadline_);
  for (const auto& [name, d] : eds_deadlines_) next = std::min(next, d);
  for (const auto& [name, d] : rds_deadlines_) next = std::min(next, d);
  for (const auto& [name, d] : sds_deadlines_) next = std::min(next, d);
  if (next == UINT64_MAX) {
    uv_timer_stop(&fetch_timer_);
    bool done = cds_done_ && state_.warmingClusters().empty() && (!ads_.lds || lds_started_);
    done = done && (!ads_.lds || lds_done_);
    // Listeners in service with their routes (arrived, or given up on after the timeout).
    done = done && state_.pendingRoutes().empty();
    // And with their secrets (arrived, or given up on: then every handshake fails).
    done = done && state_.pendingSecrets().empty();
    // Once ready, a later warming resource does not make the proxy unready (as in Envoy).
    if (done) initialized_ = true;
    return;
  }
  uint64_t now = loop_.now();
  uv_timer_start(&fetch_timer_, &XdsClient::onFetchTimer, next > now ? next - now : 0, 0);
}

void XdsClient::onFetchTimer(uv_timer_t* t) {
  auto* self = static_cast<XdsClient*>(t->data);
  uint64_t now = self->loop_.now();
  if (!self->cds_done_ && now >= self->cds_deadline_) {
    REMORA_LOG(Warn, "xds: no clusters within initial_fetch_timeout; going on without them");
    self->cds_done_ = true;
  }
  if (!self->lds_done_ && now >= self->lds_deadline_) {
    REMORA_LOG(Warn, "xds: no listeners within initial_fetch_timeout; going on without them");
    self->lds_done_ = true;
  }
  std::vector<std::string> expired;
  for (const auto& [name, d] : self->eds_deadlines_) {
    if (d <= now) expired.push_back(name);
  }
  std::vector<std::string> expired_routes;
  for (const auto& [name, d] : self->rds_deadlines_) {
    if (d <= now) expired_routes.push_back(name);
  }
  std::vector<std::string> expired_secrets;
  for (const auto& [name, d] : self->sds_deadlines_) {
    if (d <= now) expired_secrets.push_back(name);
  }
  if (!expired_secrets.empty()) {
    for (const auto& n : expired_secrets) {
      self->sds_deadlines_.erase(n);
      REMORA_LOG(Warn,
                 "xds: secret '%s' did not arrive within initial_fetch_timeout; what uses it "
                 "serves and refuses every TLS handshake until it does",
                 n);
    }
    auto p = std::make_shared<Pending>();
    p->local = true;
    p->generation = self->generation_;
    p->type = ResourceType::Secret;
    p->absent = expired_secrets;
    self->queue_.push_back(p);
    self->processNext();
  }
  if (!expired_routes.empty()) {
    for (const auto& n : expired_routes) {
      self->rds_deadlines_.erase(n);
      REMORA_LOG(Warn,
                 "xds: route configuration '%s' did not arrive within initial_fetch_timeout; its "
                 "listeners answer 404 (NR) until it does",
                 n);
    }
    auto p = std::make_shared<Pending>();
    p->local = true;
    p->generation = self->generation_;
    p->type = ResourceType::RouteConfiguration;
    p->absent = expired_routes;
    self->queue_.push_back(p);
    self->processNext();
  }
  if (!expired.empty()) {
    for (const auto& n : expired) {
      self->eds_deadlines_.erase(n);
      REMORA_LOG(
          Warn,
          "xds: endpoints '%s' did not arrive within initial_fetch_timeout; the cluster has none",
          n);
    }
    auto p = std::make_shared<Pending>();
    p->local = true;
    p->generation = self->generation_;
    p->type = ResourceType::ClusterLoadAssignment;
    p->absent = expired;
    self->queue_.push_back(p);
    self->processNext();
  }
  self->maybeStartLds();
  self->updateRdsSubscription();
  self->armFetchTimer();
}

void XdsClient::onResponse(uint64_t gen, std::shared_ptr<Pending> p) {
  if (gen != generation_) return;
  backoff_attempt_ = 0;
  connected_ = true;
  const std::string& url = p->is_delta ? p->delta.type_url() : p->sotw.type_url();
  auto type = parseTypeUrl(url);
  if (!type || (*type != ResourceType::Cluster && *type != ResourceType::Listener &&
                *type != ResourceType::ClusterLoadAssignment &&
                *type != ResourceType::RouteConfiguration && *type != ResourceType::Secret)) {
    REMORA_LOG(Warn, "xds: response of unsupported type '%s' rejected", url);
    // NACK it on its own type so that the server knows.
    if (stream_) {
      if (ads_.delta) {
        DeltaDiscoveryRequest req;
        req.set_type_url(url);
        req.set_response_nonce(p->delta.nonce());
        req.mutable_error_detail()->set_code(3);
        req.mutable_error_detail()->set_message(cat("type ", url, " is not supported by remora"));
        stream_->write(std::move(req));
      } else {
        DiscoveryRequest req;
        req.set_type_url(url);
        req.set_response_nonce(p->sotw.nonce());
        req.mutable_error_detail()->set_code(3);
        req.mutable_error_detail()->set_message(cat("type ", url, " is not supported by remora"));
        stream_->write(std::move(req));
      }
    }
    return;
  }
  p->type = *type;
  queue_.push_back(std::move(p));
  processNext();
}

void XdsClient::processNext() {
  if (busy_ || queue_.empty()) return;
  std::shared_ptr<Pending> p = queue_.front();
  queue_.pop_front();
  if (!p->local && p->generation != generation_) {
    processNext();
    return;
  }
  ConfigState next = state_;
  TranslateNotes notes;
  absl::Status st;
  uint64_t now = wallMs();
  if (p->local) {
    for (const auto& sec : p->secrets) next.setLocalSecret(sec);
    for (const auto& n : p->absent) {
      if (p->type == ResourceType::RouteConfiguration) {
        next.markRouteAbsent(n);
      } else if (p->type == ResourceType::Secret) {
        next.markSecretAbsent(n);
      } else {
        next.markAbsent(n);
      }
    }
  } else {
    type_stats_[p->type].update_attempt++;
    if (p->is_delta) {
      st =
          next.applyDelta(p->type, p->delta.resources(), p->delta.removed_resources(), now, &notes);
    } else {
      st = next.applySotw(p->type, p->sotw.version_info(), p->sotw.resources(), now, &notes);
    }
    if (st.ok() && p->type == ResourceType::Cluster) next.pruneEndpoints();
  }
  if (!st.ok()) {
    onApplied(p, std::move(next), {}, st);
    return;
  }
  for (const auto& f : notes.ignored)
    REMORA_LOG(Debug, "xds: ignoring %s (no effect in remora)", f);
  ignored_fields_ += notes.ignored.size();
  config::ProxyConfig cfg = next.assemble();
  REMORA_LOG(Debug, "xds: %s translated and assembled", shortName(p->type));
  busy_ = true;
  auto shared_next = std::make_shared<ConfigState>(std::move(next));
  auto shared_cfg = std::make_shared<config::ProxyConfig>(std::move(cfg));
  main_loop_.post([this, p, shared_next, shared_cfg] {
    absl::Status result = apply_(*shared_cfg);
    REMORA_LOG(Debug, "xds: %s applied", shortName(p->type));
    loop_.post([this, p, shared_next, shared_cfg, result] {
      busy_ = false;
      onApplied(p, std::move(*shared_next), std::move(*shared_cfg), result);
      processNext();
    });
  });
}

void XdsClient::onApplied(std::shared_ptr<Pending> p, ConfigState next, config::ProxyConfig cfg,
                          absl::Status status) {
  ResourceType type = p->type;
  const std::string& nonce = p->is_delta ? p->delta.nonce() : p->sotw.nonce();
  if (!status.ok()) {
    if (p->local) {
      REMORA_LOG(Error, "xds: could not apply a local change: %s", status.message());
      return;
    }
    type_stats_[type].update_rejected++;
    {
      std::lock_guard<std::mutex> lock(dump_mu_);
      dump_.last_error[type] = std::string(status.message());
    }
    REMORA_LOG(Warn, "xds: rejected %s (nonce %s): %s; the previous configuration stays",
               shortName(type), nonce, status.message());
    if (p->generation == generation_) sendRequest(type, nonce, status);
    return;
  }
  state_ = std::move(next);
  state_.commitActive(cfg);
  if (!p->local) {
    type_stats_[type].update_success++;
    type_stats_[type].update_time_ms = wallMs();
    accepted_version_[type] = p->is_delta ? p->delta.system_version_info() : p->sotw.version_info();
    last_nonce_[type] = nonce;
    if (type == ResourceType::ClusterLoadAssignment) {
      for (const auto& any : p->sotw.resources()) {
        envoy::config::endpoint::v3::ClusterLoadAssignment cla;
        if (any.UnpackTo(&cla)) eds_deadlines_.erase(cla.cluster_name());
      }
      for (const auto& r : p->delta.resources()) eds_deadlines_.erase(r.name());
    }
    if (type == ResourceType::Cluster) cds_done_ = true;
    if (type == ResourceType::Listener) lds_done_ = true;
    if (p->generation == generation_) sendRequest(type, nonce, absl::OkStatus());  // ACK
  }
  // The listeners in force may have changed (a warm version replaced the old one): drop the
  // route configurations nothing uses any more, and ask for the ones now needed.
  state_.pruneRoutes();
  state_.pruneSecrets();
  if (type == ResourceType::Cluster) updateEdsSubscription();
  updateSdsSubscription();  // also ends the deadlines of secrets that arrived
  maybeStartLds();
  updateRdsSubscription();
  publishDump();
  armFetchTimer();
}

void XdsClient::publishDump() {
  Dump d;
  for (ResourceType t : kOrder) d.resources[t] = state_.resources(t);
  d.versions = accepted_version_;
  d.warming_clusters = state_.warmingClusters();
  d.warming_listeners = state_.warmingListeners();
  d.active_listeners = state_.activeListenerResources();
  std::lock_guard<std::mutex> lock(dump_mu_);
  d.last_error = std::move(dump_.last_error);
  dump_ = std::move(d);
}

XdsClient::Dump XdsClient::dump() const {
  std::lock_guard<std::mutex> lock(dump_mu_);
  return dump_;
}

}  // namespace remora::xds
