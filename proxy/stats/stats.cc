// Scope registry.
#include "proxy/stats/stats.h"

namespace remora::stats {

void Store::add(const std::shared_ptr<Scope>& scope) {
  std::lock_guard<std::mutex> lock(mu_);
  scopes_.push_back(scope);
}

void Store::forEach(const std::function<void(const Scope&)>& fn) {
  std::vector<std::shared_ptr<Scope>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    size_t out = 0;
    for (size_t i = 0; i < scopes_.size(); ++i) {
      if (auto s = scopes_[i].lock()) {
        live.push_back(std::move(s));
        // No self-move: libstdc++'s weak_ptr move-assignment empties a self-moved pointer.
        if (out != i) scopes_[out] = std::move(scopes_[i]);
        ++out;
      }
    }
    scopes_.resize(out);
    for (auto it = by_prefix_.begin(); it != by_prefix_.end();) {
      it = it->second.expired() ? by_prefix_.erase(it) : std::next(it);
    }
  }
  for (const auto& s : live) fn(*s);
}

}  // namespace remora::stats
