// Session list.
#include "proxy/server/session.h"

#include <vector>

namespace remora::server {

void SessionList::add(Session* s) {
  s->prev_ = nullptr;
  s->next_ = head_;
  if (head_ != nullptr) head_->prev_ = s;
  head_ = s;
  ++size_;
}

void SessionList::remove(Session* s) {
  if (s->prev_ != nullptr) {
    s->prev_->next_ = s->next_;
  } else if (head_ == s) {
    head_ = s->next_;
  } else {
    return;  // not in the list
  }
  if (s->next_ != nullptr) s->next_->prev_ = s->prev_;
  s->prev_ = s->next_ = nullptr;
  --size_;
}

void SessionList::abortAll() {
  // abort() may remove the session (and others) from the list: snapshot first.
  std::vector<Session*> all;
  all.reserve(size_);
  for (Session* s = head_; s != nullptr; s = s->next_) all.push_back(s);
  for (Session* s : all) s->abort();
}

}  // namespace remora::server
