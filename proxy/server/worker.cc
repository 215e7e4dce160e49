// Worker thread lifecycle and configuration updates.
#include "proxy/server/worker.h"

#include <algorithm>
#include <set>

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/server/listener.h"

namespace remora::server {

Worker::Worker(uint32_t index)
    : index_(index),
      loop_(cat("worker_", index)),
      snapshot_(std::make_shared<Snapshot>()),
      sweep_timer_(loop_.timeouts(), [this] { sweepOriginalDst(); }),
      access_logs_(loop_.timeouts()),
      seed_(0x9e3779b97f4a7c15ULL * (index + 1) ^ reinterpret_cast<uintptr_t>(this)) {
  uv_timer_init(loop_.uv(), &drain_timer_);
  drain_timer_.data = this;
}

Worker::~Worker() {
  if (thread_.joinable()) thread_.join();
}

void Worker::start() {
  started_ = true;
  thread_ = std::thread([this] {
    log::setThreadName(loop_.name());
    loop_.run();
    clean_exit_ = loop_.close();
  });
}

bool Worker::join() {
  // A start-up that failed before the workers ran still has to run their loops once, for the
  // shutdown posted to them: libuv handles must be closed by their loop before it is freed.
  if (!started_) start();
  if (thread_.joinable()) thread_.join();
  return clean_exit_;
}

void Worker::applySnapshot(SnapshotSharedPtr snapshot, SocketChanges changes,
                           config::Duration drain_time) {
  for (const std::string& name : changes.close) {
    auto it = listeners_.find(name);
    if (it == listeners_.end()) continue;
    it->second->close();
    listeners_.erase(it);
  }
  for (auto& [name, fd] : changes.open) {
    auto l = snapshot->listeners.find(name);
    if (l == snapshot->listeners.end()) continue;
    if (auto old = listeners_.find(name); old != listeners_.end()) {
      old->second->close();  // a new address for this listener
      listeners_.erase(old);
    }
    auto* active = new ActiveListener(*this, l->second);
    if (auto status = active->listen(fd); !status.ok()) {
      REMORA_LOG(Error, "listener %s: %s", name, status.ToString());
      active->close();
      continue;
    }
    listeners_[name] = active;
  }
  for (auto& [name, active] : listeners_) {
    auto l = snapshot->listeners.find(name);
    if (l != snapshot->listeners.end()) active->setListener(l->second);
  }
  // Listener versions that the new snapshot does not carry drain.
  // A version replaced by one of its own lineage (only its certificates changed) does not
  // drain: its connections keep their TLS sessions and go on.
  std::set<uint64_t> live;
  for (const auto& [name, l] : snapshot->listeners) live.insert(l->lineage());
  uint64_t deadline = loop_.now() + static_cast<uint64_t>(drain_time.count());
  std::set<const Listener*> retiring;
  for (const auto& [name, l] : snapshot_->listeners) {
    if (live.count(l->lineage()) == 0) {
      retired_.emplace_back(l, deadline);
      retiring.insert(l.get());
    }
  }
  // Sessions of a replaced listener version drain (HTTP says so to its clients).
  if (!retiring.empty()) {
    sessions_.drainIf([&](const Session& s) { return retiring.count(s.listener_.get()) != 0; });
  }
  // Pools of hosts the new snapshot does not carry drain; drained pools without connections go
  // away. A host kept by a cluster update keeps its pools (and their connections).
  std::set<const upstream::Host*> live_hosts;
  for (const auto& [name, c] : snapshot->clusters) {
    for (const auto& h : c->hosts()) live_hosts.insert(h.get());
  }
  for (auto it = pools_.begin(); it != pools_.end();) {
    auto c = snapshot->clusters.find(it->second.cluster);
    bool original_dst = c != snapshot->clusters.end() &&
                        c->second->config().type == config::ClusterConfig::Type::OriginalDst;
    if (c == snapshot->clusters.end() || (!original_dst && live_hosts.count(it->first.host) == 0)) {
      it->second.pool->drain();
      retired_pools_.push_back(std::move(it->second.pool));
      it = pools_.erase(it);
    } else {
      it->second.pool->setCluster(c->second);
      ++it;
    }
  }
  std::erase_if(retired_pools_,
                [](const auto& p) { return p->activeCount() == 0 && p->busyCount() == 0; });
  for (auto it = original_dst_hosts_.begin(); it != original_dst_hosts_.end();) {
    auto c = snapshot->clusters.find(it->first.first);
    bool gone = c == snapshot->clusters.end() ||
                c->second->config().type != config::ClusterConfig::Type::OriginalDst;
    if (gone) {
      original_dst_hosts_.erase(it++);
    } else {
      ++it;
    }
  }
  std::erase_if(balancers_, [&](const auto& e) { return !snapshot->clusters.contains(e.first); });
  snapshot_ = std::move(snapshot);
  armDrainTimer();
}

upstream::LoadBalancer* Worker::loadBalancer(const upstream::ClusterSharedPtr& cluster) {
  if (cluster->config().type == config::ClusterConfig::Type::OriginalDst) return nullptr;
  Balancer& b = balancers_[cluster->name()];
  uint64_t generation = cluster->state().health_generation.load(std::memory_order_acquire);
  if (!b.lb || b.version != cluster.get() || b.generation != generation) {
    b.lb = upstream::createLoadBalancer(cluster->config(), cluster->hosts(), seed_++);
    b.version = cluster.get();
    b.generation = generation;
  }
  return b.lb.get();
}

upstream::HostSharedPtr Worker::chooseHost(const upstream::ClusterSharedPtr& cluster,
                                           const upstream::LbContext& context,
                                           const net::Address* original_dst) {
  if (cluster->config().type == config::ClusterConfig::Type::OriginalDst) {
    if (original_dst == nullptr || !original_dst->valid()) return nullptr;
    net::Address dest =
        cluster->config().original_dst_ip_override
            ? cluster->config().original_dst_ip_override->withPort(original_dst->port())
            : *original_dst;
    auto& h = original_dst_hosts_[{cluster->name(), dest}];
    if (!h) {
      h = std::make_shared<upstream::Host>(dest, 1, 0, false);
      if (!sweep_timer_.enabled()) sweep_timer_.enable(5000);  // Envoy's cleanup_interval
    }
    return h;
  }
  return loadBalancer(cluster)->chooseHost(context);
}

void Worker::sweepOriginalDst() {
  // ORIGINAL_DST hosts without a request in flight go, with their idle connections.
  for (auto it = original_dst_hosts_.begin(); it != original_dst_hosts_.end();) {
    const upstream::Host* h = it->second.get();
    bool busy = false;
    for (auto& [key, entry] : pools_) busy = busy || (key.host == h && entry.pool->busyCount() > 0);
    if (busy) {
      ++it;
      continue;
    }
    for (auto p = pools_.begin(); p != pools_.end();) {
      if (p->first.host == h) {
        p->second.pool->drain();
        retired_pools_.push_back(std::move(p->second.pool));
        p = pools_.erase(p);
      } else {
        ++p;
      }
    }
    original_dst_hosts_.erase(it++);
  }
  std::erase_if(retired_pools_,
                [](const auto& p) { return p->activeCount() == 0 && p->busyCount() == 0; });
  if (!original_dst_hosts_.empty()) sweep_timer_.enable(5000);
}

upstream::ConnPool& Worker::connPool(const upstream::ClusterSharedPtr& cluster,
                                     const upstream::HostSharedPtr& host, bool downstream_h2,
                                     bool high_priority) {
  using P = config::ClusterConfig::Protocol;
  P p = cluster->config().protocol;
  bool h2 = p == P::Http2 || (p == P::UseDownstream && downstream_h2);
  PoolEntry& slot = pools_[PoolKey{host.get(), h2, high_priority}];
  if (!slot.pool) {
    slot.cluster = cluster->name();
    slot.host = host;
    if (h2) {
      slot.pool =
          std::make_unique<upstream::Http2Pool>(loop_, cluster, host, index_, high_priority);
    } else {
      slot.pool =
          std::make_unique<upstream::Http1Pool>(loop_, cluster, host, index_, high_priority);
    }
  }
  return *slot.pool;
}

void Worker::armDrainTimer() {
  if (retired_.empty()) {
    uv_timer_stop(&drain_timer_);
    return;
  }
  uint64_t next = retired_.front().second;
  for (const auto& r : retired_) next = std::min(next, r.second);
  uint64_t now = loop_.now();
  uv_timer_start(&drain_timer_, &Worker::onDrainTimer, next > now ? next - now : 0, 0);
}

void Worker::onDrainTimer(uv_timer_t* timer) {
  auto* self = static_cast<Worker*>(timer->data);
  uint64_t now = self->loop_.now();
  std::set<const Listener*> expired;
  auto& r = self->retired_;
  for (auto it = r.begin(); it != r.end();) {
    if (it->second <= now) {
      expired.insert(it->first.get());
      it = r.erase(it);
    } else {
      ++it;
    }
  }
  if (!expired.empty()) {
    size_t n = self->sessions_.abortIf(
        [&](const Session& s) { return expired.count(s.listener_.get()) != 0; });
    if (n > 0)
      REMORA_LOG(Info, "reset %d connections of replaced listeners after their drain time", n);
  }
  self->armDrainTimer();
}

void Worker::stopListeners(std::function<void()> on_drained) {
  for (auto& [name, l] : listeners_) l->close();
  listeners_.clear();
  on_drained_ = std::move(on_drained);
  sessions_.drainIf([](const Session&) { return true; });
  checkDrained();
}

void Worker::addSession(Session* s, ListenerSharedPtr listener) {
  sessions_.add(s);
  if (listener) listener->stats(index_).downstream_cx_active.add();
  s->listener_ = std::move(listener);
}

void Worker::removeSession(Session* s) {
  sessions_.remove(s);
  if (s->listener_) {
    ListenerStats& st = s->listener_->stats(index_);
    st.downstream_cx_active.sub();
    st.downstream_cx_destroy.inc();
    s->listener_.reset();
  }
  checkDrained();
}

void Worker::checkDrained() {
  if (on_drained_ && sessions_.size() == 0) {
    auto cb = std::move(on_drained_);
    on_drained_ = nullptr;
    cb();
  }
}

void Worker::shutdown() {
  for (auto& [name, l] : listeners_) l->close();
  listeners_.clear();
  on_drained_ = nullptr;
  retired_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer_), nullptr);
  sessions_.abortAll();
  sweep_timer_.disable();
  access_logs_.close();  // the sessions just reset logged their last lines
  for (auto& [k, e] : pools_) e.pool->drain();
  for (auto& p : retired_pools_) p->drain();
  snapshot_ = std::make_shared<Snapshot>();
  loop_.shutdown();
}

}  // namespace remora::server
