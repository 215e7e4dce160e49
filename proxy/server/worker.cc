// Worker thread lifecycle.
#include "proxy/server/worker.h"

#include "proxy/common/log.h"
#include "proxy/common/strings.h"
#include "proxy/server/listener.h"

namespace remora::server {

Worker::Worker(uint32_t index) : index_(index), loop_(cat("worker_", index)) {}

Worker::~Worker() {
  if (thread_.joinable()) thread_.join();
}

void Worker::start() {
  thread_ = std::thread([this] {
    log::setThreadName(loop_.name());
    loop_.run();
    clean_exit_ = loop_.close();
  });
}

bool Worker::join() {
  if (thread_.joinable()) thread_.join();
  return clean_exit_;
}

void Worker::addListener(std::shared_ptr<const Listener> listener, int fd) {
  auto* active = new ActiveListener(*this, std::move(listener));
  auto status = active->listen(fd);
  if (!status.ok()) {
    REMORA_LOG(Error, "listener %s: %s", active->listener().name(), status.ToString());
    active->close();
    return;
  }
  listeners_.push_back(active);
}

void Worker::stopListeners(std::function<void()> on_drained) {
  for (ActiveListener* l : listeners_) l->close();
  listeners_.clear();
  on_drained_ = std::move(on_drained);
  checkDrained();
}

void Worker::addSession(Session* s, std::shared_ptr<const Listener> listener) {
  sessions_.add(s);
  if (listener) listener->stats(index_).downstream_cx_active.add();
  s->listener_ = std::move(listener);
}

void Worker::removeSession(Session* s) {
  sessions_.remove(s);
  if (s->listener_) {
    ListenerStats& st = s->listener_->stats(index_);
    st.downstream_cx_active.sub();
    st.downstream_cx_destroy.inc();
    s->listener_.reset();
  }
  checkDrained();
}

void Worker::checkDrained() {
  if (on_drained_ && sessions_.size() == 0) {
    auto cb = std::move(on_drained_);
    on_drained_ = nullptr;
    cb();
  }
}

void Worker::shutdown() {
  for (ActiveListener* l : listeners_) l->close();
  listeners_.clear();
  on_drained_ = nullptr;
  sessions_.abortAll();
  loop_.shutdown();
}

}  // namespace remora::server
