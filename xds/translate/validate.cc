// Validation without serving.
#include "xds/translate/validate.h"

#include "envoy/config/bootstrap/v3/bootstrap.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "proxy/common/strings.h"
#include "proxy/http/route_table.h"
#include "proxy/server/listener.h"
#include "xds/common/load.h"
#include "xds/translate/bootstrap.h"
#include "xds/translate/http.h"
#include "xds/translate/translate.h"

namespace remora::xds {
namespace {

// Builds the listener as the server would (filter factories, chain overlap checks).
absl::Status buildListener(const config::ListenerConfig& lc,
                           const server::NetworkFilterRegistry& filters) {
  stats::Store store;
  auto l = server::Listener::create(lc, filters, store, 1);
  if (!l.ok())
    return absl::InvalidArgumentError(
        cat(resourceLabel("listener", lc.name), ": ", l.status().message()));
  return absl::OkStatus();
}

ValidationLine checkAny(const google::protobuf::Any& any,
                        const server::NetworkFilterRegistry& filters) {
  ValidationLine line;
  TranslateNotes notes;
  absl::Status st;
  if (any.Is<envoy::config::cluster::v3::Cluster>()) {
    envoy::config::cluster::v3::Cluster c;
    any.UnpackTo(&c);
    line.resource = resourceLabel("cluster", c.name());
    st = translateCluster(c, &notes).status();
  } else if (any.Is<envoy::config::listener::v3::Listener>()) {
    envoy::config::listener::v3::Listener l;
    any.UnpackTo(&l);
    line.resource = resourceLabel("listener", l.name());
    auto lc = translateListener(l, &notes);
    st = lc.ok() ? buildListener(*lc, filters) : lc.status();
  } else if (any.Is<envoy::config::endpoint::v3::ClusterLoadAssignment>()) {
    envoy::config::endpoint::v3::ClusterLoadAssignment cla;
    any.UnpackTo(&cla);
    line.resource = resourceLabel("cluster_load_assignment", cla.cluster_name());
    st = translateLoadAssignment(cla, line.resource, &notes).status();
  } else if (any.Is<envoy::config::route::v3::RouteConfiguration>()) {
    envoy::config::route::v3::RouteConfiguration rc;
    any.UnpackTo(&rc);
    line.resource = resourceLabel("route_configuration", rc.name());
    auto table = translateRouteConfiguration(rc, line.resource, &notes);
    st = table.status();
    if (table.ok()) {
      // Build it as a worker would (regexes compiled once more, domains indexed).
      if (auto rt = http::RouteTable::create(*table); !rt.ok()) {
        st = absl::InvalidArgumentError(cat(line.resource, ": ", rt.status().message()));
      }
    }
  } else {
    line.resource = any.type_url();
    st = absl::InvalidArgumentError(
        cat(any.type_url(), ": not a resource type remora implements yet"));
  }
  line.ok = st.ok();
  line.message = std::string(st.message());
  line.ignored = notes.ignored;
  return line;
}

}  // namespace

bool ValidationReport::ok() const {
  for (const auto& l : lines) {
    if (!l.ok) return false;
  }
  return !lines.empty();
}

std::string ValidationReport::text() const {
  std::string out;
  size_t bad = 0;
  for (const auto& l : lines) {
    if (l.ok) {
      append(&out, "ACCEPT ", l.resource, "\n");
    } else {
      ++bad;
      append(&out, "REJECT ", l.resource, ": ", l.message, "\n");
    }
    for (const auto& f : l.ignored) append(&out, "       ignored (no effect in remora): ", f, "\n");
  }
  append(&out, lines.size() - bad, " accepted, ", bad, " rejected\n");
  return out;
}

ValidationReport validateBootstrap(const std::string& text,
                                   const server::NetworkFilterRegistry& filters) {
  ValidationReport report;
  envoy::config::bootstrap::v3::Bootstrap b;
  if (auto st = parseMessage(text, &b); !st.ok()) {
    report.lines.push_back({false, "bootstrap", std::string(st.message()), {}});
    return report;
  }
  TranslateNotes notes;
  auto bc = translateBootstrap(b, &notes);
  if (!bc.ok()) {
    report.lines.push_back({false, "bootstrap", std::string(bc.status().message()), notes.ignored});
    return report;
  }
  for (const auto& lc : bc->static_config.listeners) {
    auto st = buildListener(lc, filters);
    report.lines.push_back(
        {st.ok(), resourceLabel("listener", lc.name), std::string(st.message()), {}});
  }
  for (const auto& cc : bc->static_config.clusters)
    report.lines.push_back({true, resourceLabel("cluster", cc.name), "", {}});
  std::string what = bc->ads ? cat("bootstrap (ADS ", bc->ads->delta ? "DELTA_GRPC" : "GRPC",
                                   " to ", bc->ads->target, ")")
                             : std::string("bootstrap (static only)");
  report.lines.insert(report.lines.begin(), {true, what, "", notes.ignored});
  return report;
}

ValidationReport validateResources(const std::string& text,
                                   const server::NetworkFilterRegistry& filters) {
  ValidationReport report;
  auto docs = documentsAsJson(text);
  if (!docs.ok()) {
    report.lines.push_back({false, "input", std::string(docs.status().message()), {}});
    return report;
  }
  for (size_t i = 0; i < docs->size(); ++i) {
    const std::string& json = (*docs)[i];
    google::protobuf::Any any;
    absl::Status st = parseJson(json, &any);
    envoy::service::discovery::v3::DiscoveryResponse resp;
    if (st.ok() && any.Is<decltype(resp)>()) {
      any.UnpackTo(&resp);
    } else if (!st.ok() && parseJson(json, &resp).ok() && resp.resources_size() > 0) {
      st = absl::OkStatus();  // a DiscoveryResponse without "@type"
    } else if (st.ok()) {
      report.lines.push_back(checkAny(any, filters));
      continue;
    }
    if (!st.ok()) {
      report.lines.push_back({false, cat("document ", i + 1), std::string(st.message()), {}});
      continue;
    }
    for (const auto& r : resp.resources()) {
      if (!resp.type_url().empty() && r.type_url() != resp.type_url()) {
        report.lines.push_back(
            {false, r.type_url(), cat("in a response of type ", resp.type_url()), {}});
        continue;
      }
      report.lines.push_back(checkAny(r, filters));
    }
  }
  return report;
}

}  // namespace remora::xds
