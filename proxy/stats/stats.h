// Counters and gauges with one writer per shard (each worker owns a shard, so an increment is
// a plain load/add/store, no lock and no locked instruction) and readers that sum the shards.
//
// A group of stats is declared once with an X-macro, e.g.
//   #define REMORA_TCP_PROXY_STATS(COUNTER, GAUGE) COUNTER(downstream_cx_total, "help") ...
//   REMORA_STATS_STRUCT(TcpProxyStats, REMORA_TCP_PROXY_STATS);
// which yields a struct of Counter/Gauge members and a visitor over (name, kind, help, value).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <typeindex>
#include <utility>
#include <vector>

namespace remora::stats {

enum class Kind { Counter, Gauge };

class Counter {
 public:
  // Single writer: only the shard's owning thread calls inc().
  void inc(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void add(int64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(int64_t n = 1) { add(-n); }
  void set(int64_t n) { v_.store(n, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// One stat as a reader sees it (summed over shards).
struct StatValue {
  std::string_view name;
  Kind kind;
  std::string_view help;
  int64_t value;
};
using StatVisitor = std::function<void(const StatValue&)>;

#define REMORA_STAT_COUNTER_FIELD(name, help) ::remora::stats::Counter name;
#define REMORA_STAT_GAUGE_FIELD(name, help) ::remora::stats::Gauge name;
#define REMORA_STAT_VISIT_COUNTER(name, help)                                        \
  {                                                                                  \
    uint64_t sum = 0;                                                                \
    for (size_t i = 0; i < n; ++i) sum += get(i).name.value();                       \
    visit({#name, ::remora::stats::Kind::Counter, help, static_cast<int64_t>(sum)}); \
  }
#define REMORA_STAT_VISIT_GAUGE(name, help)                    \
  {                                                            \
    int64_t sum = 0;                                           \
    for (size_t i = 0; i < n; ++i) sum += get(i).name.value(); \
    visit({#name, ::remora::stats::Kind::Gauge, help, sum});   \
  }
#define REMORA_STATS_STRUCT(Type, LIST)                                                       \
  struct Type {                                                                               \
    LIST(REMORA_STAT_COUNTER_FIELD, REMORA_STAT_GAUGE_FIELD)                                  \
    template <typename Get>                                                                   \
    static void visitShards(size_t n, Get&& get, const ::remora::stats::StatVisitor& visit) { \
      LIST(REMORA_STAT_VISIT_COUNTER, REMORA_STAT_VISIT_GAUGE)                                \
    }                                                                                         \
  }

// A named group of stats: "listener.0.0.0.0_15001." with Prometheus family "listener" and
// label envoy_listener_address="0.0.0.0_15001", as Envoy names them.
class Scope {
 public:
  Scope(std::string prefix, std::string prom_family,
        std::vector<std::pair<std::string, std::string>> labels)
      : prefix_(std::move(prefix)),
        prom_family_(std::move(prom_family)),
        labels_(std::move(labels)) {}
  virtual ~Scope() = default;

  // Envoy's dotted prefix, including the trailing dot ("cluster.foo.").
  const std::string& prefix() const { return prefix_; }
  // Prometheus name part after "envoy_" ("cluster" -> envoy_cluster_upstream_cx_total).
  const std::string& promFamily() const { return prom_family_; }
  const std::vector<std::pair<std::string, std::string>>& labels() const { return labels_; }

  virtual void visit(const StatVisitor& visitor) const = 0;

 private:
  std::string prefix_;
  std::string prom_family_;
  std::vector<std::pair<std::string, std::string>> labels_;
};

// A Scope with one copy of T per worker, each on its own cache lines.
template <typename T>
class ShardedScope : public Scope {
 public:
  ShardedScope(size_t shards, std::string prefix, std::string prom_family,
               std::vector<std::pair<std::string, std::string>> labels)
      : Scope(std::move(prefix), std::move(prom_family), std::move(labels)),
        n_(shards),
        shards_(new Padded[shards]) {}

  T& shard(size_t i) { return shards_[i].v; }
  const T& shard(size_t i) const { return shards_[i].v; }
  size_t shards() const { return n_; }

  void visit(const StatVisitor& visitor) const override {
    T::visitShards(
        n_, [this](size_t i) -> const T& { return shards_[i].v; }, visitor);
  }

 private:
  struct alignas(64) Padded {
    T v;
  };
  size_t n_;
  std::unique_ptr<Padded[]> shards_;
};

// A Scope whose values are computed when read (server.uptime, memory, ...).
class CallbackScope : public Scope {
 public:
  CallbackScope(std::string prefix, std::string prom_family,
                std::function<void(const StatVisitor&)> fn,
                std::vector<std::pair<std::string, std::string>> labels = {})
      : Scope(std::move(prefix), std::move(prom_family), std::move(labels)), fn_(std::move(fn)) {}
  void visit(const StatVisitor& visitor) const override { fn_(visitor); }

 private:
  std::function<void(const StatVisitor&)> fn_;
};

// Every live scope, for /stats and /stats/prometheus. Scopes are held weakly: a scope goes
// away with the last listener, cluster or connection that uses it.
class Store {
 public:
  void add(const std::shared_ptr<Scope>& scope);

  // The live ShardedScope<T> with this prefix, or a new one. Configuration updates call this
  // so that a listener or cluster keeps its counters across versions. Scopes of different
  // types may share a prefix (RBAC's enforced and shadow counters both live in "...rbac.").
  template <typename T>
  std::shared_ptr<ShardedScope<T>> shardedScope(
      size_t shards, const std::string& prefix, const std::string& prom_family,
      std::vector<std::pair<std::string, std::string>> labels) {
    std::lock_guard<std::mutex> lock(mu_);
    ScopeKey key{prefix, std::type_index(typeid(T))};
    auto it = by_prefix_.find(key);
    if (it != by_prefix_.end()) {
      if (auto existing = std::dynamic_pointer_cast<ShardedScope<T>>(it->second.lock())) {
        return existing;
      }
    }
    auto scope = std::make_shared<ShardedScope<T>>(shards, prefix, prom_family, std::move(labels));
    scopes_.push_back(scope);
    by_prefix_[key] = scope;
    return scope;
  }
  // Visits live scopes in the order they were added; drops expired ones.
  void forEach(const std::function<void(const Scope&)>& fn);

 private:
  std::mutex mu_;
  using ScopeKey = std::pair<std::string, std::type_index>;
  std::vector<std::weak_ptr<Scope>> scopes_;
  std::map<ScopeKey, std::weak_ptr<Scope>> by_prefix_;
};

}  // namespace remora::stats
