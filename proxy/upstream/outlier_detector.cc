// Outlier detection: ejection decisions on the main thread from counts the workers keep.
#include "proxy/upstream/outlier_detector.h"

#include <cmath>
#include <vector>

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/upstream/cluster.h"

namespace remora::upstream {

OutlierDetector::OutlierDetector(event::EventLoop& main, stats::Store& store,
                                 const std::string& cluster, std::weak_ptr<ClusterState> state)
    : main_(main),
      state_(std::move(state)),
      stats_(store.shardedScope<OutlierStats>(1, cat("cluster.", cluster, ".outlier_detection."),
                                              "cluster_outlier_detection",
                                              {{"envoy_cluster_name", cluster}})),
      s_(stats_->shard(0)) {
  timer_ = new uv_timer_t;
  uv_timer_init(main_.uv(), timer_);
  timer_->data = this;
}

OutlierDetector::~OutlierDetector() { stop(); }

void OutlierDetector::stop() {
  if (timer_ == nullptr) return;
  for (auto& [p, h] : hosts_) {
    if (h.ejected_until != 0) uneject(h);
  }
  hosts_.clear();
  uv_timer_stop(timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* t) { delete reinterpret_cast<uv_timer_t*>(t); });
  timer_ = nullptr;
}

void OutlierDetector::update(const config::OutlierDetectionConfig& config,
                             const HostVector& hosts) {
  config_ = config;
  consecutive_5xx_ = config.consecutive_5xx;
  consecutive_gateway_ = config.consecutive_gateway_failure;
  consecutive_local_ = config.consecutive_local_origin_failure;
  split_ = config.split_external_local_origin_errors;
  std::map<const Host*, HostState> next;
  for (const auto& h : hosts) {
    auto it = hosts_.find(h.get());
    if (it != hosts_.end()) {
      next.emplace(h.get(), std::move(it->second));
      hosts_.erase(it);
    } else {
      next.emplace(h.get(), HostState{h});
    }
  }
  for (auto& [p, h] : hosts_) {
    if (h.ejected_until != 0) uneject(h);  // gone from the cluster
  }
  hosts_ = std::move(next);
  if (timer_ != nullptr) {
    uint64_t ms = static_cast<uint64_t>(std::max<int64_t>(config_.interval.count(), 1));
    uv_timer_start(
        timer_, [](uv_timer_t* t) { static_cast<OutlierDetector*>(t->data)->onInterval(); }, ms,
        ms);
  }
}

void OutlierDetector::report(Host& host, uint32_t status) {
  auto post = [&](Kind kind) {
    std::weak_ptr<OutlierDetector> self = weak_from_this();
    const Host* h = &host;
    main_.post([self, h, kind] {
      if (auto d = self.lock()) d->onConsecutive(h, kind);
    });
  };
  auto crossed = [](std::atomic<uint32_t>& counter, uint32_t threshold) {
    return threshold > 0 && counter.fetch_add(1, std::memory_order_relaxed) + 1 == threshold;
  };
  bool split = split_.load(std::memory_order_relaxed);
  if (status == 0) {
    // A local-origin failure: counted on its own when split, else as a 503 would be.
    if (split) {
      host.od_local_requests.fetch_add(1, std::memory_order_relaxed);
      if (crossed(host.od_consecutive_local, consecutive_local_.load(std::memory_order_relaxed)))
        post(Kind::ConsecutiveLocal);
      return;
    }
    status = 503;
  } else if (split) {
    // A response came: the connection worked.
    host.od_local_requests.fetch_add(1, std::memory_order_relaxed);
    host.od_local_successes.fetch_add(1, std::memory_order_relaxed);
    host.od_consecutive_local.store(0, std::memory_order_relaxed);
  }
  host.od_requests.fetch_add(1, std::memory_order_relaxed);
  if (status >= 500) {
    if (crossed(host.od_consecutive_5xx, consecutive_5xx_.load(std::memory_order_relaxed)))
      post(Kind::Consecutive5xx);
    if (status == 502 || status == 503 || status == 504) {
      if (crossed(host.od_consecutive_gateway,
                  consecutive_gateway_.load(std::memory_order_relaxed)))
        post(Kind::ConsecutiveGateway);
    } else {
      host.od_consecutive_gateway.store(0, std::memory_order_relaxed);
    }
    return;
  }
  host.od_successes.fetch_add(1, std::memory_order_relaxed);
  host.od_consecutive_5xx.store(0, std::memory_order_relaxed);
  host.od_consecutive_gateway.store(0, std::memory_order_relaxed);
}

void OutlierDetector::onConsecutive(const Host* host, Kind kind) {
  auto it = hosts_.find(host);
  if (it == hosts_.end() || it->second.ejected_until != 0) return;
  HostState& h = it->second;
  switch (kind) {
    case Kind::Consecutive5xx:
      s_.ejections_detected_consecutive_5xx.inc();
      eject(h, config_.enforcing_consecutive_5xx, s_.ejections_enforced_consecutive_5xx);
      break;
    case Kind::ConsecutiveGateway:
      s_.ejections_detected_consecutive_gateway_failure.inc();
      eject(h, config_.enforcing_consecutive_gateway_failure,
            s_.ejections_enforced_consecutive_gateway_failure);
      break;
    case Kind::ConsecutiveLocal:
      s_.ejections_detected_consecutive_local_origin_failure.inc();
      eject(h, config_.enforcing_consecutive_local_origin_failure,
            s_.ejections_enforced_consecutive_local_origin_failure);
      break;
  }
  // Counting starts again (whether it was ejected or not).
  h.host->od_consecutive_5xx.store(0, std::memory_order_relaxed);
  h.host->od_consecutive_gateway.store(0, std::memory_order_relaxed);
  h.host->od_consecutive_local.store(0, std::memory_order_relaxed);
}

bool OutlierDetector::roll(uint32_t percent) {
  if (percent >= 100) return true;
  if (percent == 0) return false;
  return rng_() % 100 < percent;
}

bool OutlierDetector::eject(HostState& h, uint32_t enforcing, stats::Counter& enforced) {
  if (h.ejected_until != 0 || !roll(enforcing)) return false;
  // max_ejection_percent, but one host may always be ejected (Envoy's rule).
  size_t active = 0;
  for (const auto& [p, o] : hosts_) active += o.ejected_until != 0 ? 1 : 0;
  if (active > 0 && (active + 1) * 100 > config_.max_ejection_percent * hosts_.size()) {
    s_.ejections_overflow.inc();
    return false;
  }
  ++h.ejections;
  uint64_t base = static_cast<uint64_t>(config_.base_ejection_time.count());
  uint64_t cap = std::max<uint64_t>(static_cast<uint64_t>(config_.max_ejection_time.count()), base);
  uint64_t ms = std::min<uint64_t>(base * h.ejections, cap);
  uint64_t jitter = static_cast<uint64_t>(config_.max_ejection_time_jitter.count());
  if (jitter > 0) ms += rng_() % (jitter + 1);
  h.ejected_until = main_.now() + std::max<uint64_t>(ms, 1);
  h.host->setFlag(Host::kFailedOutlierCheck);
  s_.ejections_active.add();
  s_.ejections_enforced_total.inc();
  enforced.inc();
  REMORA_LOG(Info, "outlier detection: ejected %s for %d ms (ejection %d)",
             h.host->address().toString(), ms, h.ejections);
  healthChanged();
  return true;
}

void OutlierDetector::uneject(HostState& h) {
  h.ejected_until = 0;
  h.host->clearFlag(Host::kFailedOutlierCheck);
  s_.ejections_active.sub();
  REMORA_LOG(Info, "outlier detection: %s back", h.host->address().toString());
  healthChanged();
}

void OutlierDetector::uneject(const Host* host) {
  auto it = hosts_.find(host);
  if (it != hosts_.end() && it->second.ejected_until != 0) uneject(it->second);
}

void OutlierDetector::healthChanged() {
  if (auto st = state_.lock()) st->health_generation.fetch_add(1, std::memory_order_acq_rel);
}

void OutlierDetector::onInterval() {
  uint64_t now = main_.now();
  for (auto& [p, h] : hosts_) {
    if (h.ejected_until != 0) {
      if (h.ejected_until <= now) uneject(h);
    } else if (h.ejections > 0) {
      --h.ejections;  // a healthy interval lowers the multiplier
    }
  }
  checkSuccessRate(false);
  checkFailurePercentage(false);
  if (config_.split_external_local_origin_errors) {
    checkSuccessRate(true);
    checkFailurePercentage(true);
  }
  for (auto& [p, h] : hosts_) {
    h.host->od_requests.store(0, std::memory_order_relaxed);
    h.host->od_successes.store(0, std::memory_order_relaxed);
    h.host->od_local_requests.store(0, std::memory_order_relaxed);
    h.host->od_local_successes.store(0, std::memory_order_relaxed);
  }
}

namespace {
struct Sample {
  double rate;  // percent of successes
  void* state;
};
}  // namespace

void OutlierDetector::checkSuccessRate(bool local) {
  std::vector<Sample> samples;
  for (auto& [p, h] : hosts_) {
    if (h.ejected_until != 0) continue;
    uint64_t rq = (local ? h.host->od_local_requests : h.host->od_requests).load();
    uint64_t ok = (local ? h.host->od_local_successes : h.host->od_successes).load();
    if (rq == 0 || rq < config_.success_rate_request_volume) {
      if (!local) h.success_rate = -1;
      continue;
    }
    double rate = 100.0 * static_cast<double>(ok) / static_cast<double>(rq);
    if (!local) h.success_rate = rate;
    samples.push_back({rate, &h});
  }
  if (!local) sr_average_ = sr_threshold_ = -1;
  if (samples.empty() || samples.size() < config_.success_rate_minimum_hosts) return;
  double mean = 0;
  for (const auto& s : samples) mean += s.rate;
  mean /= static_cast<double>(samples.size());
  double var = 0;
  for (const auto& s : samples) var += (s.rate - mean) * (s.rate - mean);
  double stdev = std::sqrt(var / static_cast<double>(samples.size()));
  double threshold = mean - stdev * (config_.success_rate_stdev_factor / 1000.0);
  if (!local) {
    sr_average_ = mean;
    sr_threshold_ = threshold;
  }
  for (const auto& s : samples) {
    if (s.rate >= threshold) continue;
    auto& h = *static_cast<HostState*>(s.state);
    if (local) {
      s_.ejections_detected_local_origin_success_rate.inc();
      eject(h, config_.enforcing_local_origin_success_rate,
            s_.ejections_enforced_local_origin_success_rate);
    } else {
      s_.ejections_detected_success_rate.inc();
      eject(h, config_.enforcing_success_rate, s_.ejections_enforced_success_rate);
    }
  }
}

void OutlierDetector::checkFailurePercentage(bool local) {
  std::vector<Sample> samples;
  for (auto& [p, h] : hosts_) {
    if (h.ejected_until != 0) continue;
    uint64_t rq = (local ? h.host->od_local_requests : h.host->od_requests).load();
    uint64_t ok = (local ? h.host->od_local_successes : h.host->od_successes).load();
    if (rq == 0 || rq < config_.failure_percentage_request_volume) continue;
    samples.push_back({100.0 * static_cast<double>(ok) / static_cast<double>(rq), &h});
  }
  if (samples.empty() || samples.size() < config_.failure_percentage_minimum_hosts) return;
  for (const auto& s : samples) {
    if (100.0 - s.rate < config_.failure_percentage_threshold) continue;
    auto& h = *static_cast<HostState*>(s.state);
    if (local) {
      s_.ejections_detected_local_origin_failure_percentage.inc();
      eject(h, config_.enforcing_failure_percentage_local_origin,
            s_.ejections_enforced_local_origin_failure_percentage);
    } else {
      s_.ejections_detected_failure_percentage.inc();
      eject(h, config_.enforcing_failure_percentage, s_.ejections_enforced_failure_percentage);
    }
  }
}

double OutlierDetector::successRate(const Host* host) const {
  auto it = hosts_.find(host);
  return it == hosts_.end() ? -1 : it->second.success_rate;
}

}  // namespace remora::upstream
