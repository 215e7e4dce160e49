// Helpers the translation tests share: an Envoy message from YAML, and a status's message.
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "absl/status/status.h"
#include "xds/common/load.h"

namespace remora::xds::testutil {

template <typename T>
T parse(const std::string& yaml) {
  T msg;
  auto st = parseMessage(yaml, &msg);
  INFO(st.ToString());
  REQUIRE(st.ok());
  return msg;
}

inline std::string errorOf(const absl::Status& s) { return std::string(s.message()); }

}  // namespace remora::xds::testutil
