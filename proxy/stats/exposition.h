// Renders a stats Store as Envoy's /stats text ("listener.0.0.0.0_15001.downstream_cx_total: 3")
// and as Prometheus text exposition format 0.0.4 with Envoy's metric and label names
// (envoy_listener_downstream_cx_total{envoy_listener_address="0.0.0.0_15001"} 3).
#pragma once

#include <string>
#include <string_view>

#include "proxy/stats/stats.h"

namespace remora::stats {

std::string renderText(Store& store);
std::string renderPrometheus(Store& store);

// Prometheus-safe name: every character outside [a-zA-Z0-9_:] becomes '_'; a leading digit
// gets a '_' in front.
std::string sanitizeMetricName(std::string_view name);
// Escapes backslash, double quote and newline for a label value.
std::string escapeLabelValue(std::string_view value);

}  // namespace remora::stats
