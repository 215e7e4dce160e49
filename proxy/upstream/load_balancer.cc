// The load balancers. Structure: a PriorityLoadBalancer splits the hosts by priority and source
// (healthy, degraded, all) and picks a priority by Envoy's priority load; a Picker per used
// (priority, source) pair runs the algorithm over that list. Everything is built at
// construction; a pick allocates nothing and takes no lock.
#include "proxy/upstream/load_balancer.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "proxy/common/assert.h"
#include "proxy/common/hash.h"

namespace remora::upstream {

// --- Priority load ---

PriorityLoad computePriorityLoad(const std::vector<PriorityHealth>& priorities,
                                 uint32_t overprovisioning_factor, uint32_t panic_threshold) {
  const size_t n = priorities.size();
  PriorityLoad load{std::vector<uint32_t>(n, 0), std::vector<uint32_t>(n, 0),
                    std::vector<bool>(n, false)};
  if (n == 0) return load;

  // Integer percentages, as Envoy computes them: a level's availability is its share of usable
  // hosts scaled by the overprovisioning factor, capped at 100.
  auto availability = [&](uint32_t part, uint32_t total) -> uint32_t {
    if (total == 0) return 0;
    const uint64_t a = uint64_t{overprovisioning_factor} * part / total;
    return static_cast<uint32_t>(std::min<uint64_t>(100, a));
  };
  std::vector<uint32_t> health(n), degraded(n);
  uint64_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    health[i] = availability(priorities[i].healthy, priorities[i].total);
    degraded[i] = availability(priorities[i].degraded, priorities[i].total);
    sum += health[i] + degraded[i];
  }
  const uint32_t normalized_total = static_cast<uint32_t>(std::min<uint64_t>(100, sum));

  if (normalized_total > 0) {
    // Healthy capacity first, in priority order, then degraded capacity with what is left.
    uint32_t remaining = 100;
    auto distribute = [&](const std::vector<uint32_t>& avail, std::vector<uint32_t>& out) {
      int first = -1;
      for (size_t i = 0; i < n; ++i) {
        if (avail[i] > 0 && first < 0) first = static_cast<int>(i);
        out[i] = std::min(remaining, avail[i] * 100 / normalized_total);
        remaining -= out[i];
      }
      return first;
    };
    const int first_healthy = distribute(health, load.healthy);
    const int first_degraded = distribute(degraded, load.degraded);
    // What is left is rounding: it goes to the first level that has capacity.
    if (remaining > 0) {
      if (first_healthy >= 0) {
        load.healthy[first_healthy] += remaining;
      } else {
        load.degraded[first_degraded] += remaining;
      }
    }
  }

  // Panic thresholds matter only when the levels together cannot take all the load. A level is
  // in panic when its share of usable hosts (without overprovisioning) is below the threshold;
  // 0 disables panic.
  if (normalized_total < 100 && panic_threshold > 0) {
    bool all_in_panic = true;
    for (size_t i = 0; i < n; ++i) {
      const PriorityHealth& p = priorities[i];
      const double usable =
          p.total == 0 ? 0.0 : 100.0 * (p.healthy + p.degraded) / static_cast<double>(p.total);
      load.panic[i] = usable < panic_threshold;
      all_in_panic = all_in_panic && load.panic[i];
    }
    if (all_in_panic) {
      // Total panic: the load follows the number of hosts, whatever their health.
      uint64_t hosts = 0;
      for (const PriorityHealth& p : priorities) hosts += p.total;
      if (hosts > 0) {
        uint32_t assigned = 0;
        int first = -1;
        for (size_t i = 0; i < n; ++i) {
          load.healthy[i] = static_cast<uint32_t>(100 * uint64_t{priorities[i].total} / hosts);
          load.degraded[i] = 0;
          assigned += load.healthy[i];
          if (first < 0 && priorities[i].total > 0) first = static_cast<int>(i);
        }
        load.healthy[first] += 100 - assigned;
      }
    }
  }
  return load;
}

namespace {

using Members = std::vector<uint32_t>;  // indices into the balancer's host vector

// splitmix64: small and fast; each worker's balancer has its own, seeded differently.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); the modulo bias of a 64-bit draw is negligible for host counts.
  uint64_t below(uint64_t n) { return next() % n; }

 private:
  uint64_t state_;
};

bool equalWeights(const HostVector& hosts, const Members& members) {
  for (uint32_t m : members) {
    if (hosts[m]->weight() != hosts[members[0]]->weight()) return false;
  }
  return true;
}

// Runs one algorithm over one host list (one priority's healthy, degraded or all hosts).
class Picker {
 public:
  virtual ~Picker() = default;
  // Returns an index into the balancer's hosts. `key` is the request's hash (hash-based pickers
  // only); `attempt` counts re-picks made to avoid hosts: hash-based pickers must then answer
  // differently for the same key.
  virtual uint32_t pick(uint64_t key, uint32_t attempt) = 0;
};
using PickerPtr = std::unique_ptr<Picker>;
using PickerFactory = std::function<PickerPtr(Members&&)>;

// --- Round robin, random ---

class RotationPicker : public Picker {
 public:
  RotationPicker(Members&& members, uint64_t start)
      : members_(std::move(members)), next_(start % members_.size()) {}
  uint32_t pick(uint64_t, uint32_t) override {
    const uint32_t m = members_[next_];
    next_ = next_ + 1 == members_.size() ? 0 : next_ + 1;
    return m;
  }

 private:
  const Members members_;
  size_t next_;
};

// Earliest deadline first, as Envoy's weighted round robin: each host is due again 1/weight
// after its last pick, so a 1:2:3 cluster is served in a smooth interleaving, not in runs. The
// weight is asked again each time a host is picked, which lets least request's weight follow the
// host's active requests without a rebuild.
class EdfPicker : public Picker {
 public:
  using WeightFn = std::function<double(const Host&)>;
  EdfPicker(const HostVector& hosts, Members&& members, WeightFn weight, uint64_t start)
      : hosts_(hosts), weight_(std::move(weight)) {
    heap_.reserve(members.size());
    uint64_t total_weight = 0;
    for (uint32_t m : members) {
      heap_.push_back({1.0 / weight_(*hosts_[m]), order_++, m});
      total_weight += hosts_[m]->weight();
    }
    std::make_heap(heap_.begin(), heap_.end(), later);
    // Workers start at different points of the cycle so that they do not pick in lockstep.
    const uint64_t skip = start % std::min<uint64_t>(total_weight, 4096);
    for (uint64_t i = 0; i < skip; ++i) next();
  }

  uint32_t pick(uint64_t, uint32_t) override { return next(); }

 private:
  uint32_t next() {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    Entry& e = heap_.back();
    e.deadline += 1.0 / weight_(*hosts_[e.host]);
    e.order = order_++;
    const uint32_t picked = e.host;
    std::push_heap(heap_.begin(), heap_.end(), later);
    return picked;
  }

  struct Entry {
    double deadline;
    uint64_t order;  // equal deadlines: first scheduled, first served
    uint32_t host;
  };
  static bool later(const Entry& a, const Entry& b) {
    return a.deadline != b.deadline ? a.deadline > b.deadline : a.order > b.order;
  }

  const HostVector& hosts_;
  const WeightFn weight_;
  std::vector<Entry> heap_;
  uint64_t order_ = 0;
};

class RandomPicker : public Picker {
 public:
  RandomPicker(Members&& members, Random& random) : members_(std::move(members)), random_(random) {}
  uint32_t pick(uint64_t, uint32_t) override { return members_[random_.below(members_.size())]; }

 private:
  const Members members_;
  Random& random_;
};

// --- Least request ---

// Equal weights: the fewest active requests among `choices` random draws (with replacement, as
// Envoy draws them; a tie keeps the earlier draw).
class ChoicesPicker : public Picker {
 public:
  ChoicesPicker(const HostVector& hosts, Members&& members, uint32_t choices, Random& random)
      : hosts_(hosts),
        members_(std::move(members)),
        choices_(std::max(choices, 1u)),
        random_(random) {}
  uint32_t pick(uint64_t, uint32_t) override {
    uint32_t best = members_[random_.below(members_.size())];
    uint64_t best_active = hosts_[best]->rq_active.load(std::memory_order_relaxed);
    for (uint32_t i = 1; i < choices_; ++i) {
      const uint32_t candidate = members_[random_.below(members_.size())];
      const uint64_t active = hosts_[candidate]->rq_active.load(std::memory_order_relaxed);
      if (active < best_active) {
        best = candidate;
        best_active = active;
      }
    }
    return best;
  }

 private:
  const HostVector& hosts_;
  const Members members_;
  const uint32_t choices_;
  Random& random_;
};

// Unequal weights: Envoy's weight / (active + 1)^bias, fed to the EDF scheduler.
EdfPicker::WeightFn leastRequestWeight(double bias) {
  return [bias](const Host& host) {
    const double w = host.weight();
    const double active = static_cast<double>(host.rq_active.load(std::memory_order_relaxed));
    if (bias == 0.0) return w;
    if (bias == 1.0) return w / (active + 1.0);
    return w / std::pow(active + 1.0, bias);
  };
}

// --- Ring hash ---

// Envoy's ketama-style ring: host h gets about scale * weight(h) / total_weight entries, the
// hashes (xxHash64, seed 0) of "<address>_<i>"; scale makes the lightest host's share a whole
// number of at least minimum_ring_size's worth, capped at maximum_ring_size entries in all.
class RingHashPicker : public Picker {
 public:
  RingHashPicker(const HostVector& hosts, const Members& members,
                 const config::RingHashConfig& config) {
    uint64_t total_weight = 0;
    uint32_t min_weight = std::numeric_limits<uint32_t>::max();
    for (uint32_t m : members) {
      total_weight += hosts[m]->weight();
      min_weight = std::min(min_weight, hosts[m]->weight());
    }
    const double min_normalized = static_cast<double>(min_weight) / total_weight;
    double scale = std::min(
        std::ceil(min_normalized * static_cast<double>(config.minimum_ring_size)) / min_normalized,
        static_cast<double>(config.maximum_ring_size));
    scale = std::max(scale, 1.0);  // at least one entry, whatever the configuration
    ring_.reserve(static_cast<size_t>(std::ceil(scale)));

    // Running sums keep the total close to `scale` when shares are not whole numbers.
    double current = 0;
    double target = 0;
    for (uint32_t m : members) {
      const std::string prefix = hosts[m]->address().toString() + "_";
      target += scale * hosts[m]->weight() / static_cast<double>(total_weight);
      for (uint64_t i = 0; current < target; ++i, ++current) {
        ring_.push_back({xxHash64(prefix + std::to_string(i), 0), m});
      }
    }
    std::sort(ring_.begin(), ring_.end(), [](const Entry& a, const Entry& b) {
      return a.hash != b.hash ? a.hash < b.hash : a.host < b.host;
    });
  }

  uint32_t pick(uint64_t key, uint32_t attempt) override {
    // The first entry at or after the key, wrapping past the end.
    auto it = std::lower_bound(ring_.begin(), ring_.end(), key,
                               [](const Entry& e, uint64_t k) { return e.hash < k; });
    const size_t start = it == ring_.end() ? 0 : static_cast<size_t>(it - ring_.begin());
    if (attempt == 0) return ring_[start].host;
    // A re-pick walks on clockwise to the attempt-th host not met before on this walk.
    std::array<uint32_t, 16> seen;
    size_t seen_count = 0;
    seen[seen_count++] = ring_[start].host;
    for (size_t step = 1; step < ring_.size() && seen_count <= attempt; ++step) {
      const uint32_t h = ring_[(start + step) % ring_.size()].host;
      if (std::find(seen.begin(), seen.begin() + seen_count, h) != seen.begin() + seen_count) {
        continue;
      }
      if (seen_count == seen.size()) break;
      seen[seen_count++] = h;
    }
    return seen[seen_count - 1];
  }

 private:
  struct Entry {
    uint64_t hash;
    uint32_t host;
  };
  std::vector<Entry> ring_;
};

// --- Maglev ---

// The Maglev paper's lookup table with Envoy's weighting: each host walks its own permutation of
// the M slots (offset = xxHash64(address, 0) % M, skip = xxHash64(address, 1) % (M - 1) + 1)
// and takes the first free slot on its turn; a host of normalised weight w takes a turn in
// about w / max_w of the rounds.
class MaglevPicker : public Picker {
 public:
  MaglevPicker(const HostVector& hosts, const Members& members, uint64_t table_size)
      : table_size_(std::max<uint64_t>(table_size, 2)),
        table_(table_size_, std::numeric_limits<uint32_t>::max()) {
    struct Build {
      uint32_t host;
      uint64_t position;  // offset + skip * next, mod M
      uint64_t skip;
      double weight;
      double target = 0;
    };
    std::vector<Build> build;
    build.reserve(members.size());
    uint64_t total_weight = 0;
    for (uint32_t m : members) total_weight += hosts[m]->weight();
    double max_weight = 0;
    for (uint32_t m : members) {
      const std::string address = hosts[m]->address().toString();
      const double w = hosts[m]->weight() / static_cast<double>(total_weight);
      max_weight = std::max(max_weight, w);
      build.push_back(
          {m, xxHash64(address, 0) % table_size_, xxHash64(address, 1) % (table_size_ - 1) + 1, w});
    }
    uint64_t filled = 0;
    for (uint64_t round = 1; filled < table_size_; ++round) {
      for (size_t i = 0; i < build.size() && filled < table_size_; ++i) {
        Build& b = build[i];
        // A host of the largest weight takes a turn every round; one of a third of it, every
        // third round.
        if (round * b.weight < b.target) continue;
        b.target += max_weight;
        while (table_[b.position] != std::numeric_limits<uint32_t>::max()) advance(b);
        table_[b.position] = b.host;
        advance(b);
        ++filled;
      }
    }
  }

  uint32_t pick(uint64_t key, uint32_t attempt) override {
    // The same key lands on the same slot: a re-pick rehashes the key.
    if (attempt > 0) {
      key = xxHash64(std::string_view(reinterpret_cast<const char*>(&key), sizeof(key)), attempt);
    }
    return table_[key % table_size_];
  }

 private:
  template <typename B>
  void advance(B& b) {
    b.position += b.skip;
    if (b.position >= table_size_) b.position -= table_size_;
  }

  const uint64_t table_size_;
  std::vector<uint32_t> table_;
};

// --- Priorities, sources and retries ---

class PriorityLoadBalancer : public LoadBalancer {
 public:
  PriorityLoadBalancer(const config::ClusterConfig& config, const HostVector& hosts, uint64_t seed,
                       bool hashed)
      : random_(seed), hashed_(hashed) {
    for (const HostSharedPtr& host : hosts) {
      if (host && host->weight() > 0) hosts_.push_back(host);
    }
    // Levels in priority order; numbers nobody uses take no room (an empty level would take no
    // load either).
    std::vector<uint32_t> priorities;
    for (const HostSharedPtr& host : hosts_) priorities.push_back(host->priority());
    std::sort(priorities.begin(), priorities.end());
    priorities.erase(std::unique(priorities.begin(), priorities.end()), priorities.end());
    members_.resize(priorities.size());
    std::vector<PriorityHealth> health(priorities.size());
    for (uint32_t i = 0; i < hosts_.size(); ++i) {
      const Host& host = *hosts_[i];
      const size_t level_index =
          std::lower_bound(priorities.begin(), priorities.end(), host.priority()) -
          priorities.begin();
      Level& level = members_[level_index];
      PriorityHealth& h = health[level_index];
      ++h.total;
      level.all.push_back(i);
      if (host.degraded()) {
        ++h.degraded;
        level.degraded.push_back(i);
      } else if (host.healthy()) {
        ++h.healthy;
        level.healthy.push_back(i);
      }
    }
    load_ =
        computePriorityLoad(health, config.overprovisioning_factor, config.healthy_panic_threshold);
  }

  HostSharedPtr chooseHost(const LbContext& ctx) override {
    if (choices_.empty()) return nullptr;
    const uint64_t key = hashed_ ? (ctx.hash ? *ctx.hash : random_.next()) : 0;
    const uint32_t attempts = std::max(ctx.selection_attempts, 1u);
    uint32_t picked = 0;
    for (uint32_t attempt = 0; attempt < attempts; ++attempt) {
      // Hash-based balancers choose the priority from the key too, so a key stays put.
      const uint64_t roll = hashed_ ? key % 100 : random_.below(100);
      Picker* picker = choices_.back().picker;
      for (const Choice& c : choices_) {
        if (roll < c.upper) {
          picker = c.picker;
          break;
        }
      }
      picked = picker->pick(key, attempt);
      if (!avoided(ctx, hosts_[picked].get())) break;
    }
    return hosts_[picked];
  }

 protected:
  // Builds a picker for each (priority, source) that some load goes to. Called by the concrete
  // balancer's constructor, once its own state exists.
  void buildPickers(const PickerFactory& factory) {
    uint32_t upper = 0;
    auto add = [&](uint32_t share, Members& members, PickerPtr& slot) {
      if (share == 0) return;
      RELEASE_ASSERT(!members.empty(), "priority load given to an empty host list");
      if (!slot) slot = factory(Members(members));
      upper += share;
      choices_.push_back({upper, slot.get()});
    };
    for (size_t i = 0; i < members_.size(); ++i) {
      Level& level = members_[i];
      add(load_.healthy[i], load_.panic[i] ? level.all : level.healthy,
          load_.panic[i] ? level.all_picker : level.healthy_picker);
    }
    for (size_t i = 0; i < members_.size(); ++i) {
      Level& level = members_[i];
      add(load_.degraded[i], load_.panic[i] ? level.all : level.degraded,
          load_.panic[i] ? level.all_picker : level.degraded_picker);
    }
  }

  // Index of `host` in hosts_, for latency feedback; -1 if it is not (any longer) a member.
  int64_t indexOf(const Host& host) const {
    auto it = index_.find(&host);
    return it == index_.end() ? -1 : it->second;
  }
  void buildIndex() {
    for (uint32_t i = 0; i < hosts_.size(); ++i) index_[hosts_[i].get()] = i;
  }

  HostVector hosts_;
  Random random_;

 private:
  struct Level {
    Members healthy, degraded, all;
    PickerPtr healthy_picker, degraded_picker, all_picker;
  };
  struct Choice {
    uint64_t upper;  // the cumulative load up to and including this choice
    Picker* picker;
  };

  static bool avoided(const LbContext& ctx, const Host* host) {
    return ctx.avoid != nullptr &&
           std::find(ctx.avoid->begin(), ctx.avoid->end(), host) != ctx.avoid->end();
  }

  const bool hashed_;
  std::vector<Level> members_;
  PriorityLoad load_;
  std::vector<Choice> choices_;
  absl::flat_hash_map<const Host*, uint32_t> index_;
};

class SimpleLoadBalancer : public PriorityLoadBalancer {
 public:
  SimpleLoadBalancer(const config::ClusterConfig& config, const HostVector& hosts, uint64_t seed)
      : PriorityLoadBalancer(config, hosts, seed, isHashed(config.lb_policy)) {
    buildPickers([&](Members&& members) -> PickerPtr {
      switch (config.lb_policy) {
        case config::LbPolicy::LeastRequest:
          if (equalWeights(hosts_, members)) {
            return std::make_unique<ChoicesPicker>(hosts_, std::move(members),
                                                   config.least_request.choice_count, random_);
          }
          return std::make_unique<EdfPicker>(
              hosts_, std::move(members),
              leastRequestWeight(config.least_request.active_request_bias), random_.next());
        case config::LbPolicy::Random:
          return std::make_unique<RandomPicker>(std::move(members), random_);
        case config::LbPolicy::RingHash:
          return std::make_unique<RingHashPicker>(hosts_, members, config.ring_hash);
        case config::LbPolicy::Maglev:
          return std::make_unique<MaglevPicker>(hosts_, members, config.maglev.table_size);
        default:  // RoundRobin; ClusterProvided clusters do not use a balancer.
          if (equalWeights(hosts_, members)) {
            return std::make_unique<RotationPicker>(std::move(members), random_.next());
          }
          return std::make_unique<EdfPicker>(
              hosts_, std::move(members), [](const Host& h) { return double(h.weight()); },
              random_.next());
      }
    });
  }

 private:
  static bool isHashed(config::LbPolicy policy) {
    return policy == config::LbPolicy::RingHash || policy == config::LbPolicy::Maglev;
  }
};

// --- Peak EWMA ---

double toMicros(config::Duration d) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

// Linkerd's balancer: a host's cost is its peak-sensitive moving average of latency times its
// requests in flight from this worker plus one; the cheaper of two random hosts wins.
//  - A sample above the average replaces it at once (a slowdown shows immediately); one below
//    pulls it down with weight 1 - exp(-elapsed / decay_time) (a recovery shows gradually).
//  - Read at pick time, the average also decays toward zero with the same time constant since
//    its last sample, as Linkerd's does: a host that stopped being picked after a peak is tried
//    again eventually instead of never.
//  - A failure counts as a sample of max(latency, average): a host that fails fast must not look
//    fast.
//  - A host without a sample costs default_rtt.
class PeakEwmaLoadBalancer : public PriorityLoadBalancer {
 public:
  PeakEwmaLoadBalancer(const config::ClusterConfig& config, const HostVector& hosts, uint64_t seed,
                       std::function<uint64_t()> now_us)
      : PriorityLoadBalancer(config, hosts, seed, false),
        now_us_(std::move(now_us)),
        decay_us_(std::max(1.0, toMicros(config.peak_ewma.decay_time))),
        default_rtt_us_(toMicros(config.peak_ewma.default_rtt)),
        state_(hosts_.size()) {
    buildIndex();
    buildPickers([this](Members&& members) -> PickerPtr {
      return std::make_unique<TwoChoicesPicker>(*this, std::move(members));
    });
  }

  void onRequestStart(const Host& host) override {
    const int64_t i = indexOf(host);
    if (i >= 0) ++state_[i].pending;
  }

  void onRequestEnd(const Host& host, uint64_t latency_us, bool success) override {
    const int64_t i = indexOf(host);
    if (i < 0) return;  // a request that started before a rebuild
    State& s = state_[i];
    if (s.pending > 0) --s.pending;
    const uint64_t now = now_us_();
    double sample = static_cast<double>(latency_us);
    if (!s.sampled) {
      s.average = sample;
      s.sampled = true;
    } else {
      if (!success) sample = std::max(sample, s.average);
      if (sample > s.average) {
        s.average = sample;
      } else {
        const double w =
            std::exp(-static_cast<double>(now - std::min(now, s.updated_us)) / decay_us_);
        s.average = s.average * w + sample * (1.0 - w);
      }
    }
    s.updated_us = now;
  }

 private:
  struct State {
    double average = 0;  // microseconds
    uint64_t updated_us = 0;
    bool sampled = false;
    uint32_t pending = 0;
  };

  double cost(uint32_t i, uint64_t now) const {
    const State& s = state_[i];
    double latency = default_rtt_us_;
    if (s.sampled) {
      const double elapsed = static_cast<double>(now - std::min(now, s.updated_us));
      latency = s.average * std::exp(-elapsed / decay_us_);
    }
    return latency * (s.pending + 1.0);
  }

  // Two distinct random members; the cheaper wins, a tie goes to the first drawn.
  class TwoChoicesPicker : public Picker {
   public:
    TwoChoicesPicker(PeakEwmaLoadBalancer& lb, Members&& members)
        : lb_(lb), members_(std::move(members)) {}
    uint32_t pick(uint64_t, uint32_t) override {
      const size_t n = members_.size();
      const size_t a = lb_.random_.below(n);
      if (n == 1) return members_[a];
      size_t b = lb_.random_.below(n - 1);
      if (b >= a) ++b;
      const uint64_t now = lb_.now_us_();
      return lb_.cost(members_[b], now) < lb_.cost(members_[a], now) ? members_[b] : members_[a];
    }

   private:
    PeakEwmaLoadBalancer& lb_;
    const Members members_;
  };

  const std::function<uint64_t()> now_us_;
  const double decay_us_;
  const double default_rtt_us_;
  std::vector<State> state_;
};

uint64_t steadyNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::unique_ptr<LoadBalancer> createLoadBalancer(const config::ClusterConfig& config,
                                                 const HostVector& hosts, uint64_t seed,
                                                 std::function<uint64_t()> now_us) {
  if (config.lb_policy == config::LbPolicy::PeakEwma) {
    if (!now_us) now_us = steadyNowUs;
    return std::make_unique<PeakEwmaLoadBalancer>(config, hosts, seed, std::move(now_us));
  }
  return std::make_unique<SimpleLoadBalancer>(config, hosts, seed);
}

}  // namespace remora::upstream
