// `remora --mode validate`: checks a bootstrap, a file of resources, or a DiscoveryResponse
// (YAML or JSON) without serving traffic, and reports per resource what is accepted and what
// is rejected, naming the field.
#pragma once

#include <string>
#include <vector>

#include "proxy/server/network_filter.h"

namespace remora::xds {

struct ValidationLine {
  bool ok = true;
  std::string resource;  // "cluster 'x'"
  std::string message;   // the reason when rejected
  std::vector<std::string> ignored;
};

struct ValidationReport {
  std::vector<ValidationLine> lines;
  bool ok() const;
  std::string text() const;
};

ValidationReport validateBootstrap(const std::string& text,
                                   const server::NetworkFilterRegistry& filters);
ValidationReport validateResources(const std::string& text,
                                   const server::NetworkFilterRegistry& filters);

}  // namespace remora::xds
