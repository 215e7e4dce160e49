// High/low watermark accounting for a queue of bytes: reports the moment the queue rises above
// the high mark and the moment it drains back to the low mark (half the high one), so a
// producer can be paused and resumed without flapping.
#pragma once

#include <cstddef>
#include <cstdint>

namespace remora::net {

class Watermark {
 public:
  explicit Watermark(size_t high) : high_(high), low_(high / 2) {}

  // Adds n bytes; true exactly when this call crossed above the high watermark.
  bool add(size_t n) {
    bytes_ += n;
    if (!above_ && bytes_ > high_) {
      above_ = true;
      return true;
    }
    return false;
  }
  // Removes n bytes; true exactly when this call brought the queue back to the low watermark.
  bool remove(size_t n) {
    bytes_ = n > bytes_ ? 0 : bytes_ - n;
    if (above_ && bytes_ <= low_) {
      above_ = false;
      return true;
    }
    return false;
  }

  size_t bytes() const { return bytes_; }
  bool above() const { return above_; }
  size_t high() const { return high_; }
  size_t low() const { return low_; }

 private:
  size_t high_;
  size_t low_;
  size_t bytes_ = 0;
  bool above_ = false;
};

}  // namespace remora::net
