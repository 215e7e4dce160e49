// remora-control: serves Envoy-format resources from a watched directory over ADS (state of
// the world and incremental) to remora, Envoy, or any xDS client, and (with a CA configured)
// signs workload certificates over Istio's CreateCertificate. Subcommands manage the CA
// directory: `issue-token` mints a bootstrap token, `ca rotate-root` / `ca activate-root`
// rotate the root in two steps, `ca status` shows where a rotation stands.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <optional>

#include "certs/ca.h"
#include "certs/token.h"
#include "proxy/admin/http_server.h"
#include "proxy/common/flags.h"
#include "proxy/common/log.h"
#include "proxy/event/event_loop.h"
#include "proxy/server/options.h"
#include "proxy/stats/exposition.h"
#include "xds/common/load.h"
#include "xds/server/ads_service.h"
#include "xds/server/ca_service.h"
#include "xds/server/file_source.h"
#include "xds/server/serving_tls.h"
#include "xds/server/trust_bundle_file.h"

namespace {

const char* kUsage = R"(usage: remora-control --config-dir DIR [flags]
       remora-control issue-token --ca-dir DIR --namespace NS --service-account SA [--ttl DUR]
       remora-control ca rotate-root --ca-dir DIR [--propagation DUR] [--max-cert-ttl DUR]
                                     [--overlap DUR] [--ca-key-type ecdsa|rsa] [--trust-domain TD]
       remora-control ca activate-root --ca-dir DIR [--overlap DUR]
       remora-control ca status --ca-dir DIR

Serves the Envoy v3 resources in DIR over ADS (gRPC). Each YAML or JSON document in DIR/*.yaml
is one resource with its "@type" (Listener, Cluster, ClusterLoadAssignment, RouteConfiguration,
Secret); DIR/nodes/<node-id>/ adds to or overrides them for one node. Changes are pushed as soon
as the files settle.

  --config-dir DIR      the resources (required)
  --listen ADDR         gRPC address (default 0.0.0.0:15010; port 0 picks one)
  --port-file FILE      write the bound port here
  --debounce DUR        quiet time after a change before reloading (default 5ms; a burst is
                        applied within 100ms of its first change)
  --admin-address ADDR  /stats and /stats/prometheus (default 127.0.0.1:15011, "" disables)
  --admin-port-file FILE  write the admin server's bound port here
  --log-level LEVEL     trace, debug, info, warning, error (default info)

TLS on the gRPC port (default: plaintext):
  --serving-cert FILE   serve with this certificate (PEM, leaf first, then intermediates) ...
  --serving-key FILE    ... and its key; re-read when they change (the key must match)
  --tls                 serve with a certificate remora-control's own CA issues to itself (needs
                        --ca-dir or --ca-cert): its SPIFFE ID (namespace $POD_NAMESPACE, default
                        remora-system; service account remora-control) and the --serving-dns
                        names, with the CA's --cert-ttl; renewed at half its life, and as soon
                        as a rotated root signs, without a restart
  --serving-dns NAME    a name of the self-issued certificate (repeatable; an IP address becomes
                        an IP SAN). Default: the --listen host (its IP, or for 0.0.0.0 / :: this
                        machine's host name) and "remora-control"
  --trust-bundle-out FILE  write the CA's trust bundle here (0644), rewritten atomically when it
                        changes: a staged root joins it at once, a retired root leaves after its
                        overlap. Give it to proxies as their root certificate (remora's
                        --ca-root-cert, the bootstrap's ssl_credentials.root_certs)

Certificate authority (Istio's istio.v1.auth.IstioCertificateService on the gRPC port; off
unless --ca-dir or --ca-cert is given):
  --ca-dir DIR          CA directory: a self-signed root is created here on first start (0700,
                        keys 0600), and the key that signs bootstrap tokens
  --ca-key-type TYPE    key of a root created here: ecdsa (P-256, default) or rsa (2048)
  --ca-cert FILE        an operator's root or intermediate CA certificate that signs instead
  --ca-key FILE         its private key (PEM)
  --ca-chain FILE       the certificates above it, up to and including the root
  --trust-domain TD     SPIFFE trust domain of issued IDs (default cluster.local)
  --cert-ttl DUR        lifetime when a request asks for none (default 24h)
  --max-cert-ttl DUR    longest lifetime issued (default 2160h, 90 days)
  --k8s-token-keys FILE accept Kubernetes service-account tokens verified with these PEM public
                        keys (the API server's --service-account-key-file)
  --k8s-token-issuer ISS  their required issuer (required with --k8s-token-keys)
  --k8s-token-audience AUD  their required audience (default istio-ca)

issue-token prints a bootstrap token (ES256, signed with DIR's token key) that proves NS/SA to
this CA, valid for --ttl (default 24h).

Root rotation has two steps, so that no proxy meets a peer whose new root it does not trust yet:
  ca rotate-root    makes a new root and publishes it in the trust bundle sent with every issued
                    chain, so each proxy learns it on its next renewal; the current root keeps
                    signing for --propagation (default --max-cert-ttl, 2160h: proxies renew at
                    half their certificates' life, so by then every live proxy has renewed; pass
                    the server's --max-cert-ttl, or a shorter period you know is enough). Then the
                    new root signs, and the previous root stays in the bundle for --overlap
                    (default --max-cert-ttl, at least 168h: longer than any certificate it
                    signed can live).
                    --propagation 0 is a one-step rotation: the new root signs at once, and
                    proxies that have not renewed since refuse its certificates until they do.
                    A root already staged must be activated first.
  ca activate-root  makes the staged root sign now, ahead of its time (--overlap replaces the
                    one given at staging)
  ca status         shows the signing root, a staged root and when it signs, and retired roots
The state lives in the CA directory (staged-root-cert.pem, staged-root-key.pem), so a restarted
remora-control continues the rotation; a running one picks changes up on its next request, and
switches to a staged root when its time comes.
)";

uv_loop_t* g_loop = nullptr;

// The names of a self-issued serving certificate when no --serving-dns is given: the --listen
// host (an IP address as itself; the wildcard addresses as this machine's host name) and
// "remora-control".
remora::certs::ServerNames defaultServingNames(std::string_view listen) {
  remora::certs::ServerNames out;
  std::string host;
  if (!listen.starts_with("unix:")) {
    if (listen.starts_with("dns:///")) listen.remove_prefix(7);
    if (listen.starts_with("ipv4:") || listen.starts_with("ipv6:")) listen.remove_prefix(5);
    if (listen.starts_with("[")) {
      size_t end = listen.find(']');
      host = std::string(listen.substr(1, end == std::string_view::npos ? 0 : end - 1));
    } else {
      host = std::string(listen.substr(0, listen.rfind(':')));
    }
  }
  unsigned char buf[16];
  bool ip =
      inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
  if (host.empty() || host == "0.0.0.0" || host == "::") {
    char name[256] = {};
    if (!listen.starts_with("unix:") && gethostname(name, sizeof(name) - 1) == 0 && name[0] != 0) {
      out.dns.push_back(name);
    }
  } else if (ip) {
    out.ips.push_back(host);
  } else {
    out.dns.push_back(host);
  }
  out.dns.push_back("remora-control");
  return out;
}

int usageError(const std::string& message) {
  std::fprintf(stderr, "remora-control: %s\n\n%s", message.c_str(), kUsage);
  return 2;
}

// A duration flag in whole seconds, at least one.
bool parseSeconds(std::string_view flag, std::string_view value, std::chrono::seconds* out) {
  auto d = remora::server::parseDuration(value);
  if (!d.ok() || *d < std::chrono::seconds(1)) {
    std::fprintf(stderr, "remora-control: --%s: '%s' is not a duration of at least 1s\n",
                 std::string(flag).c_str(), std::string(value).c_str());
    return false;
  }
  *out = std::chrono::duration_cast<std::chrono::seconds>(*d);
  return true;
}

// remora-control issue-token --ca-dir DIR --namespace NS --service-account SA [--ttl DUR]
int issueToken(int argc, char** argv) {
  using namespace remora;
  auto flags = splitFlags(argc, argv, {"help"});
  if (!flags.ok()) return usageError(std::string(flags.status().message()));
  std::string dir, ns, sa;
  std::chrono::seconds ttl = std::chrono::hours(24);
  for (const auto& [flag, value] : *flags) {
    if (flag == "ca-dir") {
      dir = value;
    } else if (flag == "namespace") {
      ns = value;
    } else if (flag == "service-account") {
      sa = value;
    } else if (flag == "ttl") {
      if (!parseSeconds(flag, value, &ttl)) return 2;
    } else {
      return usageError(cat("issue-token: unknown flag --", flag));
    }
  }
  if (dir.empty() || ns.empty() || sa.empty()) {
    return usageError("issue-token needs --ca-dir, --namespace and --service-account");
  }
  auto key = certs::loadOrCreateTokenKey(dir);
  if (!key.ok()) {
    std::fprintf(stderr, "remora-control: %s\n", std::string(key.status().message()).c_str());
    return 1;
  }
  auto token = certs::mintBootstrapToken(key->get(), ns, sa, ttl, std::chrono::system_clock::now());
  if (!token.ok()) {
    std::fprintf(stderr, "remora-control: %s\n", std::string(token.status().message()).c_str());
    return 1;
  }
  std::printf("%s\n", token->c_str());
  return 0;
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  time_t tt = std::chrono::system_clock::to_time_t(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int caFailure(const absl::Status& s) {
  std::fprintf(stderr, "remora-control: %s\n", std::string(s.message()).c_str());
  return 1;
}

// remora-control ca rotate-root | activate-root | status --ca-dir DIR ...
int caCommand(int argc, char** argv) {
  using namespace remora;
  std::string_view sub = argc < 2 ? std::string_view() : std::string_view(argv[1]);
  if (sub != "rotate-root" && sub != "activate-root" && sub != "status") {
    return usageError("ca: the subcommands are rotate-root, activate-root and status");
  }
  auto flags = splitFlags(argc - 1, argv + 1, {"help"});
  if (!flags.ok()) return usageError(std::string(flags.status().message()));
  std::string dir, trust_domain = "cluster.local";
  std::optional<std::chrono::seconds> overlap, propagation;
  std::chrono::seconds max_cert_ttl = certs::CaOptions().max_ttl;
  certs::KeyType key_type = certs::KeyType::EcdsaP256;
  for (const auto& [flag, value] : *flags) {
    bool rotate_only = flag == "propagation" || flag == "max-cert-ttl" || flag == "trust-domain" ||
                       flag == "ca-key-type";
    if (flag == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (flag == "ca-dir") {
      dir = value;
    } else if (rotate_only && sub != "rotate-root") {
      return usageError(cat("ca ", sub, ": --", flag, " is a flag of rotate-root"));
    } else if (flag == "overlap" && sub != "status") {
      overlap.emplace();
      if (!parseSeconds(flag, value, &*overlap)) return 2;
    } else if (flag == "propagation") {
      // 0 is allowed: the one-step rotation.
      auto d = server::parseDuration(value);
      if (!d.ok()) return usageError(cat("--propagation: ", d.status().message()));
      propagation = std::chrono::duration_cast<std::chrono::seconds>(*d);
    } else if (flag == "max-cert-ttl") {
      if (!parseSeconds(flag, value, &max_cert_ttl)) return 2;
    } else if (flag == "trust-domain") {
      trust_domain = value;
    } else if (flag == "ca-key-type") {
      auto t = certs::parseKeyType(value);
      if (!t.ok()) return usageError(std::string(t.status().message()));
      key_type = *t;
    } else {
      return usageError(cat("ca ", sub, ": unknown flag --", flag));
    }
  }
  if (dir.empty()) return usageError(cat("ca ", sub, " needs --ca-dir"));
  auto now = std::chrono::system_clock::now();

  if (sub == "status") {
    auto state = certs::caDirState(dir, now);
    if (!state.ok()) return caFailure(state.status());
    std::printf("signing: %s\n", state->signer.c_str());
    if (state->staged) {
      std::printf("staged:  %s (published; signs from %s, then the signing root stays for %llds)\n",
                  state->staged->subject.c_str(), rfc3339(state->staged->activate_at).c_str(),
                  static_cast<long long>(state->staged->overlap.count()));
    }
    for (const auto& r : state->retired) {
      std::printf("retired: %s (published until %s)\n", r.subject.c_str(),
                  rfc3339(r.keep_until).c_str());
    }
    return 0;
  }
  if (sub == "activate-root") {
    auto subject = certs::activateStagedRoot(dir, now, overlap);
    if (!subject.ok()) return caFailure(subject.status());
    std::printf("root '%s' signs from now on; the previous root stays in the trust bundle%s\n",
                subject->c_str(),
                overlap ? cat(" for ", overlap->count(), "s").c_str()
                        : " for the overlap given when it was staged");
    return 0;
  }
  std::chrono::seconds wait = propagation.value_or(max_cert_ttl);
  // The old root must outlive every certificate it signed: those can live --max-cert-ttl.
  std::chrono::seconds keep =
      overlap.value_or(std::max<std::chrono::seconds>(std::chrono::hours(168), max_cert_ttl));
  auto subject = certs::stageRoot(dir, key_type, trust_domain, wait, keep, now);
  if (!subject.ok()) return caFailure(subject.status());
  if (wait.count() <= 0) {
    std::printf(
        "new root '%s' signs from now on; the previous root stays in the trust bundle for %llds\n",
        subject->c_str(), static_cast<long long>(keep.count()));
  } else {
    std::printf(
        "new root '%s' is in the trust bundle now and signs from %s (or `ca activate-root`); the "
        "current root keeps signing until then and stays in the bundle for %llds after\n",
        subject->c_str(), rfc3339(now + wait).c_str(), static_cast<long long>(keep.count()));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace remora;
  if (argc > 1 && std::string_view(argv[1]) == "issue-token") return issueToken(argc - 1, argv + 1);
  if (argc > 1 && std::string_view(argv[1]) == "ca") return caCommand(argc - 1, argv + 1);
  std::string dir, listen = "0.0.0.0:15010", port_file, admin_address = "127.0.0.1:15011";
  std::string admin_port_file;
  config::Duration debounce{5};
  // Certificate authority.
  std::string ca_dir, ca_cert, ca_key, ca_chain, k8s_keys, k8s_issuer, k8s_audience = "istio-ca";
  bool k8s_audience_set = false;
  certs::CaOptions ca_options;
  certs::KeyType ca_key_type = certs::KeyType::EcdsaP256;
  // TLS on the gRPC port.
  std::string serving_cert, serving_key, trust_bundle_out;
  bool self_tls = false;
  certs::ServerNames serving_names;
  auto flags = splitFlags(argc, argv, {"help", "tls"});
  if (!flags.ok()) {
    std::fprintf(stderr, "remora-control: %s\n\n%s", std::string(flags.status().message()).c_str(),
                 kUsage);
    return 2;
  }
  for (const auto& [flag, value] : *flags) {
    if (flag == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (flag == "config-dir") {
      dir = value;
    } else if (flag == "listen") {
      listen = value;
    } else if (flag == "admin-address") {
      admin_address = value;
    } else if (flag == "port-file") {
      port_file = value;
    } else if (flag == "admin-port-file") {
      admin_port_file = value;
    } else if (flag == "serving-cert") {
      serving_cert = value;
    } else if (flag == "serving-key") {
      serving_key = value;
    } else if (flag == "tls") {
      self_tls = true;
    } else if (flag == "serving-dns") {
      unsigned char buf[16];
      std::string name(value);
      if (inet_pton(AF_INET, name.c_str(), buf) == 1 ||
          inet_pton(AF_INET6, name.c_str(), buf) == 1) {
        serving_names.ips.push_back(name);
      } else {
        serving_names.dns.push_back(name);
      }
    } else if (flag == "trust-bundle-out") {
      if (value.empty()) return usageError("--trust-bundle-out needs a file name");
      trust_bundle_out = value;
    } else if (flag == "ca-dir") {
      ca_dir = value;
    } else if (flag == "ca-cert") {
      ca_cert = value;
    } else if (flag == "ca-key") {
      ca_key = value;
    } else if (flag == "ca-chain") {
      ca_chain = value;
    } else if (flag == "ca-key-type") {
      auto t = certs::parseKeyType(value);
      if (!t.ok()) return usageError(cat("--ca-key-type: ", t.status().message()));
      ca_key_type = *t;
    } else if (flag == "trust-domain") {
      if (auto id = certs::parseSpiffeId(cat("spiffe://", value, "/ns/a/sa/b")); !id.ok()) {
        return usageError(cat("--trust-domain '", value, "' is not a valid trust domain"));
      }
      ca_options.trust_domain = value;
    } else if (flag == "cert-ttl") {
      if (!parseSeconds(flag, value, &ca_options.default_ttl)) return 2;
    } else if (flag == "max-cert-ttl") {
      if (!parseSeconds(flag, value, &ca_options.max_ttl)) return 2;
    } else if (flag == "k8s-token-keys") {
      k8s_keys = value;
    } else if (flag == "k8s-token-issuer") {
      k8s_issuer = value;
    } else if (flag == "k8s-token-audience") {
      k8s_audience = value;
      k8s_audience_set = true;
    } else if (flag == "debounce") {
      auto d = server::parseDuration(value);
      if (!d.ok()) {
        std::fprintf(stderr, "remora-control: --debounce: %s\n",
                     std::string(d.status().message()).c_str());
        return 2;
      }
      debounce = *d;
    } else if (flag == "log-level") {
      log::Level level;
      if (!log::parseLevel(value, &level)) {
        std::fprintf(stderr, "remora-control: unknown log level '%s'\n",
                     std::string(value).c_str());
        return 2;
      }
      log::setLevel(level);
    } else {
      std::fprintf(stderr, "remora-control: unknown flag --%s\n\n%s", std::string(flag).c_str(),
                   kUsage);
      return 2;
    }
  }
  if (dir.empty()) {
    std::fprintf(stderr, "remora-control: --config-dir is required\n\n%s", kUsage);
    return 2;
  }
  if (ca_options.default_ttl > ca_options.max_ttl) {
    return usageError("--cert-ttl is longer than --max-cert-ttl");
  }
  if (ca_cert.empty() != ca_key.empty()) return usageError("--ca-cert and --ca-key go together");
  if (!ca_chain.empty() && ca_cert.empty()) return usageError("--ca-chain needs --ca-cert");
  if (k8s_keys.empty() && (!k8s_issuer.empty() || k8s_audience_set)) {
    return usageError("--k8s-token-issuer and --k8s-token-audience need --k8s-token-keys");
  }
  if (!k8s_keys.empty() && k8s_issuer.empty()) {
    return usageError("--k8s-token-keys needs --k8s-token-issuer");
  }
  bool ca_on = !ca_dir.empty() || !ca_cert.empty();
  if (!ca_on && !k8s_keys.empty())
    return usageError("--k8s-token-keys needs --ca-dir or --ca-cert");
  if (ca_on && ca_dir.empty() && k8s_keys.empty()) {
    return usageError(
        "the CA needs a credential to accept: --ca-dir (bootstrap tokens) or --k8s-token-keys");
  }
  if (serving_cert.empty() != serving_key.empty()) {
    return usageError("--serving-cert and --serving-key go together");
  }
  if (self_tls && !serving_cert.empty()) {
    return usageError(
        "--tls (a self-issued certificate) or --serving-cert/--serving-key, not both");
  }
  if (!self_tls && (!serving_names.dns.empty() || !serving_names.ips.empty())) {
    return usageError("--serving-dns needs --tls");
  }
  if (self_tls && !ca_on) return usageError("--tls needs the CA (--ca-dir or --ca-cert)");
  if (!trust_bundle_out.empty() && !ca_on) {
    return usageError("--trust-bundle-out needs the CA (--ca-dir or --ca-cert)");
  }
  std::signal(SIGPIPE, SIG_IGN);

  // The CA: an operator's certificate, or the CA directory's own root. Bootstrap tokens are
  // verified with the directory's token key; Kubernetes tokens with the operator's keys.
  std::unique_ptr<remora::xds::CaService> ca_service;
  std::unique_ptr<certs::CaDirectory> ca_directory;
  remora::xds::CaService::CaFn ca_fn;
  if (ca_on) {
    auto now = std::chrono::system_clock::now();
    if (!ca_cert.empty()) {
      auto ca = certs::CertificateAuthority::fromFiles(ca_cert, ca_key, ca_chain, ca_options, now);
      if (!ca.ok()) {
        REMORA_LOG(Error, "CA: %s", ca.status().message());
        return 1;
      }
      std::shared_ptr<const certs::CertificateAuthority> fixed = std::move(*ca);
      ca_fn = [fixed] { return fixed; };
      REMORA_LOG(Info, "CA: signing with the operator's '%s'",
                 certs::subjectString(fixed->signer()));
    } else {
      auto d = certs::CaDirectory::open(ca_dir, ca_options, ca_key_type);
      if (!d.ok()) {
        REMORA_LOG(Error, "CA: %s", d.status().message());
        return 1;
      }
      ca_directory = std::move(*d);
      ca_fn = [d = ca_directory.get()] { return d->current(std::chrono::system_clock::now()); };
      REMORA_LOG(Info, "CA: signing with the root in '%s'", ca_dir);
    }
    certs::PkeyPtr token_key;
    if (!ca_dir.empty()) {
      auto key = certs::loadOrCreateTokenKey(ca_dir);
      if (!key.ok()) {
        REMORA_LOG(Error, "CA: %s", key.status().message());
        return 1;
      }
      token_key = std::move(*key);
    }
    std::optional<certs::KubernetesTokenConfig> k8s;
    if (!k8s_keys.empty()) {
      auto cfg = certs::loadKubernetesTokenConfig(k8s_keys, k8s_issuer, k8s_audience);
      if (!cfg.ok()) {
        REMORA_LOG(Error, "--k8s-token-keys: %s", cfg.status().message());
        return 1;
      }
      REMORA_LOG(Info, "CA: accepting Kubernetes tokens from '%s' for audience '%s' (%d keys)",
                 k8s_issuer, k8s_audience, cfg->keys.size());
      k8s = std::move(*cfg);
    }
    ca_service = std::make_unique<remora::xds::CaService>(
        ca_fn, certs::TokenVerifier(std::move(token_key), std::move(k8s)));
  }

  // The CA's trust bundle for proxies, before anything is served with a certificate it signed.
  std::unique_ptr<remora::xds::TrustBundleFile> bundle_file;
  if (!trust_bundle_out.empty()) {
    bundle_file = std::make_unique<remora::xds::TrustBundleFile>(trust_bundle_out, ca_fn);
    if (auto s = bundle_file->update(); !s.ok()) return 1;
  }
  std::unique_ptr<remora::xds::ServingTls> serving_tls;
  if (self_tls || !serving_cert.empty()) {
    remora::xds::ServingTlsOptions o;
    o.cert_file = serving_cert;
    o.key_file = serving_key;
    if (self_tls) {
      const char* ns = std::getenv("POD_NAMESPACE");
      auto id = certs::parseSpiffeId(cat("spiffe://", ca_options.trust_domain, "/ns/",
                                         ns != nullptr && *ns != 0 ? ns : "remora-system",
                                         "/sa/remora-control"));
      if (!id.ok()) {
        REMORA_LOG(Error, "tls: remora-control's SPIFFE ID: %s", id.status().message());
        return 1;
      }
      o.identity = *id;
      o.names = serving_names.dns.empty() && serving_names.ips.empty() ? defaultServingNames(listen)
                                                                       : serving_names;
    }
    auto t = remora::xds::ServingTls::create(std::move(o), self_tls ? ca_fn : nullptr);
    if (!t.ok()) {
      REMORA_LOG(Error, "tls: %s", t.status().message());
      return 1;
    }
    serving_tls = std::move(*t);
  }

  // YAML files are converted by a long-lived helper process, started now while we are small.
  remora::xds::useYamlHelper();
  remora::xds::SnapshotCache cache;
  remora::xds::FileSource source(dir, cache);
  if (auto s = source.reload(); !s.ok()) {
    REMORA_LOG(Error, "initial load failed; serving nothing until the files are fixed");
  }
  remora::xds::AdsService service(cache);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(
      listen, serving_tls ? serving_tls->credentials() : grpc::InsecureServerCredentials(), &port);
  service.registerWith(builder);
  if (ca_service) builder.RegisterService(ca_service.get());
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.SetMaxReceiveMessageSize(4 << 20);
  std::unique_ptr<grpc::Server> ads_server = builder.BuildAndStart();
  if (!ads_server || port == 0) {
    REMORA_LOG(Error, "cannot listen on %s", listen);
    return 1;
  }
  service.start();
  REMORA_LOG(Info, "remora-control serving ADS%s on %s (port %d, %s) from %s",
             ca_service ? " and CreateCertificate" : "", listen, port,
             serving_tls ? cat("TLS with the certificate ", serving_tls->describe())
                         : std::string("plaintext"),
             dir);
  if (!port_file.empty()) std::ofstream(port_file) << port << "\n";

  event::EventLoop loop("main");
  g_loop = loop.uv();
  source.watch(loop.uv(), debounce, config::Duration(100));
  if (serving_tls) serving_tls->start(loop.uv());
  if (bundle_file) bundle_file->start(loop.uv());

  // Operator stats, Envoy-style names under control_plane.*.
  stats::Store store;
  const auto& st = service.stats();
  auto scope = std::make_shared<
      stats::CallbackScope>("control_plane.", "control_plane", [&](const stats::StatVisitor& v) {
    v({"xds_streams_active", stats::Kind::Gauge, "ADS streams open", st.streams_active.load()});
    v({"xds_streams_total", stats::Kind::Counter, "ADS streams accepted",
       static_cast<int64_t>(st.streams_total.load())});
    v({"xds_responses_sent", stats::Kind::Counter, "Discovery responses sent",
       static_cast<int64_t>(st.responses_sent.load())});
    v({"xds_response_bytes", stats::Kind::Counter, "Bytes of discovery responses sent",
       static_cast<int64_t>(st.response_bytes.load())});
    v({"xds_acks", stats::Kind::Counter, "Responses ACKed", static_cast<int64_t>(st.acks.load())});
    v({"xds_nacks", stats::Kind::Counter, "Responses NACKed",
       static_cast<int64_t>(st.nacks.load())});
    v({"config_reloads", stats::Kind::Counter, "Resource directory loads applied",
       static_cast<int64_t>(source.reloads())});
    v({"config_reload_errors", stats::Kind::Counter, "Resource directory loads rejected",
       static_cast<int64_t>(source.reloadErrors())});
  });
  store.add(scope);
  std::shared_ptr<stats::Scope> ca_scope;  // the store holds scopes weakly
  if (ca_service) {
    const auto& cs = ca_service->stats();
    ca_scope = std::make_shared<stats::CallbackScope>(
        "control_plane.ca.", "control_plane_ca", [&cs](const stats::StatVisitor& v) {
          auto counter = [&](const char* name, const char* help, uint64_t value) {
            v({name, stats::Kind::Counter, help, static_cast<int64_t>(value)});
          };
          counter("csr_requests", "CreateCertificate calls", cs.csr_requests.load());
          counter("certs_issued", "Certificates signed", cs.issued.load());
          counter("denied_unauthenticated", "Calls without a valid token",
                  cs.denied_unauthenticated.load());
          counter("denied_identity", "CSRs asking for an identity the token does not prove",
                  cs.denied_identity.load());
          counter("denied_invalid_csr", "Malformed CSRs, bad CSR signatures, unsupported keys",
                  cs.denied_invalid_csr.load());
          counter("sign_errors", "Requests the CA could not sign", cs.errors.load());
        });
    store.add(ca_scope);
  }
  std::unique_ptr<admin::HttpServer> admin_server;
  if (!admin_address.empty()) {
    auto addr = net::Address::parse(admin_address);
    if (!addr.ok()) {
      REMORA_LOG(Error, "--admin-address: %s", addr.status().message());
      return 2;
    }
    auto router = std::make_shared<admin::Router>();
    router->add("/stats", "control plane counters", false, [&](const admin::Request&) {
      admin::Response r;
      r.body = stats::renderText(store);
      return r;
    });
    router->add("/stats/prometheus", "control plane counters, Prometheus format", false,
                [&](const admin::Request&) {
                  admin::Response r;
                  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                  r.body = stats::renderPrometheus(store);
                  return r;
                });
    admin_server = std::make_unique<admin::HttpServer>(loop, "control admin", router);
    if (auto s = admin_server->listen(*addr); !s.ok()) {
      REMORA_LOG(Error, "%s", s.message());
      return 1;
    }
    if (!admin_port_file.empty()) {
      std::ofstream(admin_port_file) << admin_server->address().port() << "\n";
    }
  }

  uv_signal_t sigterm, sigint;
  uv_signal_init(loop.uv(), &sigterm);
  uv_signal_init(loop.uv(), &sigint);
  struct StopCtx {
    remora::xds::FileSource* source;
    admin::HttpServer* admin;
    event::EventLoop* loop;
    remora::xds::ServingTls* tls;
    remora::xds::TrustBundleFile* bundle;
  } ctx{&source, admin_server.get(), &loop, serving_tls.get(), bundle_file.get()};
  sigterm.data = sigint.data = &ctx;
  auto stop = [](uv_signal_t* h, int) {
    REMORA_LOG(Info, "stopping");
    auto* c = static_cast<StopCtx*>(h->data);
    c->source->close();
    if (c->admin != nullptr) c->admin->close([] {});
    if (c->tls != nullptr) c->tls->close();
    if (c->bundle != nullptr) c->bundle->close();
    uv_walk(
        g_loop,
        [](uv_handle_t* x, void*) {
          if (x->type == UV_SIGNAL && !uv_is_closing(x)) uv_close(x, nullptr);
        },
        nullptr);
    c->loop->shutdown();
  };
  uv_signal_start(&sigterm, stop, SIGTERM);
  uv_signal_start(&sigint, stop, SIGINT);
  loop.run();
  ads_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  ads_server->Wait();
  service.shutdown();
  loop.close();
  return 0;
}
