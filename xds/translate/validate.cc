// Validation without serving.
#include "xds/translate/validate.h"

#include <variant>

#include "envoy/config/bootstrap/v3/bootstrap.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "proxy/common/strings.h"
#include "proxy/config/secrets.h"
#include "proxy/http/route_table.h"
#include "proxy/server/listener.h"
#include "xds/common/load.h"
#include "xds/translate/bootstrap.h"
#include "xds/translate/http.h"
#include "xds/translate/tls.h"
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

// A listener whose TLS names SDS secrets gets them from the Secrets beside it (the same input,
// or the bootstrap's static secrets). A secret that only arrives when the listener is served
// (over ADS, or the local identity's) leaves its chain's TLS context unbuilt here: the rest of
// the listener is checked instead of the whole refused for what nobody could have supplied.
config::ListenerConfig withKnownSecrets(config::ListenerConfig lc,
                                        const std::vector<config::SecretConfig>& secrets) {
  config::SecretLookup find = [&](const std::string& name) -> const config::SecretConfig* {
    for (const auto& s : secrets) {
      if (s.name == name) return &s;
    }
    return nullptr;
  };
  auto fill = [&](config::FilterChainConfig& fc) {
    if (fc.tls && !config::resolveSecrets(fc.tls->common, find)) fc.tls.reset();
  };
  for (auto& fc : lc.filter_chains) fill(fc);
  if (lc.default_filter_chain) fill(*lc.default_filter_chain);
  return lc;
}

ValidationLine checkAny(const google::protobuf::Any& any,
                        const server::NetworkFilterRegistry& filters,
                        const std::vector<config::SecretConfig>& secrets) {
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
    st = lc.ok() ? buildListener(withKnownSecrets(*lc, secrets), filters) : lc.status();
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
  } else if (any.Is<envoy::extensions::transport_sockets::tls::v3::Secret>()) {
    envoy::extensions::transport_sockets::tls::v3::Secret secret;
    any.UnpackTo(&secret);
    line.resource = resourceLabel("secret", secret.name());
    st = translateSecret(secret, line.resource, &notes).status();
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
    auto st = buildListener(withKnownSecrets(lc, bc->static_config.secrets), filters);
    report.lines.push_back(
        {st.ok(), resourceLabel("listener", lc.name), std::string(st.message()), {}});
  }
  for (const auto& cc : bc->static_config.clusters)
    report.lines.push_back({true, resourceLabel("cluster", cc.name), "", {}});
  std::string what = bc->ads ? cat("bootstrap (ADS ", bc->ads->delta ? "DELTA_GRPC" : "GRPC",
                                   " to ", bc->ads->target, ", ", bc->ads->tls.describe(), ")")
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
  // The resources in input order (or the line that says why a document is none), then the
  // Secrets among them, which the listeners may name.
  std::vector<std::variant<google::protobuf::Any, ValidationLine>> items;
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
      items.emplace_back(std::move(any));
      continue;
    }
    if (!st.ok()) {
      items.emplace_back(
          ValidationLine{false, cat("document ", i + 1), std::string(st.message()), {}});
      continue;
    }
    for (const auto& r : resp.resources()) {
      if (!resp.type_url().empty() && r.type_url() != resp.type_url()) {
        items.emplace_back(ValidationLine{
            false, r.type_url(), cat("in a response of type ", resp.type_url()), {}});
        continue;
      }
      items.emplace_back(r);
    }
  }
  std::vector<config::SecretConfig> secrets;
  for (const auto& item : items) {
    const auto* any = std::get_if<google::protobuf::Any>(&item);
    envoy::extensions::transport_sockets::tls::v3::Secret secret;
    if (any == nullptr || !any->Is<decltype(secret)>() || !any->UnpackTo(&secret)) continue;
    if (auto sc = translateSecret(secret, "", nullptr); sc.ok()) secrets.push_back(std::move(*sc));
  }
  for (auto& item : items) {
    if (const auto* any = std::get_if<google::protobuf::Any>(&item)) {
      report.lines.push_back(checkAny(*any, filters, secrets));
    } else {
      report.lines.push_back(std::move(std::get<ValidationLine>(item)));
    }
  }
  return report;
}

}  // namespace remora::xds
