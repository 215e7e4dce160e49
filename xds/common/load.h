// Reading Envoy resources from text: YAML or JSON, protobuf JSON field names in either
// spelling (filter_chains / filterChains), Any as {"@type": ...}. Unknown fields are errors.
#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace remora::xds {

// One YAML document (or JSON text) as JSON.
absl::StatusOr<std::string> yamlToJson(std::string_view yaml);
// Every document of a YAML stream ("---" separated), as JSON. JSON text is one document.
absl::StatusOr<std::vector<std::string>> documentsAsJson(std::string_view text);

// Parses one document into `msg`; errors say where.
absl::Status parseMessage(std::string_view text, google::protobuf::Message* msg);
absl::Status parseJson(std::string_view json, google::protobuf::Message* msg);

absl::StatusOr<std::string> readFile(const std::string& path);

}  // namespace remora::xds
