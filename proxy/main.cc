// remora: the sidecar proxy's entry point.
#include <sys/time.h>

#include <csignal>
#include <cstdio>

#include "certs/identity_provider.h"
#include "certs/spiffe.h"
#include "envoy/config/bootstrap/v3/bootstrap.pb.h"
#include "filters/registry.h"
#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/http/access_log.h"
#include "proxy/net/socket.h"
#include "proxy/server/options.h"
#include "proxy/server/server.h"
#include "xds/client/config_dump.h"
#include "xds/client/config_state.h"
#include "xds/client/xds_client.h"
#include "xds/common/load.h"
#include "xds/translate/bootstrap.h"
#include "xds/translate/tls.h"
#include "xds/translate/validate.h"

namespace {

uint64_t wallMs() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<uint64_t>(tv.tv_sec) * 1000 + static_cast<uint64_t>(tv.tv_usec) / 1000;
}

int runValidation(const remora::server::Options& o) {
  std::string path = !o.bootstrap_path.empty() ? o.bootstrap_path : o.resources_path;
  if (path.empty()) {
    std::fprintf(stderr, "remora: --mode validate needs --bootstrap FILE or --resources FILE\n");
    return 2;
  }
  auto text = remora::xds::readFile(path);
  if (!text.ok()) {
    std::fprintf(stderr, "remora: %s\n", std::string(text.status().message()).c_str());
    return 1;
  }
  auto report = !o.bootstrap_path.empty()
                    ? remora::xds::validateBootstrap(*text, remora::filters::networkFilters())
                    : remora::xds::validateResources(*text, remora::filters::networkFilters());
  std::fputs(report.text().c_str(), stdout);
  return report.ok() ? 0 : 1;
}

int runProxy(int argc, char** argv) {
  using namespace remora;
  auto options = server::parseOptions(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "remora: %s\n\n%s", std::string(options.status().message()).c_str(),
                 server::usage().c_str());
    return 2;
  }
  if (options->help) {
    std::fputs(server::usage().c_str(), stdout);
    return 0;
  }
  if (options->version) {
    std::puts("remora 0.2.0");
    return 0;
  }
  log::setLevel(options->log_level);
  if (options->validate) return runValidation(*options);
  std::signal(SIGPIPE, SIG_IGN);
  uint64_t fds = net::raiseOpenFileLimit();
  REMORA_LOG(Info, "remora starting: concurrency %u, open file limit %d", options->concurrency,
             fds);

  config::ProxyConfig initial;
  envoy::config::bootstrap::v3::Bootstrap bootstrap_proto;
  std::optional<remora::xds::BootstrapConfig> bootstrap;
  if (!options->bootstrap_path.empty()) {
    auto text = remora::xds::readFile(options->bootstrap_path);
    absl::Status st =
        text.ok() ? remora::xds::parseMessage(*text, &bootstrap_proto) : text.status();
    if (!st.ok()) {
      REMORA_LOG(Error, "bootstrap %s: %s", options->bootstrap_path, st.message());
      return 1;
    }
    remora::xds::TranslateNotes notes;
    auto bc = remora::xds::translateBootstrap(bootstrap_proto, &notes);
    if (!bc.ok()) {
      REMORA_LOG(Error, "bootstrap %s rejected: %s", options->bootstrap_path,
                 bc.status().message());
      return 1;
    }
    for (const auto& f : notes.ignored)
      REMORA_LOG(Info, "bootstrap: ignoring %s (no effect in remora)", f);
    bootstrap = *bc;
    if (bc->admin_address) options->admin_address = bc->admin_address;
    initial = bc->static_config;
  } else {
    auto config = server::defaultConfig(*options);
    if (!config.ok()) {
      REMORA_LOG(Error, "configuration: %s", config.status().ToString());
      return 1;
    }
    initial = *config;
  }

  server::Server server(*options, filters::networkFilters());
  std::unique_ptr<remora::xds::XdsClient> xds;
  uint64_t start_ms = wallMs();
  if (bootstrap && bootstrap->ads) {
    xds = std::make_unique<remora::xds::XdsClient>(
        *bootstrap->ads, bootstrap->node, initial, server.mainLoop(),
        [&server](const config::ProxyConfig& c) { return server.applyConfig(c); }, server.stats());
  }
  // Without xDS, the static configuration is re-assembled whenever the local identity
  // changes (contexts naming "default"/"ROOTCA" join once the first certificate is here).
  remora::xds::ConfigState static_state(initial);
  std::unique_ptr<certs::IdentityProvider> identity;
  bool identity_ready = options->ca_address.empty();
  certs::IdentityOptions id_options;
  if (!options->ca_address.empty()) {
    auto id = certs::parseSpiffeId(cat("spiffe://", options->trust_domain, "/ns/",
                                       options->pod_namespace, "/sa/", options->service_account));
    if (!id.ok()) {
      REMORA_LOG(Error, "identity: %s", id.status().message());
      return 1;
    }
    id_options.ca_address = options->ca_address;
    id_options.token_file = options->identity_token_file;
    id_options.id = *id;
    id_options.requested_ttl = std::chrono::duration_cast<std::chrono::seconds>(options->cert_ttl);
    id_options.ca_tls.root_certs_file = options->ca_root_cert;
    id_options.ca_tls.server_name = options->ca_server_name;
    if (auto st = certs::checkChannelTls(id_options.ca_tls);
        id_options.ca_tls.enabled() && !st.ok()) {
      REMORA_LOG(Error, "--ca-root-cert: %s", st.message());
      return 1;
    }
    REMORA_LOG(Info, "identity: CA at %s, %s", options->ca_address, id_options.ca_tls.describe());
  }
  auto onIdentity = [&](const certs::WorkloadSecret& s) {
    config::SecretConfig cert;
    cert.name = remora::xds::kLocalCertificateSecret;
    cert.tls_certificate = config::TlsCertificate{s.cert_chain_pem, s.private_key_pem};
    config::SecretConfig roots;
    roots.name = remora::xds::kLocalTrustSecret;
    roots.validation_context = config::ValidationContext{s.trust_bundle_pem, {}};
    REMORA_LOG(
        Info, "identity: applying the certificate for %s (not after %d)", s.spiffe_id,
        std::chrono::duration_cast<std::chrono::seconds>(s.not_after.time_since_epoch()).count());
    identity_ready = true;
    if (xds) {
      xds->setLocalSecrets({std::move(cert), std::move(roots)});
      return;
    }
    static_state.setLocalSecret(std::move(cert));
    static_state.setLocalSecret(std::move(roots));
    if (auto st = server.applyConfig(static_state.assemble()); !st.ok()) {
      REMORA_LOG(Error, "identity: the new certificate could not be applied: %s", st.message());
    }
  };
  server.setInitializedCheck([&] { return identity_ready && (!xds || xds->initialized()); });
  server.setOnStop([&] {
    if (xds) xds->stop();
    if (identity) identity->close([] {});
  });
  server.addAdminHandler("/config_dump", "the configuration in force, in Envoy's layout", false,
                         [&](const admin::Request&) {
                           admin::Response r;
                           r.content_type = "application/json";
                           remora::xds::XdsClient::Dump d;
                           if (xds) d = xds->dump();
                           r.body = remora::xds::configDumpJson(bootstrap_proto, start_ms,
                                                                xds ? &d : nullptr);
                           return r;
                         });
  // TLS contexts whose secrets are not here yet wait (they are left out until they are).
  if (auto status = server.start(static_state.assemble()); !status.ok()) {
    REMORA_LOG(Error, "start-up failed: %s", status.message());
    server.stop();
    server.run();
    return 1;
  }
  if (xds) xds->start();
  if (!options->ca_address.empty()) {
    server.mainLoop().post([&] {
      identity =
          std::make_unique<certs::IdentityProvider>(server.mainLoop(), id_options, onIdentity);
      identity->start();
    });
  }
  return server.run();
}

}  // namespace

int main(int argc, char** argv) {
  int rc = runProxy(argc, argv);
  // Access log writers let go of on the way out finish their queues before the process ends.
  if (size_t left = remora::http::AccessLogFile::awaitRetired(); left > 0) {
    REMORA_LOG(Warn, "%zu access log writer(s) still busy after 10 s; exiting without them", left);
  }
  return rc;
}
