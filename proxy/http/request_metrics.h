// Istio's standard request metric, istio_requests_total, labelled with the caller's identity:
// source_principal (the peer's SPIFFE ID on an mTLS connection), destination_principal (ours),
// connection_security_policy, response_code and response_flags. One series per label set,
// created the first time that set is seen; a connection remembers the series it used, so a
// request costs one small lookup and one relaxed add, not a map of strings.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "proxy/net/tls_info.h"
#include "proxy/stats/stats.h"

namespace remora::http {

#define REMORA_ISTIO_REQUEST_STATS(COUNTER, GAUGE) \
  COUNTER(total, "Requests completed, by caller identity, response code and flags")

REMORA_STATS_STRUCT(IstioRequestStats, REMORA_ISTIO_REQUEST_STATS);

// What a connection remembers: (response code << 32 | response flags) -> its series.
// (Type-erased: it lives in server::ConnectionInfo, which knows nothing of HTTP.)
using RequestMetricsCache = std::vector<std::pair<uint64_t, void*>>;

class RequestMetrics {
 public:
  RequestMetrics(stats::Store& store, size_t workers, std::string stat_prefix)
      : store_(store), workers_(workers), stat_prefix_(std::move(stat_prefix)) {}

  void record(size_t worker, const net::TlsInfo* tls, uint32_t code, uint32_t flags,
              RequestMetricsCache& cache);

 private:
  stats::ShardedScope<IstioRequestStats>* series(const net::TlsInfo* tls, uint32_t code,
                                                 uint32_t flags);

  stats::Store& store_;
  size_t workers_;
  std::string stat_prefix_;
  std::mutex mu_;  // only when a label set is new
  absl::flat_hash_map<std::string, std::shared_ptr<stats::ShardedScope<IstioRequestStats>>> series_;
};

}  // namespace remora::http
