// envoy.filters.http.router: the last HTTP filter. Answers direct-response and redirect routes
// itself; otherwise picks the cluster, applies the route's rewrites and header mutations, takes
// an upstream connection from the worker's pool and relays the request and the response with
// flow control both ways, under the route timeout. Failures become Envoy's local replies: 404
// NR, 503 NC / UH / UF / UC, 504 UT.
#pragma once

#include "proxy/http/filter.h"

namespace remora::filters {

class RouterFactory : public http::HttpFilterFactory {
 public:
  http::HttpFilterPtr create(server::Worker& worker) const override;
};

}  // namespace remora::filters
