// An upstream host (one endpoint of a cluster), shared by every worker. Its identity is its
// address: a cluster update that keeps the address keeps the Host object, and with it the
// host's health, ejection state and counters. Health flags and counters are atomics written
// by whichever thread learns something (health checker, outlier detector on the main thread,
// workers for request counts) and read by every worker's load balancer.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "proxy/net/address.h"

namespace remora::upstream {

class Host {
 public:
  enum Flag : uint32_t {
    kFailedActiveHealthCheck = 1 << 0,   // the active health checker says unhealthy
    kFailedOutlierCheck = 1 << 1,        // ejected by outlier detection
    kPendingActiveHealthCheck = 1 << 2,  // not checked yet (counts as unhealthy when HC is on)
    kDegradedEds = 1 << 3,               // EDS health_status DEGRADED
  };

  Host(net::Address address, uint32_t weight, uint32_t priority, bool degraded)
      : address_(address), weight_(weight), priority_(priority) {
    if (degraded) flags_.fetch_or(kDegradedEds, std::memory_order_relaxed);
  }
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  const net::Address& address() const { return address_; }
  uint32_t weight() const { return weight_.load(std::memory_order_relaxed); }
  uint32_t priority() const { return priority_.load(std::memory_order_relaxed); }
  // Set by the main thread when an update keeps the host with new EDS attributes.
  void setWeight(uint32_t w) { weight_.store(w, std::memory_order_relaxed); }
  void setPriority(uint32_t p) { priority_.store(p, std::memory_order_relaxed); }
  void setDegradedEds(bool d) { d ? setFlag(kDegradedEds) : clearFlag(kDegradedEds); }

  uint32_t flags() const { return flags_.load(std::memory_order_acquire); }
  void setFlag(Flag f) { flags_.fetch_or(f, std::memory_order_acq_rel); }
  void clearFlag(Flag f) { flags_.fetch_and(~static_cast<uint32_t>(f), std::memory_order_acq_rel); }
  // Takes traffic in normal operation: not failed by a health check (or waiting for its first
  // one) and not ejected.
  bool healthy() const {
    return (flags() &
            (kFailedActiveHealthCheck | kFailedOutlierCheck | kPendingActiveHealthCheck)) == 0;
  }
  // Healthy but marked DEGRADED by EDS: used only when the healthy hosts are not enough.
  bool degraded() const { return healthy() && (flags() & kDegradedEds) != 0; }

  // Requests in flight to this host, over all workers (least request, /clusters).
  std::atomic<uint64_t> rq_active{0};
  // Totals for /clusters.
  std::atomic<uint64_t> rq_total{0};
  std::atomic<uint64_t> rq_error{0};
  std::atomic<uint64_t> rq_success{0};
  std::atomic<uint64_t> rq_timeout{0};
  std::atomic<uint64_t> cx_active{0};
  std::atomic<uint64_t> cx_total{0};
  std::atomic<uint64_t> cx_connect_fail{0};

  // Outlier detection, written by workers (OutlierDetector::report), read and reset by the
  // main thread. Consecutive failures of each kind, and this interval's request counts for
  // the success-rate and failure-percentage checks (external and local origin).
  std::atomic<uint32_t> od_consecutive_5xx{0};
  std::atomic<uint32_t> od_consecutive_gateway{0};
  std::atomic<uint32_t> od_consecutive_local{0};
  std::atomic<uint64_t> od_requests{0};
  std::atomic<uint64_t> od_successes{0};
  std::atomic<uint64_t> od_local_requests{0};
  std::atomic<uint64_t> od_local_successes{0};

 private:
  const net::Address address_;
  std::atomic<uint32_t> weight_;
  std::atomic<uint32_t> priority_;
  std::atomic<uint32_t> flags_{0};
};

using HostSharedPtr = std::shared_ptr<Host>;
using HostVector = std::vector<HostSharedPtr>;

}  // namespace remora::upstream
