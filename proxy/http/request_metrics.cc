// istio_requests_total series, made on first use.
#include "proxy/http/request_metrics.h"

#include "proxy/common/strings.h"
#include "proxy/http/filter.h"

namespace remora::http {

void RequestMetrics::record(size_t worker, const net::TlsInfo* tls, uint32_t code, uint32_t flags,
                            RequestMetricsCache& cache) {
  uint64_t key = (static_cast<uint64_t>(code) << 32) | flags;
  for (const auto& [k, s] : cache) {
    if (k == key) {
      static_cast<stats::ShardedScope<IstioRequestStats>*>(s)->shard(worker).total.inc();
      return;
    }
  }
  auto* s = series(tls, code, flags);
  cache.emplace_back(key, s);
  s->shard(worker).total.inc();
}

stats::ShardedScope<IstioRequestStats>* RequestMetrics::series(const net::TlsInfo* tls,
                                                               uint32_t code, uint32_t flags) {
  bool mtls = tls != nullptr && tls->peer_certificate_validated;
  std::string source = mtls && !tls->peer_uri_sans.empty() ? tls->peer_uri_sans[0] : "unknown";
  std::string dest =
      tls != nullptr && !tls->local_uri_sans.empty() ? tls->local_uri_sans[0] : "unknown";
  std::string flag_text = responseFlagsString(flags);
  std::string key = cat(source, "|", dest, "|", code, "|", flag_text, "|", mtls);
  std::lock_guard<std::mutex> lock(mu_);
  auto& scope = series_[key];
  if (!scope) {
    scope = store_.shardedScope<IstioRequestStats>(
        workers_,
        cat("istio.", stat_prefix_, ".source_principal=", source, ".destination_principal=", dest,
            ".", mtls ? "mutual_tls" : "none", ".response_code=", code,
            ".response_flags=", flag_text, ".requests_"),
        "istio_requests",  // + "total"
        {{"envoy_http_conn_manager_prefix", stat_prefix_},
         {"source_principal", source},
         {"destination_principal", dest},
         {"connection_security_policy", mtls ? "mutual_tls" : "none"},
         {"request_protocol", "http"},
         {"response_code", cat(code)},
         {"response_flags", flag_text}});
  }
  return scope.get();
}

}  // namespace remora::http
