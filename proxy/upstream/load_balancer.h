// Choosing the upstream host for a request: Envoy's priority levels, panic threshold and degraded
// hosts, and the balancers ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV plus remora's
// PEAK_EWMA. One balancer per worker, rebuilt when membership or health changes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/upstream/host.h"

namespace remora::upstream {

struct LbContext {
  // RING_HASH / MAGLEV key (the route's hash policy); absent: a random one.
  std::optional<uint64_t> hash;
  // The previous_hosts retry predicate: avoid these if possible.
  const std::vector<const Host*>* avoid = nullptr;
  // host_selection_retry_max_attempts: how many picks may be made to avoid `avoid`.
  uint32_t selection_attempts = 1;
};

class LoadBalancer {
 public:
  virtual ~LoadBalancer() = default;
  // nullptr when the cluster has no host at all, or (Envoy's "no healthy upstream") when no host
  // is healthy or degraded and panic mode is disabled (healthy_panic_threshold 0).
  virtual HostSharedPtr chooseHost(const LbContext& ctx) = 0;
  // Latency feedback, used by peak EWMA (others ignore it): a request to `host` started / ended.
  virtual void onRequestStart(const Host& host) {}
  virtual void onRequestEnd(const Host& host, uint64_t latency_us, bool success) {}
};

using LoadBalancerPtr = std::unique_ptr<LoadBalancer>;

// Built by a worker from the cluster's hosts (all priorities). Health (healthy()/degraded()) and
// weights/priorities are read at construction: the caller rebuilds whenever membership or any
// host's health changes. rq_active is read live at pick time. `seed` differs per worker.
// `now_us` is a monotonic clock in microseconds (default: std::chrono::steady_clock).
//
// Choices where Envoy leaves room (details in load_balancer.cc):
//  - LEAST_REQUEST with unequal weights runs the weighted round robin scheduler and asks a host's
//    weight / (rq_active + 1)^active_request_bias again each time it is picked (Envoy's way).
//  - RING_HASH re-picks (avoid) walk clockwise to the next host not met yet; MAGLEV re-picks
//    look up xxHash64(key, attempt). Hash balancers choose the priority from key % 100.
//  - PEAK_EWMA: power of two distinct random choices; a failure is a sample of
//    max(latency, average); between samples the average read at pick time decays toward zero
//    (Linkerd's), so a host penalised by a peak is eventually tried again. Its state lives in
//    this balancer and starts afresh at each rebuild.
//  - CLUSTER_PROVIDED clusters pick by original destination; given one, this is round robin.
std::unique_ptr<LoadBalancer> createLoadBalancer(const config::ClusterConfig& config,
                                                 const HostVector& hosts, uint64_t seed,
                                                 std::function<uint64_t()> now_us = {});

// --- Priority load (exposed for tests) ---

// Host counts of one priority level.
struct PriorityHealth {
  uint32_t total = 0;
  uint32_t healthy = 0;   // healthy and not degraded
  uint32_t degraded = 0;  // healthy but marked DEGRADED
};

// Envoy's per-priority load: the percentage of picks that goes to each priority's healthy hosts
// and to its degraded hosts (together 100, or all 0 when no host can be used), and whether a
// priority is in panic (its picks go to all of its hosts, whatever their health).
struct PriorityLoad {
  std::vector<uint32_t> healthy;
  std::vector<uint32_t> degraded;
  std::vector<bool> panic;
};

PriorityLoad computePriorityLoad(const std::vector<PriorityHealth>& priorities,
                                 uint32_t overprovisioning_factor, uint32_t panic_threshold);

}  // namespace remora::upstream
