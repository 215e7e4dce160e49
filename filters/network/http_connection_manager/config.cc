// Connection manager factory.
#include "filters/network/http_connection_manager/config.h"

#include "filters/registry.h"
#include "proxy/common/strings.h"
#include "proxy/http/access_log.h"
#include "proxy/http/conn_manager.h"
#include "proxy/http/route_table.h"

namespace remora::filters {

absl::StatusOr<server::NetworkFilterFactorySharedPtr> createHttpConnectionManagerFactory(
    const config::NetworkFilterConfig& config, server::FilterFactoryContext& context) {
  if (!config.http) return absl::InvalidArgumentError("http_connection_manager: no configuration");
  const config::HttpConnectionManagerConfig& c = *config.http;
  auto shared = std::make_shared<http::ConnManagerShared>();
  shared->config = c;
  shared->buffer_limit = context.buffer_limit;
  if (c.route_config) {
    auto table = http::RouteTable::create(*c.route_config);
    if (!table.ok()) {
      return absl::InvalidArgumentError(cat("http_connection_manager '", c.stat_prefix,
                                            "': route_config: ", table.status().message()));
    }
    shared->route_table = *table;
  } else if (c.rds_name.empty()) {
    return absl::InvalidArgumentError(
        cat("http_connection_manager '", c.stat_prefix, "': neither route_config nor rds"));
  }
  const auto registry = httpFilters();
  const HttpFilterContext filter_context{context.stats, context.workers, c};
  for (const auto& f : c.http_filters) {
    auto it = registry.find(f.name);
    if (it == registry.end()) {
      return absl::InvalidArgumentError(
          cat("http_connection_manager '", c.stat_prefix, "': unknown HTTP filter '", f.name, "'"));
    }
    auto factory = it->second(f, filter_context);
    if (!factory.ok()) {
      return absl::InvalidArgumentError(cat("http_connection_manager '", c.stat_prefix,
                                            "': ", f.name, ": ", factory.status().message()));
    }
    shared->filters.push_back(*factory);
  }
  if (shared->filters.empty() || c.http_filters.back().name != "envoy.filters.http.router") {
    return absl::InvalidArgumentError(
        cat("http_connection_manager '", c.stat_prefix, "': the router must be the last filter"));
  }
  for (const auto& log : c.access_logs) {
    auto a = http::AccessLog::create(log, &context.stats);
    if (!a.ok()) {
      return absl::InvalidArgumentError(
          cat("http_connection_manager '", c.stat_prefix, "': ", a.status().message()));
    }
    shared->access_logs_read_response_headers |= (*a)->usesResponseHeaders();
    shared->access_logs.push_back(*a);
  }
  shared->stats = context.stats.shardedScope<http::ConnManagerStats>(
      context.workers, cat("http.", c.stat_prefix, "."), "http",
      {{"envoy_http_conn_manager_prefix", c.stat_prefix}});
  shared->request_metrics =
      std::make_shared<http::RequestMetrics>(context.stats, context.workers, c.stat_prefix);
  return std::make_shared<http::ConnManagerFactory>(std::move(shared));
}

}  // namespace remora::filters
