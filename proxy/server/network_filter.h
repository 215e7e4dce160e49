// The seam between listeners (proxy/) and network filters (filters/): a listener hands each
// accepted connection to the factory of the filter chain it matched, which builds a session.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/config/config.h"
#include "proxy/net/connection.h"
#include "proxy/server/session.h"
#include "proxy/stats/stats.h"

namespace remora::server {

class Worker;

class NetworkFilterFactory {
 public:
  virtual ~NetworkFilterFactory() = default;
  // Takes ownership of `conn` (it must eventually be closed).
  virtual void onAccept(Worker& worker, net::Connection* conn, const ConnectionInfo& info) = 0;
};
using NetworkFilterFactorySharedPtr = std::shared_ptr<NetworkFilterFactory>;

// A network filter that runs before the chain's terminal one (RBAC) and only decides whether
// the connection may go on. It decides when the chain gets the connection: what it looks at
// (addresses, ports, SNI, the TLS peer) is known then, so a refused connection is closed before
// the terminal filter sees it (tcp_proxy never connects upstream).
class AdmissionFilter {
 public:
  virtual ~AdmissionFilter() = default;
  virtual bool admit(Worker& worker, const ConnectionInfo& info) const = 0;
};
using AdmissionFilterSharedPtr = std::shared_ptr<const AdmissionFilter>;

// Admission filters in order, then the terminal filter: what a filter chain's listener hands
// connections to when the chain has filters before its terminal one.
class AdmissionChain : public NetworkFilterFactory {
 public:
  AdmissionChain(std::vector<AdmissionFilterSharedPtr> filters,
                 NetworkFilterFactorySharedPtr terminal)
      : filters_(std::move(filters)), terminal_(std::move(terminal)) {}
  void onAccept(Worker& worker, net::Connection* conn, const ConnectionInfo& info) override {
    for (const auto& f : filters_) {
      if (!f->admit(worker, info)) {
        conn->close(net::Connection::CloseMode::Flush);  // nothing queued: a FIN, as Envoy
        return;
      }
    }
    terminal_->onAccept(worker, conn, info);
  }

 private:
  std::vector<AdmissionFilterSharedPtr> filters_;
  NetworkFilterFactorySharedPtr terminal_;
};

// What a factory may use while it is built from configuration. Clusters are not here: a
// filter looks them up per connection in the worker's current snapshot, so a listener never
// holds on to a cluster that the configuration has since replaced.
struct FilterFactoryContext {
  stats::Store& stats;
  size_t workers;
  uint32_t buffer_limit;
};

using NetworkFilterFactoryCreator = std::function<absl::StatusOr<NetworkFilterFactorySharedPtr>(
    const config::NetworkFilterConfig&, FilterFactoryContext&)>;
using AdmissionFilterCreator = std::function<absl::StatusOr<AdmissionFilterSharedPtr>(
    const config::NetworkFilterConfig&, FilterFactoryContext&)>;
// Filter name -> creator of a terminal filter or of an admission filter. filters/registry.cc
// fills it: the one place every filter is listed.
using NetworkFilterRegistry =
    std::map<std::string, std::variant<NetworkFilterFactoryCreator, AdmissionFilterCreator>>;

}  // namespace remora::server
