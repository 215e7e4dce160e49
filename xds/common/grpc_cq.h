// gRPC streams driven from a completion queue that a thread of ours always polls.
//
// Why not gRPC's callback API: in the gRPC this project builds against (Debian 12's 1.51), the
// callback API runs on one process-wide completion queue served by two "nexting" threads, and a
// nexting thread that has seen no event for a second sleeps 100 ms without polling. A message
// that arrives while both sleep waits up to 100 ms before anyone reads the socket. The xDS
// benchmark showed it as 50-100 ms propagation outliers on the first change after a quiet
// second, on both the proxy's and remora-control's side. A thread blocked in Next() with no
// deadline polls all the time, so remora owns its queues and threads instead.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace remora::xds {

// A completion: the tag handed to gRPC for one operation.
class CqTag {
 public:
  explicit CqTag(std::function<void(bool ok)> fn) : fn_(std::move(fn)) {}
  void done(bool ok) { fn_(ok); }

 private:
  std::function<void(bool)> fn_;
};

// A completion queue and the thread that polls it, calling each tag's function in turn.
class CqThread {
 public:
  CqThread(std::unique_ptr<grpc::CompletionQueue> cq, std::string name);
  ~CqThread();  // shutdown()
  CqThread(const CqThread&) = delete;
  CqThread& operator=(const CqThread&) = delete;

  grpc::CompletionQueue* cq() { return cq_.get(); }
  // Shuts the queue down, runs the completions still due (each with ok=false once their calls
  // are cancelled) and joins the thread. The owner cancels its calls first.
  void shutdown();

 private:
  std::unique_ptr<grpc::CompletionQueue> cq_;
  std::thread thread_;
  bool shut_ = false;
};

}  // namespace remora::xds
