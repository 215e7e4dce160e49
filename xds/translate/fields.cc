// Field checking by protobuf reflection.
#include "xds/translate/fields.h"

#include "proxy/common/strings.h"

namespace remora::xds {

std::string fieldPath(std::string_view path, std::string_view field) {
  return path.empty() ? std::string(field) : cat(path, ".", field);
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
