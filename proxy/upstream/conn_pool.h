// What the router needs from an upstream, whatever the protocol: a pool hands out requests
// (an HTTP/1.1 connection for one request at a time, or a stream on a shared HTTP/2
// connection), and a request carries one exchange.
#pragma once

#include <cstdint>
#include <string_view>

#include "proxy/http/headers.h"
#include "proxy/http/http1_parser.h"
#include "proxy/net/address.h"
#include "proxy/upstream/cluster.h"

namespace remora::upstream {

enum class PoolFailure {
  NoHealthyHost,      // nowhere to connect (UH)
  ConnectionFailure,  // refused, reset or timed out while connecting (UF)
  Overflow,           // a circuit breaker is open (UO)
};

// The router's side of one request.
class UpstreamStreamCallbacks {
 public:
  virtual ~UpstreamStreamCallbacks() = default;
  virtual void onResponseHeaders(http::ResponseHeaders&& headers, bool end_stream) = 0;
  virtual void onResponseData(std::string_view data) = 0;
  // The response is complete (after its body; trailers may be empty).
  virtual void onResponseComplete(http::HeaderMap&& trailers) = 0;
  // The exchange broke before the response completed. `before_response`: no byte of the
  // response had arrived. `refused`: the upstream refused the stream before processing it
  // (HTTP/2 REFUSED_STREAM). `detail` is for logs and response-code details.
  virtual void onUpstreamReset(bool before_response, std::string_view detail,
                               bool refused = false) = 0;
  // Flow control: the upstream cannot take more request bytes now / can again.
  virtual void onUpstreamAboveWriteWatermark() {}
  virtual void onUpstreamBelowWriteWatermark() {}
};

// One request on an upstream connection.
class UpstreamRequest {
 public:
  virtual ~UpstreamRequest() = default;
  virtual const net::Address& host() const = 0;
  // Sends the request head and binds `callbacks` until the response completes.
  virtual void startRequest(const http::RequestHeaders& headers, http::BodyFraming framing,
                            bool head, UpstreamStreamCallbacks* callbacks) = 0;
  // Request body bytes; `end_stream` finishes the request.
  virtual void sendData(std::string_view data, bool end_stream) = 0;
  virtual void sendTrailers(const http::HeaderMap& trailers) = 0;
  // The router gives up (timeout, downstream gone): no more callbacks after this.
  virtual void resetStream() = 0;
  // Backpressure from the downstream: stop / resume reading the response.
  virtual void readDisable(bool disable) = 0;
};

class ConnPool {
 public:
  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    virtual void onPoolReady(UpstreamRequest& request) = 0;
    virtual void onPoolFailure(PoolFailure reason, std::string_view detail) = 0;
  };
  virtual ~ConnPool() = default;
  // Asks for a request slot on this pool's host. Returns 0 when the callback already ran;
  // otherwise a handle for cancel().
  virtual uint64_t newStream(Callbacks& callbacks) = 0;
  virtual void cancel(uint64_t handle) = 0;
  // Closes idle connections; busy ones close when their requests end.
  virtual void drain() = 0;
  // Connections still open (the pool may be destroyed at zero).
  virtual size_t activeCount() const = 0;
  // Requests using or waiting for a connection.
  virtual size_t busyCount() const = 0;
  // The cluster version that new connections take their settings from (a cluster update that
  // keeps the host keeps its pool).
  virtual void setCluster(ClusterSharedPtr cluster) = 0;
};

}  // namespace remora::upstream
