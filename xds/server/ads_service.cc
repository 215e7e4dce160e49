// ADS streams.
#include "xds/server/ads_service.h"

#include <deque>
#include <mutex>
#include <set>

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "xds/common/grpc_cq.h"
#include "xds/common/type_url.h"

namespace remora::xds {
namespace {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;
using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;

// Listener and Cluster requests without names mean "all of them".
bool wildcardType(const std::string& type_url) {
  auto t = parseTypeUrl(type_url);
  return t && isWildcard(*t);
}

// The version a SotW stream has of a type: over all resources for a wildcard subscription,
// over the names asked for otherwise. No names on a non-wildcard type (RDS, EDS: the client
// needs none any more) is a version of its own, not "all of them", so that changes to
// resources nobody asked for push nothing.
std::string sotwVersion(const TypeResources& res, bool wildcard,
                        const std::vector<std::string>& names) {
  if (wildcard) return res.version();
  if (names.empty()) return "none";
  return res.version(names);
}

std::string shortType(const std::string& type_url) {
  auto t = parseTypeUrl(type_url);
  return t ? std::string(shortName(*t)) : type_url;
}

// One ADS call on remora-control's completion queue (see xds/common/grpc_cq.h). A stream object
// first waits for a call; once it has one it puts the next waiter in place. Reads form a chain;
// responses are queued and written one at a time (writes start from the queue's thread on a
// request, or from the reloading thread on a new snapshot). The stream deletes itself when
// Finish() has completed, gRPC has said the call is over, and nothing is outstanding.
template <typename Req, typename Resp>
class StreamBase {
 public:
  virtual ~StreamBase() = default;

 protected:
  using RW = grpc::ServerAsyncReaderWriter<Resp, Req>;

  StreamBase(AdsService::Async& service, grpc::ServerCompletionQueue* cq, SnapshotCache& cache,
             AdsServiceStats& stats)
      : cache_(cache),
        stats_(stats),
        service_(service),
        cq_(cq),
        rw_(&ctx_),
        accept_tag_([this](bool ok) { onAccepted(ok); }),
        read_tag_([this](bool ok) { onRead(ok); }),
        write_tag_([this](bool ok) { onWritten(ok); }),
        finish_tag_([this](bool) { onFinished(); }),
        done_tag_([this](bool) { onCallDone(); }) {}

  // Called by the subclass's constructor: wait for the next call of this kind.
  void await() {
    ctx_.AsyncNotifyWhenDone(&done_tag_);
    requestCall(&ctx_, &rw_, cq_, &accept_tag_);
  }

  virtual void requestCall(grpc::ServerContext* ctx, RW* rw, grpc::ServerCompletionQueue* cq,
                           void* tag) = 0;
  virtual void spawnNext() = 0;                // the waiter for the next call
  virtual void onRequest(const Req& req) = 0;  // mu_ held
  virtual void onSnapshotLocked() = 0;         // mu_ held
  virtual const char* kind() const = 0;

  void enqueue(Resp&& resp) {
    stats_.responses_sent++;
    stats_.response_bytes += resp.ByteSizeLong();
    queue_.push_back(std::move(resp));
  }

  std::string nextNonce() { return cat(++nonce_counter_); }

  SnapshotCache& cache_;
  AdsServiceStats& stats_;
  std::string peer_;
  std::mutex mu_;
  std::string node_id_;
  bool have_node_ = false;

 private:
  void onAccepted(bool ok) {
    if (!ok) {
      // The server is shutting down and no call came: nothing else is outstanding (the done
      // tag only fires for a call that started).
      delete this;
      return;
    }
    spawnNext();
    peer_ = ctx_.peer();
    stats_.streams_active++;
    stats_.streams_total++;
    active_ = true;
    watch_id_ = cache_.watch([this] { onSnapshot(); });
    std::unique_lock<std::mutex> lock(mu_);
    rw_.Read(&req_, &read_tag_);
    ++outstanding_;
  }

  void onRead(bool ok) {
    std::unique_lock<std::mutex> lock(mu_);
    --outstanding_;
    if (!ok) {
      reading_done_ = true;
      maybeFinish();
      maybeDelete(lock);
      return;
    }
    onRequest(req_);
    writeNext();
    rw_.Read(&req_, &read_tag_);
    ++outstanding_;
  }

  void onWritten(bool ok) {
    std::unique_lock<std::mutex> lock(mu_);
    --outstanding_;
    queue_.pop_front();
    writing_ = false;
    if (!ok) {
      broken_ = true;
      queue_.clear();
    }
    writeNext();
    maybeFinish();
    maybeDelete(lock);
  }

  void onFinished() {
    std::unique_lock<std::mutex> lock(mu_);
    --outstanding_;
    finish_done_ = true;
    maybeDelete(lock);
  }

  void onCallDone() {
    std::unique_lock<std::mutex> lock(mu_);
    call_done_ = true;
    maybeDelete(lock);
  }

  void onSnapshot() {
    std::unique_lock<std::mutex> lock(mu_);
    if (reading_done_ || broken_ || finishing_) return;
    onSnapshotLocked();
    writeNext();
  }

  // mu_ held.
  void writeNext() {
    if (writing_ || queue_.empty() || broken_ || finishing_) return;
    writing_ = true;
    rw_.Write(queue_.front(), &write_tag_);
    ++outstanding_;
  }

  // mu_ held. The client is done sending (or the call broke) and nothing is being written.
  void maybeFinish() {
    if ((reading_done_ || broken_) && !writing_ && !finishing_) {
      finishing_ = true;
      rw_.Finish(grpc::Status::OK, &finish_tag_);
      ++outstanding_;
    }
  }

  void maybeDelete(std::unique_lock<std::mutex>& lock) {
    if (!finish_done_ || !call_done_ || outstanding_ != 0) return;
    lock.unlock();
    if (active_) {
      cache_.unwatch(watch_id_);  // after this, no snapshot callback runs or will run
      stats_.streams_active--;
      REMORA_LOG(Info, "xds stream from %s (node '%s', %s) ended", peer_, node_id_, kind());
    }
    delete this;
  }

  AdsService::Async& service_;
  grpc::ServerCompletionQueue* cq_;
  grpc::ServerContext ctx_;
  RW rw_;
  CqTag accept_tag_, read_tag_, write_tag_, finish_tag_, done_tag_;
  Req req_;
  std::deque<Resp> queue_;  // deque: references to queued responses stay valid on push_back
  uint64_t watch_id_ = 0;
  uint64_t nonce_counter_ = 0;
  int outstanding_ = 0;  // reads, writes and Finish handed to gRPC and not completed
  bool active_ = false;
  bool writing_ = false;
  bool reading_done_ = false;
  bool broken_ = false;
  bool finishing_ = false;
  bool finish_done_ = false;
  bool call_done_ = false;

 protected:
  AdsService::Async& service() { return service_; }
  grpc::ServerCompletionQueue* cq() { return cq_; }
};

// --- State of the world ---

class SotwStream final : public StreamBase<DiscoveryRequest, DiscoveryResponse> {
 public:
  SotwStream(AdsService::Async& service, grpc::ServerCompletionQueue* cq, SnapshotCache& cache,
             AdsServiceStats& stats)
      : StreamBase(service, cq, cache, stats) {
    await();
  }

 private:
  void requestCall(grpc::ServerContext* ctx, RW* rw, grpc::ServerCompletionQueue* cq,
                   void* tag) override {
    service().RequestStreamAggregatedResources(ctx, rw, cq, cq, tag);
  }
  void spawnNext() override { new SotwStream(service(), cq(), cache_, stats_); }
  const char* kind() const override { return "state of the world"; }

  struct TypeState {
    bool wildcard = false;
    std::vector<std::string> names;
    std::string sent_version;
    std::string nonce;
  };

  void onRequest(const DiscoveryRequest& req) override {
    if (!have_node_) {
      node_id_ = req.node().id();
      have_node_ = true;
      REMORA_LOG(Info, "xds stream (state of the world) from %s, node '%s'", peer_, node_id_);
    }
    const std::string& type = req.type_url();
    if (type.empty()) return;
    TypeState& ts = types_[type];
    if (!req.response_nonce().empty() && req.response_nonce() != ts.nonce) {
      REMORA_LOG(Debug, "node '%s' %s: stale nonce %s ignored", node_id_, shortType(type),
                 req.response_nonce());
      return;
    }
    if (req.has_error_detail()) {
      stats_.nacks++;
      REMORA_LOG(Warn, "node '%s' rejected %s version %s: %s", node_id_, shortType(type),
                 ts.sent_version, req.error_detail().message());
    } else if (!req.response_nonce().empty()) {
      stats_.acks++;
    }
    std::vector<std::string> names(req.resource_names().begin(), req.resource_names().end());
    bool star = std::find(names.begin(), names.end(), "*") != names.end();
    bool wildcard = star || (names.empty() && wildcardType(type));
    if (star) names.clear();
    bool changed = ts.nonce.empty() || wildcard != ts.wildcard || names != ts.names;
    ts.wildcard = wildcard;
    ts.names = names;
    // A new stream whose client already has our version needs no response.
    if (ts.nonce.empty() && ts.sent_version.empty() && !req.version_info().empty()) {
      if (auto snap = cache_.snapshot(node_id_)) {
        auto it = snap->types.find(type);
        std::string current =
            sotwVersion(it == snap->types.end() ? TypeResources() : it->second, wildcard, names);
        if (current == req.version_info()) {
          ts.sent_version = current;
          return;
        }
      }
    }
    maybeSend(type, ts, changed && !req.has_error_detail());
  }

  void onSnapshotLocked() override {
    for (auto& [type, ts] : types_) maybeSend(type, ts, false);
  }

  void maybeSend(const std::string& type, TypeState& ts, bool force) {
    auto snap = cache_.snapshot(node_id_);
    if (!snap) return;
    static const TypeResources kEmpty;
    auto it = snap->types.find(type);
    const TypeResources& res = it == snap->types.end() ? kEmpty : it->second;
    std::string version = sotwVersion(res, ts.wildcard, ts.names);
    if (version == ts.sent_version && !force) return;
    DiscoveryResponse resp;
    resp.set_version_info(version);
    resp.set_type_url(type);
    ts.nonce = nextNonce();
    resp.set_nonce(ts.nonce);
    if (ts.wildcard) {
      for (const auto& [name, r] : res.items) *resp.add_resources() = *r.resource;
    } else {
      for (const auto& name : ts.names) {
        auto r = res.items.find(name);
        if (r != res.items.end()) *resp.add_resources() = *r->second.resource;
      }
    }
    ts.sent_version = version;
    REMORA_LOG(Debug, "node '%s': %s version %s, %d resources, nonce %s", node_id_, shortType(type),
               version, resp.resources_size(), ts.nonce);
    enqueue(std::move(resp));
  }

  std::map<std::string, TypeState> types_;
};

// --- Incremental ---

class DeltaStream final : public StreamBase<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
 public:
  DeltaStream(AdsService::Async& service, grpc::ServerCompletionQueue* cq, SnapshotCache& cache,
              AdsServiceStats& stats)
      : StreamBase(service, cq, cache, stats) {
    await();
  }

 private:
  void requestCall(grpc::ServerContext* ctx, RW* rw, grpc::ServerCompletionQueue* cq,
                   void* tag) override {
    service().RequestDeltaAggregatedResources(ctx, rw, cq, cq, tag);
  }
  void spawnNext() override { new DeltaStream(service(), cq(), cache_, stats_); }
  const char* kind() const override { return "incremental"; }

  struct TypeState {
    bool started = false;
    bool wildcard = false;
    std::set<std::string> subscribed;
    // What the client has: name -> version; "" when we told it the resource does not exist.
    std::map<std::string, std::string> known;
    std::string nonce;
    bool responded = false;
  };

  void onRequest(const DeltaDiscoveryRequest& req) override {
    if (!have_node_) {
      node_id_ = req.node().id();
      have_node_ = true;
      REMORA_LOG(Info, "xds stream (incremental) from %s, node '%s'", peer_, node_id_);
    }
    const std::string& type = req.type_url();
    if (type.empty()) return;
    TypeState& ts = types_[type];
    if (!ts.started) {
      ts.started = true;
      for (const auto& [name, version] : req.initial_resource_versions()) ts.known[name] = version;
      ts.wildcard = req.resource_names_subscribe().empty() && wildcardType(type);
    }
    bool ack_or_nack = !req.response_nonce().empty();
    if (ack_or_nack && req.response_nonce() == ts.nonce) {
      if (req.has_error_detail()) {
        stats_.nacks++;
        REMORA_LOG(Warn, "node '%s' rejected %s (nonce %s): %s", node_id_, shortType(type),
                   ts.nonce, req.error_detail().message());
      } else {
        stats_.acks++;
      }
    }
    bool interest_changed = false;
    for (const auto& name : req.resource_names_subscribe()) {
      if (name == "*") {
        interest_changed |= !ts.wildcard;
        ts.wildcard = true;
      } else {
        interest_changed |= ts.subscribed.insert(name).second;
      }
    }
    for (const auto& name : req.resource_names_unsubscribe()) {
      if (name == "*") {
        ts.wildcard = false;
      } else {
        ts.subscribed.erase(name);
      }
      ts.known.erase(name);
    }
    if (!ack_or_nack || interest_changed || !ts.responded) respond(type, ts);
  }

  void onSnapshotLocked() override {
    for (auto& [type, ts] : types_) {
      if (ts.started) respond(type, ts);
    }
  }

  void respond(const std::string& type, TypeState& ts) {
    auto snap = cache_.snapshot(node_id_);
    if (!snap) return;
    static const TypeResources kEmpty;
    auto it = snap->types.find(type);
    const TypeResources& res = it == snap->types.end() ? kEmpty : it->second;
    DeltaDiscoveryResponse resp;
    auto consider = [&](const std::string& name) {
      auto r = res.items.find(name);
      auto k = ts.known.find(name);
      if (r == res.items.end()) {
        // Gone, or never there: tell the client once.
        if (k == ts.known.end() || !k->second.empty()) {
          resp.add_removed_resources(name);
          ts.known[name] = "";
        }
        return;
      }
      if (k != ts.known.end() && k->second == r->second.version) return;
      auto* out = resp.add_resources();
      out->set_name(name);
      out->set_version(r->second.version);
      *out->mutable_resource() = *r->second.resource;
      ts.known[name] = r->second.version;
    };
    std::set<std::string> names = ts.subscribed;
    if (ts.wildcard) {
      for (const auto& [name, r] : res.items) names.insert(name);
      for (const auto& [name, v] : ts.known) {
        if (!v.empty()) names.insert(name);  // known to the client: may have been removed
      }
    }
    for (const auto& name : names) consider(name);
    if (resp.resources_size() == 0 && resp.removed_resources_size() == 0 && ts.responded) return;
    resp.set_type_url(type);
    resp.set_system_version_info(res.version());
    ts.nonce = nextNonce();
    resp.set_nonce(ts.nonce);
    ts.responded = true;
    REMORA_LOG(Debug, "node '%s': %s delta, %d changed, %d removed, nonce %s", node_id_,
               shortType(type), resp.resources_size(), resp.removed_resources_size(), ts.nonce);
    enqueue(std::move(resp));
  }

  std::map<std::string, TypeState> types_;
};

}  // namespace

AdsService::AdsService(SnapshotCache& cache) : cache_(cache) {}

AdsService::~AdsService() { shutdown(); }

void AdsService::registerWith(grpc::ServerBuilder& builder) {
  builder.RegisterService(&async_);
  cq_ = builder.AddCompletionQueue();
}

void AdsService::start() {
  grpc::ServerCompletionQueue* cq = cq_.get();
  thread_ = std::make_unique<CqThread>(std::move(cq_), "ads");
  new SotwStream(async_, cq, cache_, stats_);
  new DeltaStream(async_, cq, cache_, stats_);
}

void AdsService::shutdown() {
  if (thread_) thread_->shutdown();  // after the server's Shutdown(): every call is over
}

}  // namespace remora::xds
