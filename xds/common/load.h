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
// Every document of a YAML stream ("---" separated), as JSON. Documents that are JSON are
// taken as they are; YAML is converted in a child process with time and memory limits.
absl::StatusOr<std::vector<std::string>> documentsAsJson(std::string_view text);

// The YAML conversion itself, in this process (for the fuzzer) or in a limited child.
absl::StatusOr<std::vector<std::string>> yamlDocumentsInProcess(std::string_view text);
absl::StatusOr<std::vector<std::string>> yamlDocumentsIsolated(std::string_view text,
                                                               unsigned seconds = 10);
// For a process that converts YAML often (remora-control reloading files): from now on the
// conversions go to one long-lived helper child, under the same limits, instead of a fork per
// call (a fork of a large process costs milliseconds). A helper that hangs or dies is killed
// and replaced on the next call. Call it early, while the process is small and single-threaded.
void useYamlHelper();

// Parses one document into `msg`; errors say where.
absl::Status parseMessage(std::string_view text, google::protobuf::Message* msg);
absl::Status parseJson(std::string_view json, google::protobuf::Message* msg);

absl::StatusOr<std::string> readFile(const std::string& path);

}  // namespace remora::xds
