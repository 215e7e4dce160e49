// Outlier detection (Envoy's outlier_detection on a cluster): workers report each upstream
// attempt's outcome to the host's counters; crossing a consecutive-failure threshold posts a
// check to the main thread, which decides ejections (enforcing_* percentages,
// max_ejection_percent), and every `interval` unejects hosts whose time is up and runs the
// success-rate and failure-percentage checks. An ejection sets the host's
// kFailedOutlierCheck flag and moves the cluster's health generation, so that every worker's
// balancer sees the same ejections.
#pragma once

#include <uv.h>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "proxy/config/config.h"
#include "proxy/event/event_loop.h"
#include "proxy/stats/stats.h"
#include "proxy/upstream/host.h"

namespace remora::upstream {

struct ClusterState;

#define REMORA_OUTLIER_STATS(COUNTER, GAUGE)                                                       \
  GAUGE(ejections_active, "Hosts ejected now")                                                     \
  COUNTER(ejections_overflow, "Ejections not done: max_ejection_percent")                          \
  COUNTER(ejections_enforced_total, "Ejections done")                                              \
  COUNTER(ejections_detected_consecutive_5xx, "Hosts that reached consecutive_5xx")                \
  COUNTER(ejections_enforced_consecutive_5xx, "Ejections for consecutive 5xx")                     \
  COUNTER(ejections_detected_consecutive_gateway_failure,                                          \
          "Hosts that reached consecutive_gateway_failure")                                        \
  COUNTER(ejections_enforced_consecutive_gateway_failure,                                          \
          "Ejections for consecutive gateway failures")                                            \
  COUNTER(ejections_detected_consecutive_local_origin_failure,                                     \
          "Hosts that reached consecutive_local_origin_failure")                                   \
  COUNTER(ejections_enforced_consecutive_local_origin_failure,                                     \
          "Ejections for consecutive local-origin failures")                                       \
  COUNTER(ejections_detected_success_rate, "Hosts below the success-rate threshold")               \
  COUNTER(ejections_enforced_success_rate, "Ejections for success rate")                           \
  COUNTER(ejections_detected_local_origin_success_rate,                                            \
          "Hosts below the local-origin success-rate threshold")                                   \
  COUNTER(ejections_enforced_local_origin_success_rate, "Ejections for local-origin success rate") \
  COUNTER(ejections_detected_failure_percentage, "Hosts above the failure percentage")             \
  COUNTER(ejections_enforced_failure_percentage, "Ejections for failure percentage")               \
  COUNTER(ejections_detected_local_origin_failure_percentage,                                      \
          "Hosts above the local-origin failure percentage")                                       \
  COUNTER(ejections_enforced_local_origin_failure_percentage,                                      \
          "Ejections for local-origin failure percentage")

REMORA_STATS_STRUCT(OutlierStats, REMORA_OUTLIER_STATS);

class OutlierDetector : public std::enable_shared_from_this<OutlierDetector> {
 public:
  // Main thread. `state` is the cluster's (its health generation moves on every change).
  OutlierDetector(event::EventLoop& main, stats::Store& store, const std::string& cluster,
                  std::weak_ptr<ClusterState> state);
  ~OutlierDetector();
  OutlierDetector(const OutlierDetector&) = delete;
  OutlierDetector& operator=(const OutlierDetector&) = delete;

  // Main thread: the cluster's configuration and hosts now. Hosts that left are forgotten
  // (and lose an ejection).
  void update(const config::OutlierDetectionConfig& config, const HostVector& hosts);
  // Main thread: the cluster state whose health generation ejections move.
  void setState(std::weak_ptr<ClusterState> state) { state_ = std::move(state); }
  // Main thread: the cluster went away or the server stops: unejects and closes the timer.
  void stop();

  // Any worker: an attempt's outcome. `status`: the response status, or 0 when the attempt
  // failed locally (connect failure or timeout, reset, no response before the per-try
  // timeout) — a local-origin failure. `local_success`: the connection to the host worked
  // (only counted when local-origin errors are split).
  void report(Host& host, uint32_t status);
  // Main thread: an active health check passed (successful_active_health_check_uneject_host):
  // the host comes back now if it was ejected.
  void uneject(const Host* host);

  // For /clusters: whether the host is ejected, and its last success rate (-1: unknown).
  double successRate(const Host* host) const;
  double successRateAverage() const { return sr_average_; }
  double successRateThreshold() const { return sr_threshold_; }
  const config::OutlierDetectionConfig& config() const { return config_; }

 private:
  enum class Kind { Consecutive5xx, ConsecutiveGateway, ConsecutiveLocal };
  struct HostState {
    HostSharedPtr host;
    uint32_t ejections = 0;      // the multiplier of base_ejection_time
    uint64_t ejected_until = 0;  // loop time; 0: not ejected
    double success_rate = -1;
  };

  void onConsecutive(const Host* host, Kind kind);
  void onInterval();
  // Ejects unless max_ejection_percent forbids it; `enforcing` is the percentage chance.
  bool eject(HostState& h, uint32_t enforcing, stats::Counter& enforced);
  void uneject(HostState& h);
  void healthChanged();
  bool roll(uint32_t percent);
  void checkSuccessRate(bool local);
  void checkFailurePercentage(bool local);

  event::EventLoop& main_;
  std::weak_ptr<ClusterState> state_;
  std::shared_ptr<stats::ShardedScope<OutlierStats>> stats_;
  OutlierStats& s_;
  config::OutlierDetectionConfig config_;
  // Thresholds workers read (the config object is the main thread's).
  std::atomic<uint32_t> consecutive_5xx_{5};
  std::atomic<uint32_t> consecutive_gateway_{5};
  std::atomic<uint32_t> consecutive_local_{5};
  std::atomic<bool> split_{false};
  std::map<const Host*, HostState> hosts_;
  uv_timer_t* timer_ = nullptr;  // freed by its close callback
  std::mt19937_64 rng_{std::random_device{}()};
  double sr_average_ = -1;
  double sr_threshold_ = -1;
};

}  // namespace remora::upstream
