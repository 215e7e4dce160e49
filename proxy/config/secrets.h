// SDS secrets by name, filled into the TLS contexts that name them when a configuration is
// assembled: a context carries the PEM it uses, so a rotated secret is a changed context.
#pragma once

#include <functional>
#include <set>
#include <string>

#include "proxy/config/config.h"

namespace remora::config {

// The secret of that name, or null.
using SecretLookup = std::function<const SecretConfig*(const std::string& name)>;

// Fills in every SDS-named certificate and trust bundle; false when one is missing (the
// cluster or listener then warms). A secret the lookup gives as `absent` (timed out) counts as
// resolved and sets `secrets_timed_out`: the context is then built to refuse every handshake.
bool resolveSecrets(CommonTlsConfig& tls, const SecretLookup& find);
bool resolveSecrets(ClusterConfig& cluster, const SecretLookup& find);
bool resolveSecrets(ListenerConfig& listener, const SecretLookup& find);

// Whether resolveSecrets would succeed, without copying or changing anything.
bool secretsAvailable(const CommonTlsConfig& tls, const SecretLookup& find);
bool secretsAvailable(const ListenerConfig& listener, const SecretLookup& find);

// The secret names a cluster or listener uses; `ads_only`: only those to fetch over ADS.
void addSecretNames(const ClusterConfig& cluster, bool ads_only, std::set<std::string>* out);
void addSecretNames(const ListenerConfig& listener, bool ads_only, std::set<std::string>* out);

}  // namespace remora::config
