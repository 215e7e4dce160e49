// Template parts of the harness.
#pragma once

#include <sched.h>
#include <unistd.h>

#include <future>
#include <thread>

namespace remora::integration {

template <typename Fn>
auto Netns::run(Fn fn) -> decltype(fn()) {
  using R = decltype(fn());
  std::promise<R> result;
  std::thread t([&] {
    int fd = enterThread();
    if constexpr (std::is_void_v<R>) {
      fn();
      result.set_value();
    } else {
      result.set_value(fn());
    }
    if (fd >= 0) close(fd);
  });
  t.join();
  return result.get_future().get();
}

}  // namespace remora::integration
