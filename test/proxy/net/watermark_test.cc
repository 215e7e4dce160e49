// Watermark transitions: pause exactly once above high, resume exactly once at low.
#include "proxy/net/watermark.h"

#include <catch2/catch.hpp>

namespace remora::net {
namespace {

TEST_CASE("crossing above high fires once - draining to low fires once", "[watermark]") {
  Watermark w(100);
  CHECK(w.low() == 50);
  CHECK_FALSE(w.add(100));  // at high is not above it
  CHECK_FALSE(w.above());
  CHECK(w.add(1));
  CHECK(w.above());
  CHECK_FALSE(w.add(500));  // already above: no second event
  CHECK_FALSE(w.remove(500));
  CHECK(w.bytes() == 101);
  CHECK_FALSE(w.remove(50));  // 51 > low
  CHECK(w.remove(1));         // 50 == low: resume
  CHECK_FALSE(w.above());
  CHECK_FALSE(w.remove(50));  // below low without having been above: nothing
  CHECK(w.bytes() == 0);
}

TEST_CASE("no flapping between low and high", "[watermark]") {
  Watermark w(1000);
  int pauses = 0, resumes = 0;
  for (int i = 0; i < 100; ++i) {
    if (w.add(1100)) ++pauses;     // above high
    if (w.add(100)) ++pauses;      // still above: nothing
    if (w.remove(500)) ++resumes;  // 700: between low and high, still paused
    if (w.remove(200)) ++resumes;  // 500: at low, resume
    if (w.add(400)) ++pauses;      // 900: under high again, nothing
    if (w.remove(900)) ++resumes;  // empty, not paused: nothing
  }
  CHECK(pauses == 100);
  CHECK(resumes == 100);
  CHECK(w.bytes() == 0);
}

TEST_CASE("removing more than queued clamps at zero", "[watermark]") {
  Watermark w(10);
  w.add(5);
  w.remove(50);
  CHECK(w.bytes() == 0);
}

}  // namespace
}  // namespace remora::net
