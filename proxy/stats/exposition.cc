// Text renderings of the stats store.
#include "proxy/stats/exposition.h"

#include <algorithm>
#include <map>
#include <vector>
#include "proxy/common/strings.h"

namespace remora::stats {

std::string sanitizeMetricName(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 1);
  if (!name.empty() && name[0] >= '0' && name[0] <= '9') out.push_back('_');
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == ':';
    out.push_back(ok ? c : '_');
  }
  return out;
}

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string renderText(Store& store) {
  std::vector<std::pair<std::string, int64_t>> lines;
  store.forEach([&](const Scope& scope) {
    scope.visit(
        [&](const StatValue& v) { lines.emplace_back(cat(scope.prefix(), v.name), v.value); });
  });
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& [name, value] : lines) append(&out, name, ": ", value, "\n");
  return out;
}

std::string renderPrometheus(Store& store) {
  struct Family {
    Kind kind;
    std::string help;
    std::vector<std::pair<std::string, int64_t>> samples;  // label set text, value
  };
  std::map<std::string, Family> families;
  store.forEach([&](const Scope& scope) {
    std::string labels;
    for (const auto& [k, v] : scope.labels()) {
      append(&labels, labels.empty() ? "" : ",", sanitizeMetricName(k), "=\"", escapeLabelValue(v),
             "\"");
    }
    if (!labels.empty()) labels = cat("{", labels, "}");
    scope.visit([&](const StatValue& v) {
      // Istio's standard metrics keep their own names (istio_requests_total).
      std::string name = sanitizeMetricName(scope.promFamily().starts_with("istio_")
                                                ? cat(scope.promFamily(), "_", v.name)
                                                : cat("envoy_", scope.promFamily(), "_", v.name));
      auto& fam = families[name];
      if (fam.samples.empty()) {
        fam.kind = v.kind;
        fam.help = std::string(v.help);
      }
      fam.samples.emplace_back(labels, v.value);
    });
  });
  std::string out;
  for (auto& [name, fam] : families) {
    std::sort(fam.samples.begin(), fam.samples.end());
    append(&out, "# HELP ", name, " ", fam.help, "\n# TYPE ", name, " ",
           fam.kind == Kind::Counter ? "counter" : "gauge", "\n");
    for (const auto& [labels, value] : fam.samples) {
      append(&out, name, labels, " ", value, "\n");
    }
  }
  return out;
}

}  // namespace remora::stats
