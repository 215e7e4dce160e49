// Field checking by protobuf reflection.
#include "xds/translate/fields.h"

#include "proxy/common/strings.h"

namespace remora::xds {

std::string fieldPath(std::string_view path, std::string_view field) {
  return path.empty() ? std::string(field) : cat(path, ".", field);
}

absl::StatusOr<config::Duration> adsSourceFetchTimeout(
    const envoy::config::core::v3::ConfigSource& src, std::string_view path, std::string_view what,
    TranslateNotes* notes) {
  if (auto s = checkFields(src, path, {"ads", "resource_api_version", "initial_fetch_timeout"}, {},
                           notes);
      !s.ok()) {
    return s;
  }
  if (!src.has_ads()) {
    return absl::InvalidArgumentError(cat(path, ": only ads is supported as the source of ", what));
  }
  // AUTO means V3 in every Envoy that still speaks xDS v3; V2 is gone from Envoy too.
  if (src.resource_api_version() != envoy::config::core::v3::AUTO &&
      src.resource_api_version() != envoy::config::core::v3::V3) {
    return absl::InvalidArgumentError(cat(path, ".resource_api_version: only V3 is supported"));
  }
  if (!src.has_initial_fetch_timeout()) return config::Duration(std::chrono::seconds(15));
  const auto& d = src.initial_fetch_timeout();
  if (d.seconds() < 0 || d.nanos() < 0 || d.seconds() > 315'576'000'000LL) {
    return absl::InvalidArgumentError(cat(path, ".initial_fetch_timeout: out of range"));
  }
  return config::Duration(d.seconds() * 1000 + d.nanos() / 1'000'000);
}

std::string indexPath(std::string_view path, std::string_view field, size_t index) {
  return cat(fieldPath(path, field), "[", index, "]");
}

absl::Status checkFields(const google::protobuf::Message& msg, std::string_view path,
                         std::initializer_list<std::string_view> supported,
                         std::initializer_list<std::string_view> ignored, TranslateNotes* notes) {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  msg.GetReflection()->ListFields(msg, &fields);
  for (const auto* f : fields) {
    std::string_view name(f->name().data(), f->name().size());
    bool ok = false;
    for (std::string_view s : supported) ok = ok || s == name;
    if (ok) continue;
    bool skip = false;
    for (std::string_view s : ignored) skip = skip || s == name;
    if (skip) {
      if (notes != nullptr) notes->ignored.push_back(fieldPath(path, name));
      continue;
    }
    return absl::InvalidArgumentError(cat(fieldPath(path, name), ": not supported by remora"));
  }
  // Fields this build's descriptors do not know (a newer control plane) are just as unknown.
  if (!msg.GetReflection()->GetUnknownFields(msg).empty()) {
    return absl::InvalidArgumentError(
        cat(path.empty() ? std::string(msg.GetDescriptor()->full_name()) : std::string(path),
            ": has fields unknown to remora's API version"));
  }
  return absl::OkStatus();
}

}  // namespace remora::xds
