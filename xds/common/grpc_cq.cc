// Completion queue threads.
#include "xds/common/grpc_cq.h"

#include "proxy/common/log.h"

namespace remora::xds {

CqThread::CqThread(std::unique_ptr<grpc::CompletionQueue> cq, std::string name)
    : cq_(std::move(cq)) {
  thread_ = std::thread([this, name = std::move(name)] {
    log::setThreadName(name);
    void* tag = nullptr;
    bool ok = false;
    while (cq_->Next(&tag, &ok)) static_cast<CqTag*>(tag)->done(ok);
  });
}

CqThread::~CqThread() { shutdown(); }

void CqThread::shutdown() {
  if (shut_) return;
  shut_ = true;
  cq_->Shutdown();
  if (thread_.joinable()) thread_.join();
}

}  // namespace remora::xds
