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

size_t SessionList::abortIf(const std::function<bool(const Session&)>& pred) {
  // abort() removes the session from the list: collect first.
  std::vector<Session*> chosen;
  for (Session* s = head_; s != nullptr; s = s->next_) {
    if (pred(*s)) chosen.push_back(s);
  }
  for (Session* s : chosen) s->abort();
  return chosen.size();
}

void SessionList::drainIf(const std::function<bool(const Session&)>& pred) {
  std::vector<Session*> chosen;
  for (Session* s = head_; s != nullptr; s = s->next_) {
    if (pred(*s)) chosen.push_back(s);
  }
  for (Session* s : chosen) s->drain();
}

}  // namespace remora::server
