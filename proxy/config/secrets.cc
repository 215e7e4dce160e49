// Secret resolution for TLS contexts.
#include "proxy/config/secrets.h"

namespace remora::config {

bool resolveSecrets(CommonTlsConfig& tls, const SecretLookup& find) {
  bool ok = true;
  bool timed_out = false;
  if (!tls.certificate_sds.empty()) {
    const SecretConfig* s = find(tls.certificate_sds);
    if (s != nullptr && s->tls_certificate) {
      tls.certificate = *s->tls_certificate;
    } else {
      tls.certificate.reset();
      if (s != nullptr && s->absent) {
        timed_out = true;
      } else {
        ok = false;
      }
    }
  }
  if (!tls.validation_sds.empty()) {
    const SecretConfig* s = find(tls.validation_sds);
    if (!tls.validation) tls.validation.emplace();
    if (s != nullptr && s->validation_context) {
      // The secret gives the trust bundle; SAN matchers of a combined validation context stay.
      tls.validation->trusted_ca_pem = s->validation_context->trusted_ca_pem;
      if (tls.validation->match_sans.empty()) {
        tls.validation->match_sans = s->validation_context->match_sans;
      }
    } else {
      tls.validation->trusted_ca_pem.clear();
      if (s != nullptr && s->absent) {
        timed_out = true;
      } else {
        ok = false;
      }
    }
  }
  tls.secrets_timed_out = ok && timed_out;
  return ok;
}

bool resolveSecrets(ClusterConfig& cluster, const SecretLookup& find) {
  return !cluster.tls || resolveSecrets(cluster.tls->common, find);
}

bool resolveSecrets(ListenerConfig& listener, const SecretLookup& find) {
  bool ok = true;
  for (auto& fc : listener.filter_chains) {
    if (fc.tls && !resolveSecrets(fc.tls->common, find)) ok = false;
  }
  if (listener.default_filter_chain && listener.default_filter_chain->tls &&
      !resolveSecrets(listener.default_filter_chain->tls->common, find)) {
    ok = false;
  }
  return ok;
}

bool secretsAvailable(const CommonTlsConfig& tls, const SecretLookup& find) {
  // A secret found with its material, or given up on (absent), resolves.
  if (!tls.certificate_sds.empty()) {
    const SecretConfig* s = find(tls.certificate_sds);
    if (s == nullptr || (!s->tls_certificate && !s->absent)) return false;
  }
  if (!tls.validation_sds.empty()) {
    const SecretConfig* s = find(tls.validation_sds);
    if (s == nullptr || (!s->validation_context && !s->absent)) return false;
  }
  return true;
}

bool secretsAvailable(const ListenerConfig& listener, const SecretLookup& find) {
  for (const auto& fc : listener.filter_chains) {
    if (fc.tls && !secretsAvailable(fc.tls->common, find)) return false;
  }
  return !listener.default_filter_chain || !listener.default_filter_chain->tls ||
         secretsAvailable(listener.default_filter_chain->tls->common, find);
}

namespace {

void addNames(const CommonTlsConfig& tls, bool ads_only, std::set<std::string>* out) {
  if (!tls.certificate_sds.empty() && (!ads_only || tls.certificate_sds_ads)) {
    out->insert(tls.certificate_sds);
  }
  if (!tls.validation_sds.empty() && (!ads_only || tls.validation_sds_ads)) {
    out->insert(tls.validation_sds);
  }
}

}  // namespace

void addSecretNames(const ClusterConfig& cluster, bool ads_only, std::set<std::string>* out) {
  if (cluster.tls) addNames(cluster.tls->common, ads_only, out);
}

void addSecretNames(const ListenerConfig& listener, bool ads_only, std::set<std::string>* out) {
  for (const auto& fc : listener.filter_chains) {
    if (fc.tls) addNames(fc.tls->common, ads_only, out);
  }
  if (listener.default_filter_chain && listener.default_filter_chain->tls) {
    addNames(listener.default_filter_chain->tls->common, ads_only, out);
  }
}

}  // namespace remora::config
